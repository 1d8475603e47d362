# Independent decoder of serverkey/FORMAT.md (versions 3 and 1) and
# shred/FORMAT.md (layer versions 3 and 1), written from those pages and
# envelope/FORMAT.md section 4 alone: envelope records of versions 3 and 1,
# the serverkey prefix and key derivations, fingerprints (HMAC and the
# e-mail and phone normalizations), the shred layer and its key table.
# Not part of the Go build; CI runs it:
#   python3 testdata/serverkey/independent_decoder.py
# (needs the "cryptography" package). For every vector of testdata/serverkey
# (both versions) and testdata/shred (both layer versions) it computes the
# outcome and compares it with the file's: plaintext on success, the
# failure class otherwise.
import hashlib, hmac, json, os, sys, unicodedata, base64

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidTag

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def binding(u, l):
    return bytes([len(u)]) + u + bytes([len(l)]) + l


class Fail(Exception):
    def __init__(self, cls):
        self.cls = cls


# --- envelope record (envelope/FORMAT.md section 4), key generation 0 --------

def open_record(key, bnd, r):
    if len(r) > (1 << 24) + 98:
        raise Fail("too_large")
    if len(r) < 70 or r[:4] != b"PVER":
        raise Fail("malformed")
    if r[4] not in (1, 3) or r[5] != 1:
        raise Fail("version")
    if r[4] == 1:
        if len(r) < 98:
            raise Fail("malformed")
        okm = hkdf_expand(hkdf_extract(b"piivault/envelope/v1/record", key), r[:38] + bnd, 64)
        if not hmac.compare_digest(okm[32:], r[38:70]):
            raise Fail("commitment")
        try:
            return AESGCM(okm[:32]).decrypt(r[70:82], r[82:], r[:70] + bnd)
        except InvalidTag:
            raise Fail("payload")
    gen = r[6:10]
    if gen != b"\0\0\0\0":
        raise Fail("generation")
    prk = hkdf_extract(b"piivault/envelope/v3/record", key)
    enc = hkdf_expand(prk, b"piivault/envelope/v3/record-gcm" + gen, 32)
    ck = hkdf_expand(prk, b"piivault/envelope/v3/record-commitment" + gen, 32)
    nonce = r[42:54]
    if not hmac.compare_digest(hmac.new(ck, r[:10] + nonce + bnd, hashlib.sha256).digest(), r[10:42]):
        raise Fail("commitment")
    try:
        return AESGCM(enc).decrypt(nonce, r[54:], r[:10] + bnd)
    except InvalidTag:
        raise Fail("payload")


# --- serverkey (serverkey/FORMAT.md) -----------------------------------------

def prk_of(dk):
    return hkdf_extract(b"piivault/serverkey/v1", dk)


def k_user(dk, kid, uid):
    return hkdf_expand(prk_of(dk), b"attribute\0" + bytes([len(kid)]) + kid + bytes([len(uid)]) + uid, 32)


def k_attr(dk, kid):
    return hkdf_expand(prk_of(dk), b"attribute\0" + kid, 32)


def k_fp(dk, kid):
    return hkdf_expand(prk_of(dk), b"fingerprint\0" + kid, 32)


def valid_kid(kid):
    return 1 <= len(kid) <= 64 and all(0x21 <= c <= 0x7E and c != 0x3A for c in kid)


def serverkey_open(keys, uid, attr, ct):
    """keys: {kid bytes: data key bytes}."""
    if len(ct) > 65704:
        raise Fail("too_large")
    if len(ct) < 6 or ct[:4] != b"PVSK":
        raise Fail("malformed")
    v = ct[4]
    if v not in (1, 3):
        raise Fail("version")
    n = ct[5]
    rest = ct[6:]
    if n == 0 or n > 64 or n > len(rest):
        raise Fail("malformed")
    kid, rec = rest[:n], rest[n:]
    if not valid_kid(kid):
        raise Fail("malformed")
    if len(rec) < (98 if v == 1 else 70):
        raise Fail("malformed")
    if kid not in keys:
        raise Fail("unknown_key")
    dk = keys[kid]
    key = k_attr(dk, kid) if v == 1 else k_user(dk, kid, uid)
    return open_record(key, binding(uid, attr), rec)


def normalize_email(s):
    b = s.encode()
    if len(b) > 320:
        raise Fail("invalid")
    s = unicodedata.normalize("NFC", s.strip())
    at = s.rfind("@")
    if at <= 0 or at == len(s) - 1:
        raise Fail("invalid")
    local, dom = s[:at], s[at + 1:]
    if len(local.encode()) > 64:
        raise Fail("invalid")
    for _ in range(5):
        nxt = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", dom).casefold())
        if nxt == dom:
            break
        dom = nxt
    if dom.endswith("."):
        dom = dom[:-1]
    if "." not in dom or any(l == "" for l in dom.split(".")):
        raise Fail("invalid")
    out = local + "@" + dom
    for ch in out:
        if ch.isspace() or unicodedata.category(ch) == "Cc":
            raise Fail("invalid")
    if len(out.encode()) > 254:
        raise Fail("invalid")
    return out


def normalize_phone(s, cc):
    s = s.strip()
    intl = s.startswith("+")
    if intl:
        s = s[1:]
    d = ""
    for ch in s:
        if ch.isdigit() and ch in "0123456789":
            d += ch
        elif ch in " -.()":
            continue
        else:
            raise Fail("invalid")
    if len(d) > 16:
        raise Fail("invalid")
    if not intl:
        if cc == "1":
            if len(d) == 11 and d[0] == "1":
                d = d[1:]
            if len(d) != 10 or d[0] < "2":
                raise Fail("invalid")
        elif cc != "39" and d.startswith("0"):
            d = d[1:]
        d = cc + d
    if not (7 <= len(d) <= 15) or d[0] == "0":
        raise Fail("invalid")
    return "+" + d


