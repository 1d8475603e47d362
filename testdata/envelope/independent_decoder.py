# Independent decoder of envelope/FORMAT.md, written from the spec alone
# (recovery stanzas, header commitment and MAC, records of versions 1 and 3,
# streams). Not part of the Go build; run by hand:
# python3 testdata/envelope/independent_decoder.py (needs the "cryptography"
# package). It checks success, no_match and commitment_failure vectors that
# use recovery keys, every record_v3_* and stream_* vector, and the
# version-1 records of success.json through the version-aware record reader.
import json, hmac, hashlib, os
HERE = os.path.dirname(os.path.abspath(__file__))
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def hkdf_extract(salt, ikm):
    if not salt: salt = b"\0"*32
    return hmac.new(salt, ikm, hashlib.sha256).digest()
def hkdf_expand(prk, info, L):
    out=b""; t=b""; i=1
    while len(out)<L:
        t=hmac.new(prk, t+info+bytes([i]), hashlib.sha256).digest(); out+=t; i+=1
    return out[:L]
def binding(u,l): return bytes([len(u)])+u+bytes([len(l)])+l

def parse_header(h):
    assert h[:4]==b"PVEH" and h[4]==1 and h[5]==1
    n=h[6]; o=7; st=[]
    for _ in range(n):
        tl=h[o]; o+=1; t=h[o:o+tl]; o+=tl
        kl=h[o]; o+=1; k=h[o:o+kl]; o+=kl
        bl=int.from_bytes(h[o:o+2],'big'); o+=2; b=h[o:o+bl]; o+=bl
        st.append((t,k,b))
    return st, h[o:o+32], h[o+32:o+64], o

def stanza_ad(t,k,fields,bnd):
    return b"PVEH\x01\x01"+bytes([len(t)])+t+bytes([len(k)])+k+len(fields).to_bytes(2,'big')+fields+bnd

def open_wrap(kek, ad, w):
    okm=hkdf_expand(hkdf_extract(b"piivault/envelope/v1/stanza", kek), ad, 64)
    if not hmac.compare_digest(okm[32:], w[:32]): return None
    return AESGCM(okm[:32]).decrypt(w[32:44], w[44:], ad)

def run(v):
    bnd=binding(v['user_id'].encode(), v['label'].encode())
    h=bytes.fromhex(v['header']); r=bytes.fromhex(v['record'])
    st, com, mac, o = parse_header(h)
    key=None
    for rk in v.get('recovery_keys') or []:
        rk=bytes.fromhex(rk)
        for t,k,b in st:
            if t!=b"recovery": continue
            salt=b[:32]
            kek=hkdf_expand(hkdf_extract(salt, rk), b"piivault/envelope/v1/recovery", 32)
            key=open_wrap(kek, stanza_ad(t,k,salt,bnd), b[32:])
            if key: break
        if key: break
    if key is None: return "no_match"
    prk=hkdf_extract(b"", key)
    if not hmac.compare_digest(hkdf_expand(prk, b"piivault/envelope/v1/header-commitment", 32), com): return "commitment"
    mk=hkdf_expand(prk, b"piivault/envelope/v1/header-mac", 32)
    if not hmac.compare_digest(hmac.new(mk, bnd+h[:o+32], hashlib.sha256).digest(), mac): return "headerauth"
    assert r[:4]==b"PVER" and r[4]==1 and r[5]==1 and len(r)>=98
    okm=hkdf_expand(hkdf_extract(b"piivault/envelope/v1/record", key), r[:38]+bnd, 64)
    if not hmac.compare_digest(okm[32:], r[38:70]): return "commitment"
    pt=AESGCM(okm[:32]).decrypt(r[70:82], r[82:], r[:70]+bnd)
    return pt

vs=json.load(open(os.path.join(HERE, 'success.json')))['vectors']
n=0
for v in vs:
    if not v.get('recovery_keys'): continue
    pt=run(v); assert pt==bytes.fromhex(v.get('plaintext','')), (v['name'], pt); n+=1
for f,exp in [('no_match','no_match'),('commitment_failure','commitment')]:
    for v in json.load(open(os.path.join(HERE, f'{f}.json')))['vectors']:
        if not v.get('recovery_keys'): continue
        got=run(v); assert got==exp, (v['name'],got); n+=1

# --- version-3 records (FORMAT.md 4, 4.1) and streams (FORMAT.md 11) ---
from cryptography.exceptions import InvalidTag

