# Independent decoder of envelope/FORMAT.md version 1, written from the spec alone
# (recovery stanzas, header commitment and MAC, records). Not part of the Go
# build; run by hand: python3 testdata/envelope/independent_decoder.py
# (needs the "cryptography" package). It checks success, no_match and
# commitment_failure vectors that use recovery keys.
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
print("independent python decoder agrees on", n, "vectors")