def fingerprint(dk, kid, kind, value):
    v = value.encode()
    msg = b"piivault/serverkey/v1/fingerprint\0" + bytes([len(kind)]) + kind + len(v).to_bytes(2, "big") + v
    mac = hmac.new(k_fp(dk, kid), msg, hashlib.sha256).digest()
    return kid.decode() + ":" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


SK_CLASS = {
    "ErrMalformed": "malformed", "envelope.ErrMalformed": "malformed",
    "ErrVersion": "version", "envelope.ErrVersion": "version",
    "ErrUnknownKey": "unknown_key", "ErrCommitment": "commitment",
    "ErrPayloadAuth": "payload", "ErrTooLarge": "too_large",
    "envelope.ErrGeneration": "generation",
}


def check_serverkey(d):
    n = 0
    for name in ("success", "commitment_failure", "payload_failure", "malformed", "unsupported_version", "unknown_key"):
        with open(os.path.join(d, name + ".json")) as f:
            doc = json.load(f)
        for v in doc["vectors"]:
            keys = {k["id"].encode(): bytes.fromhex(k["data_key"]) for k in v["keys"]}
            for k in v["keys"]:
                dk, kid = bytes.fromhex(k["data_key"]), k["id"].encode()
                assert k_attr(dk, kid).hex() == k["attribute_key"], v["name"]
                assert k_fp(dk, kid).hex() == k["fingerprint_key"], v["name"]
            for k, uk in zip(v["keys"], v.get("user_attribute_keys") or []):
                assert k_user(bytes.fromhex(k["data_key"]), k["id"].encode(), v["user_id"].encode()).hex() == uk, v["name"]
            try:
                pt = serverkey_open(keys, v["user_id"].encode(), v["attribute"].encode(), bytes.fromhex(v["ciphertext"]))
                got = ("ok", pt.hex())
            except Fail as e:
                got = (e.cls, None)
            want = ("ok", v.get("plaintext", "")) if name == "success" else (SK_CLASS[v["error"]], None)
            if got != want:
                sys.exit("serverkey %s/%s/%s: got %s, want %s" % (os.path.basename(d), name, v["name"], got, want))
            n += 1
    with open(os.path.join(d, "fingerprints.json")) as f:
        doc = json.load(f)
    for v in doc["vectors"]:
        try:
            if v["kind"] == "email":
                norm = normalize_email(v["input"])
            else:
                norm = normalize_phone(v["input"], v.get("country_code") or "1")
        except Fail:
            if v.get("error") != "ErrInvalidValue":
                sys.exit("fingerprint %s: refused, want %s" % (v["name"], v.get("normalized")))
            n += 1
            continue
        if v.get("error") or norm != v["normalized"]:
            sys.exit("fingerprint %s: normalized %r, want %r" % (v["name"], norm, v.get("normalized")))
        fps = [fingerprint(bytes.fromhex(k["data_key"]), k["id"].encode(), v["kind"].encode(), norm) for k in v["keys"]]
        if fps != v["fingerprints"]:
            sys.exit("fingerprint %s: %s, want %s" % (v["name"], fps, v["fingerprints"]))
        n += 1
    return n


# --- shred layer (shred/FORMAT.md) ------------------------------------------

SH_CLASS = {
    "ErrShredded": "shredded", "ErrMalformed": "malformed", "ErrNotLayered": "not_layered",
    "envelope.ErrCommitment": "commitment", "envelope.ErrPayloadAuth": "payload",
    "serverkey.ErrDecrypt": "commitment", "envelope.ErrMalformed": "malformed",
}


def shred_open(v):
    keys = {v["data_key_id"].encode(): bytes.fromhex(v["data_key"])}
    table = {r["user_id"].encode(): bytes.fromhex(r["wrapped_key"]) for r in v["key_table"]}
    uid = v["user_id"].encode()
    b = bytes.fromhex(v["layered"])
    attr = v.get("attribute")
    if b[:4] != b"PVSH":
        raise Fail("malformed" if attr else "not_layered")
    if len(b) < 5 or b[4] not in (1, 3):
        raise Fail("malformed")
    maxpt = 65536 if attr else 70263
    if len(b) < 5 + (98 if b[4] == 1 else 70) or len(b) > 5 + 98 + maxpt:
        raise Fail("malformed")
    if uid not in table:
        raise Fail("shredded")
    ku = serverkey_open(keys, uid, b"piivault/shred/user-key", table[uid])
    if len(ku) != 32:
        raise Fail("malformed")
    label = b"piivault/shred/attr/" + attr.encode() if attr else b"piivault/shred/account"
    return open_record(ku, binding(uid, label), b[5:])


def check_shred(d):
    n = 0
    for name in ("success", "shredded", "commitment_failure", "payload_failure", "malformed"):
        with open(os.path.join(d, name + ".json")) as f:
            doc = json.load(f)
        for v in doc["vectors"]:
            try:
                got = ("ok", shred_open(v).hex())
            except Fail as e:
                got = (e.cls, None)
            want = ("ok", v.get("plaintext", "")) if name == "success" else (SH_CLASS[v["error"]], None)
            if got != want:
                sys.exit("shred %s/%s/%s: got %s, want %s" % (os.path.basename(d), name, v["name"], got, want))
            n += 1
    return n


if __name__ == "__main__":
    total = 0
    for d in (HERE, os.path.join(HERE, "v3")):
        total += check_serverkey(d)
    for d in (os.path.join(ROOT, "shred"), os.path.join(ROOT, "shred", "v3")):
        total += check_shred(d)
    print("independent decoder agrees on %d serverkey and shred vectors" % total)