def open_record_any(key, gen, bnd, r):
    """FORMAT.md section 4: the common checks, then 4.1 or 4.2. Returns the
    plaintext or an error class name."""
    if len(r) > (1<<24)+98: return "ErrTooLarge"
    if len(r) < 70: return "ErrMalformed"
    if r[:4]!=b"PVER": return "ErrMalformed"
    if r[4] not in (1,3) or r[5]!=1: return "ErrVersion"
    if r[4]==1 and len(r)<98: return "ErrMalformed"
    if r[4]==3 and len(r)>(1<<24)+70: return "ErrTooLarge"
    rgen = 0 if r[4]==1 else int.from_bytes(r[6:10],'big')
    if rgen!=gen: return "ErrGeneration"
    if r[4]==1:
        okm=hkdf_expand(hkdf_extract(b"piivault/envelope/v1/record", key), r[:38]+bnd, 64)
        if not hmac.compare_digest(okm[32:], r[38:70]): return "ErrCommitment"
        enc, nonce, ct, ad = okm[:32], r[70:82], r[82:], r[:70]+bnd
    else:
        prk=hkdf_extract(b"piivault/envelope/v3/record", key)
        g=gen.to_bytes(4,'big')
        enc=hkdf_expand(prk, b"piivault/envelope/v3/record-gcm"+g, 32)
        ck=hkdf_expand(prk, b"piivault/envelope/v3/record-commitment"+g, 32)
        nonce=r[42:54]
        if not hmac.compare_digest(hmac.new(ck, r[:10]+nonce+bnd, hashlib.sha256).digest(), r[10:42]): return "ErrCommitment"
        ct, ad = r[54:], r[:10]+bnd
    try: return AESGCM(enc).decrypt(nonce, ct, ad)
    except InvalidTag: return "ErrPayloadAuth"

def open_stream(key, gen, bnd, s):
    """FORMAT.md section 11. Returns (released plaintext, None or error class)."""
    if len(s) < 75: return b"", "ErrMalformed"
    h=s[:75]
    if h[:4]!=b"PVES": return b"", "ErrMalformed"
    if h[4]!=1 or h[5]!=1: return b"", "ErrVersion"
    if h[10]>24: return b"", "ErrTooLarge"
    if h[10]<4: return b"", "ErrMalformed"
    if int.from_bytes(h[6:10],'big')!=gen: return b"", "ErrGeneration"
    okm=hkdf_expand(hkdf_extract(b"piivault/envelope/v1/stream", key), h[:43]+bnd, 64)
    if not hmac.compare_digest(okm[32:], h[43:75]): return b"", "ErrCommitment"
    aead=AESGCM(okm[:32]); size=1<<h[10]; full=12+size+16
    out=b""; rest=s[75:]; i=0
    while True:
        last = len(rest) <= full
        c = rest[:full]; rest = rest[len(c):]
        if len(c) < 28: return out, "ErrPayloadAuth"
        try: pt=aead.decrypt(c[:12], c[12:], i.to_bytes(8,'big')+bytes([1 if last else 0]))
        except InvalidTag: return out, "ErrPayloadAuth"
        if last and not pt and i>0: return out, "ErrMalformed"
        out+=pt; i+=1
        if last: return out, None

def load(name): return json.load(open(os.path.join(HERE, name+'.json')))['vectors']
for f in ('record_v3_success','record_v3_failure'):
    for v in load(f):
        got=open_record_any(bytes.fromhex(v['key']), v['generation'], binding(v['user_id'].encode(), v['label'].encode()), bytes.fromhex(v['record']))
        want=bytes.fromhex(v.get('plaintext','')) if f.endswith('success') else v['error']
        assert got==want, (f, v['name'], got, want); n+=1
# The version-1 records of success.json, opened as records of generation 0.
for v in vs:
    got=open_record_any(bytes.fromhex(v['file_key']), 0, binding(v['user_id'].encode(), v['label'].encode()), bytes.fromhex(v['record']))
    assert got==bytes.fromhex(v.get('plaintext','')), (v['name'], got); n+=1
for f in ('stream_success','stream_header_failure','stream_commitment_failure','stream_payload_failure'):
    for v in load(f):
        out,err=open_stream(bytes.fromhex(v['key']), v['generation'], binding(v['user_id'].encode(), v['label'].encode()), bytes.fromhex(v['stream']))
        if f=='stream_success': assert err is None and out==bytes.fromhex(v.get('plaintext','')), (v['name'], err)
        else: assert err==v['error'] and out==bytes.fromhex(v.get('released','')), (f, v['name'], err, out)
        n+=1
print("independent python decoder agrees on", n, "vectors")
