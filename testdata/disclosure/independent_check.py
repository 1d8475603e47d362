#!/usr/bin/env python3
"""An independent reader of disclosure packages, written from
vault/disclosure/FORMAT.md alone (not from the Go code), run against
testdata/disclosure/v2/*.json.

For every vector it runs the checks of FORMAT.md section 5.1 in order and
compares the outcome with the file's `expect`. Signatures are verified with
pyca/cryptography (Ed25519, ECDSA P-256, ML-DSA-65). HPKE is opened with
pyca/cryptography for the DHKEM(X25519) and DHKEM(P-256) suites, whose
partner keys this script derives itself (RFC 9180 section 7.1.3
DeriveKeyPair); for the two ML-KEM hybrids (no DeriveKeyPair in
pyca/cryptography) it checks everything but the decryption and says so.

Run: python3 testdata/disclosure/independent_check.py   (needs cryptography >= 48)
"""

import glob
import hashlib
import hmac
import json
import os
import re
import struct
import sys
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SIG_SIZE = {1: 64, 2: 64, 3: 64 + 3309}
ENC_SIZE = {0x0020: 32, 0x647A: 1120, 0x0010: 65, 0x0050: 1153}


class Refused(Exception):
    def __init__(self, outcome):
        self.outcome = outcome


def sha256(b):
    return hashlib.sha256(b).digest()


# --- RFC 9180 DeriveKeyPair, for the two DHKEMs -------------------------
def labeled_extract(suite_id, salt, label, ikm):
    return hmac.new(salt or b"\x00" * 32, b"HPKE-v1" + suite_id + label + ikm, hashlib.sha256).digest()


def labeled_expand(suite_id, prk, label, info, length):
    labeled = struct.pack(">H", length) + b"HPKE-v1" + suite_id + label + info
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + labeled + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def derive_key_pair(kem, ikm):
    suite_id = b"KEM" + struct.pack(">H", kem)
    prk = labeled_extract(suite_id, b"", b"dkp_prk", ikm)
    if kem == 0x0020:
        return x25519.X25519PrivateKey.from_private_bytes(labeled_expand(suite_id, prk, b"sk", b"", 32))
    if kem == 0x0010:
        for counter in range(256):
            b = bytearray(labeled_expand(suite_id, prk, b"candidate", bytes([counter]), 32))
            sk = int.from_bytes(b, "big")
            if 0 < sk < P256_N:
                return ec.derive_private_key(sk, ec.SECP256R1())
        raise ValueError("DeriveKeyPair failed")
    return None


def public_bytes(key):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if isinstance(key, x25519.X25519PrivateKey):
        return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


# --- section 2 ----------------------------------------------------------
def provider_fingerprint(alg, pub):
    return sha256(b"piivault/disclosure/v2/provider-key\x00" + struct.pack(">H", alg) + pub)


def partner_fingerprint(kem, pub):
    return sha256(b"piivault/disclosure/v2/partner-key\x00" + struct.pack(">H", kem) + pub)


def verify(alg, pub, msg, sig):
    try:
        if alg == 1:
            ed25519.Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        elif alg == 2:
            s = int.from_bytes(sig[32:], "big")
            if s > P256_N // 2:
                return False
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), s)
            key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        elif alg == 3:
            ed25519.Ed25519PublicKey.from_public_bytes(pub[:32]).verify(sig[:64], msg)
            mldsa.MLDSA65PublicKey.from_public_bytes(pub[32:]).verify(sig[64:], msg)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise Refused("malformed")
        out = self.b[self.i : self.i + n]
        self.i += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]


def parse_consent(b):
    r = Reader(b)
    if r.take(4) != b"PVCN" or r.u8() != 2:
        raise Refused("malformed")
    c = {}
    c["partner_id"] = r.take(r.u8())
    c["partner_key"] = r.take(32)
    c["nonce"] = r.take(r.u8())
    c["subject"] = r.take(r.u8())
    c["purpose"] = r.take(r.u16())
    c["given_at"], c["expires_at"] = r.i64(), r.i64()
    n = r.u8()
    names = [r.take(r.u8()) for _ in range(n)]
    if r.i != len(b):
        raise Refused("malformed")
    pid = c["partner_id"]
    ok = 1 <= len(pid) <= 255 and all(0x20 <= x <= 0x7E for x in pid)
    ok = ok and 1 <= len(c["nonce"]) and 1 <= len(c["purpose"]) <= 1024 and 1 <= n <= 32
    ok = ok and c["expires_at"] > c["given_at"] and names == sorted(set(names))
    ok = ok and all(1 <= len(x) <= 64 and all(ch in b"abcdefghijklmnopqrstuvwxyz0123456789_" for ch in x) for x in names)
    try:
        c["subject"].decode("utf-8")
        c["purpose"].decode("utf-8")
    except UnicodeDecodeError:
        ok = False
    if not ok:
        raise Refused("malformed")
    c["names"] = names
    return c


