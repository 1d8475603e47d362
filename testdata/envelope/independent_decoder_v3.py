# Independent decoder of envelope/FORMAT.md section 2.9 (version-3 headers:
# generation, key generation, older keys), written from the spec alone. It
# checks every vector of header_v3.json (recovery stanzas only): success
# vectors give the file key, the generations and the older keys; failing
# vectors fail with the class named. Run: python3 testdata/envelope/independent_decoder_v3.py
# (needs the "cryptography" package).
import json, hmac, hashlib, os
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidTag
HERE = os.path.dirname(os.path.abspath(__file__))

class Fail(Exception):
    pass

def hkdf_extract(salt, ikm):
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()

def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]

def binding(u, l):
    return bytes([len(u)]) + u + bytes([len(l)]) + l

def parse(h):
    # 2.1, for version 3
    if len(h) > 73348: raise Fail("ErrTooLarge")
    if len(h) < 6 or h[:4] != b"PVEH": raise Fail("ErrMalformed")
    if h[4] != 3 or h[5] != 1: raise Fail("ErrVersion")
    if len(h) < 19: raise Fail("ErrMalformed")
    gen = int.from_bytes(h[6:14], "big")
    kgen = int.from_bytes(h[14:18], "big")
    if gen == 0: raise Fail("ErrMalformed")
    n = h[18]
    if n == 0: raise Fail("ErrMalformed")
    if n > 16: raise Fail("ErrTooLarge")
    o, st, pw = 19, [], 0
    def take(k):
        nonlocal o
        if o + k > len(h): raise Fail("ErrMalformed")
        b = h[o:o + k]; o += k
        return b
    for _ in range(n):
        tl = take(1)[0]
        if tl == 0 or tl > 32: raise Fail("ErrMalformed")
        t = take(tl)
        k = take(take(1)[0])
        bl = int.from_bytes(take(2), "big")
        if bl > 4096: raise Fail("ErrTooLarge")
        b = take(bl)
        if bl == 0 or any(c not in b"abcdefghijklmnopqrstuvwxyz0123456789._-" for c in t): raise Fail("ErrMalformed")
        if t == b"password":
            pw += 1
            if pw > 1: raise Fail("ErrMalformed")
        st.append((t, k, b))
    m = take(1)[0]
    if m > 32: raise Fail("ErrTooLarge")
    older, prev = [], kgen
    for _ in range(m):
        g = int.from_bytes(take(4), "big")
        w = take(92)
        if g >= prev: raise Fail("ErrMalformed")
        prev = g
        older.append((g, w))
    com, mac = take(32), take(32)
    if o != len(h): raise Fail("ErrMalformed")
    return gen, kgen, st, older, com, mac, len(h) - 64

def open_wrap(kek, salt_label, ad, w, nomatch):
    okm = hkdf_expand(hkdf_extract(salt_label, kek), ad, 64)
    if not hmac.compare_digest(okm[32:], w[:32]): raise Fail(nomatch)
    try:
        return AESGCM(okm[:32]).decrypt(w[32:44], w[44:], ad)
    except InvalidTag:
        raise Fail("ErrHeaderAuth")

def run(v):
    bnd = binding(v["user_id"].encode(), v["label"].encode())
    h = bytes.fromhex(v["header"])
    gen, kgen, st, older, com, mac, body_end = parse(h)
    rk = bytes.fromhex(v["recovery_key"])
    key = None
    for t, k, b in st:
        if t != b"recovery": continue
        if k or len(b) != 124: raise Fail("ErrMalformed")
        kek = hkdf_expand(hkdf_extract(b[:32], rk), b"piivault/envelope/v1/recovery", 32)
        ad = b"PVEH\x01\x01" + bytes([len(t)]) + t + b"\x00" + (32).to_bytes(2, "big") + b[:32] + bnd
        try:
            key = open_wrap(kek, b"piivault/envelope/v1/stanza", ad, b[32:], "ErrNoMatch")
            break
        except Fail as e:
            if str(e) != "ErrNoMatch": raise
    if key is None: raise Fail("ErrNoMatch")
    prk = hkdf_extract(b"", key)
    if not hmac.compare_digest(hkdf_expand(prk, b"piivault/envelope/v1/header-commitment", 32), com): raise Fail("ErrCommitment")
    mk = hkdf_expand(prk, b"piivault/envelope/v1/header-mac", 32)
    if not hmac.compare_digest(hmac.new(mk, bnd + h[:len(h) - 32], hashlib.sha256).digest(), mac): raise Fail("ErrHeaderAuth")
    keys = []
    for g, w in older:
        ad = b"PVEH\x03\x01" + bytes([9]) + b"older-key" + g.to_bytes(4, "big") + bnd
        keys.append((g, open_wrap(key, b"piivault/envelope/v3/older-key", ad, w, "ErrHeaderAuth")))
    return key, gen, kgen, keys

vs = json.load(open(os.path.join(HERE, "header_v3.json")))["vectors"]
n = 0
for v in vs:
    try:
        key, gen, kgen, keys = run(v)
        got = None
    except Fail as e:
        got = str(e)
    if v.get("error"):
        assert got == v["error"], (v["name"], got)
    else:
        assert got is None, (v["name"], got)
        assert key.hex() == v["file_key"] and gen == v["generation"] and kgen == v.get("key_generation", 0), v["name"]
        want = [(o["generation"], o["key"]) for o in v.get("older_keys") or []]
        assert [(g, k.hex()) for g, k in keys] == want, v["name"]
    n += 1
print("independent python decoder (version-3 headers) agrees on", n, "vectors")