def to_ns(s):
    # RFC 3339 with up to nanoseconds, as Go writes it.
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", s)
    if not m:
        raise ValueError("time " + s)
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    dt = datetime.fromisoformat(m.group(1) + tz).astimezone(timezone.utc)
    return int(dt.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))


def open_package(v, seen):
    """FORMAT.md section 5.1. Returns (attributes or None if not decrypted, note)."""
    pkg = bytes.fromhex(v["package"])
    if len(pkg) > 65536:
        raise Refused("too_large")
    r = Reader(pkg)
    if r.take(4) != b"PVDS":
        raise Refused("malformed")
    if r.u8() != 2:
        raise Refused("unsupported_version")
    alg = r.u16()
    key_id = r.take(32)
    kem, kdf, aead = r.u16(), r.u16(), r.u16()
    if alg not in SIG_SIZE or kem not in ENC_SIZE or kdf != 1 or aead != 2:
        raise Refused("unsupported_suite")
    pkg_id = r.take(16)
    issued, end = r.i64(), r.i64()
    consent = r.take(r.u16())
    header = pkg[: r.i]
    enc = r.take(ENC_SIZE[kem])
    ct_len = r.u16()
    ct = r.take(ct_len)
    body = pkg[: r.i]
    sig = r.take(SIG_SIZE[alg])
    if r.i != len(pkg) or ct_len < 16:
        raise Refused("malformed")
    # 5, 6: the pinned provider key.
    pub = bytes.fromhex(v["provider_public_key"])
    pinned = bytes.fromhex(v["pinned_fingerprint"])
    assert provider_fingerprint(v["provider_alg"], pub) == pinned, "vector: pinned fingerprint does not match its key"
    if alg != v["provider_alg"] or not hmac.compare_digest(key_id, pinned):
        raise Refused("wrong_signer")
    if not verify(alg, pub, b"piivault/disclosure/v2/signature\x00" + body, sig):
        raise Refused("forged")
    # 7 .. 11
    c = parse_consent(consent)
    sk = derive_key_pair(v["partner_kem"], bytes.fromhex(v["partner_ikm"]))
    if c["partner_id"] != v["partner_id"].encode() or kem != v["partner_kem"]:
        raise Refused("wrong_partner")
    if sk is not None and not hmac.compare_digest(c["partner_key"], partner_fingerprint(kem, public_bytes(sk))):
        raise Refused("wrong_partner")
    if not v["nonce"] or not hmac.compare_digest(c["nonce"], v["nonce"].encode()):
        raise Refused("wrong_nonce")
    if not (c["given_at"] <= issued < end <= c["expires_at"]):
        raise Refused("malformed")
    now, skew = to_ns(v["now"]), v["clock_skew_seconds"] * 10**9
    if now + skew < issued:
        raise Refused("not_yet_valid")
    if now - skew >= end:
        raise Refused("expired")
    # 12, 13
    attrs, note = None, ""
    if sk is None:
        note = "HPKE not opened (no DeriveKeyPair for kem 0x%04x here)" % kem
    else:
        suite = hpke.Suite(hpke.KEM.X25519 if kem == 0x20 else hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
        try:
            pt = suite.decrypt(enc + ct, sk, info=b"piivault/disclosure/v2/hpke\x00" + header)
        except Exception:
            raise Refused("decrypt")
        p = Reader(pt)
        if p.take(4) != b"PVDP" or p.u8() != 2 or p.u8() != len(c["names"]):
            raise Refused("malformed")
        attrs = {}
        for want in c["names"]:
            name = p.take(p.u8())
            value = p.take(p.u16())
            if name != want or len(value) > 1024:
                raise Refused("malformed")
            attrs[name.decode()] = value.decode()
        if p.i != len(pt):
            raise Refused("malformed")
    # 14
    if pkg_id.hex() in seen:
        raise Refused("replayed")
    return attrs, note


def main():
    files = sorted(glob.glob(os.path.join(HERE, "v2", "*.json")))
    total = decrypted = 0
    failures = []
    for path in files:
        f = json.load(open(path))
        for v in f["vectors"]:
            total += 1
            try:
                attrs, note = open_package(v, set(v.get("seen_ids") or []))
                got = "success"
            except Refused as e:
                got, attrs, note = e.outcome, None, ""
            tag = "%s/%s" % (f["expect"], v["name"])
            # Tampering is caught by the signature: a "tampered" vector is forged.
            want = "forged" if f["expect"] == "tampered" else f["expect"]
            if got != want:
                failures.append("%s: got %s" % (tag, got))
            elif got == "success" and attrs is not None:
                decrypted += 1
                if attrs != v["attributes"]:
                    failures.append("%s: attributes %r" % (tag, attrs))
            if note:
                print("  %s: %s" % (tag, note))
    for x in failures:
        print("FAIL", x)
    print("independent_check: %d vectors, %d agree, %d success vectors decrypted here" % (total, total - len(failures), decrypted))
    if failures or total == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
