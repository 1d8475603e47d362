package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
)

// GF(2^128) arithmetic in GCM's bit order (NIST SP 800-38D, algorithm 1),
// just enough to build a multi-key collision: test code, not constant time.
type gf struct{ hi, lo uint64 }

func gfFromBytes(b []byte) gf {
	return gf{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

func (x gf) bytes() []byte {
	b := binary.BigEndian.AppendUint64(nil, x.hi)
	return binary.BigEndian.AppendUint64(b, x.lo)
}

func (x gf) add(y gf) gf { return gf{x.hi ^ y.hi, x.lo ^ y.lo} }

func (x gf) mul(y gf) gf {
	var z gf
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = x.hi >> (63 - i) & 1
		} else {
			bit = x.lo >> (127 - i) & 1
		}
		if bit == 1 {
			z = z.add(v)
		}
		carry := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		if carry == 1 {
			v.hi ^= 0xe1 << 56
		}
	}
	return z
}

// inv returns x^(2^128-2), the inverse of a non-zero x.
func (x gf) inv() gf {
	r := gf{hi: 1 << 63} // the field's 1
	for i := 0; i < 127; i++ {
		r = r.mul(r).mul(x)
	}
	return r.mul(r)
}

// ghash is GHASH_H(ad, ct) of SP 800-38D.
func ghash(h gf, ad, ct []byte) gf {
	var y gf
	blocks := func(b []byte) {
		for len(b) > 0 {
			var blk [16]byte
			n := copy(blk[:], b)
			b = b[n:]
			y = y.add(gfFromBytes(blk[:])).mul(h)
		}
	}
	blocks(ad)
	blocks(ct)
	var l [16]byte
	binary.BigEndian.PutUint64(l[:8], uint64(len(ad))*8)
	binary.BigEndian.PutUint64(l[8:], uint64(len(ct))*8)
	return y.add(gfFromBytes(l[:])).mul(h)
}

// gcmCollision returns a two-block ciphertext and tag that AES-GCM accepts
// under both k1 and k2 with the given nonce and associated data: the
// multi-key collision of Dodis, Grubbs, Ristenpart and Woodage (CRYPTO 2018)
// and Len, Grubbs and Ristenpart (USENIX Security 2021), found by solving
// GHASH's linear equation for the first block.
func gcmCollision(t *testing.T, k1, k2, nonce, ad []byte) (ct, tag []byte) {
	t.Helper()
	hAndMask := func(k []byte) (gf, gf) {
		b, err := aes.NewCipher(k)
		if err != nil {
			t.Fatal(err)
		}
		var h, j0 [16]byte
		b.Encrypt(h[:], h[:])
		copy(j0[:], nonce)
		j0[15] = 1
		b.Encrypt(j0[:], j0[:])
		return gfFromBytes(h[:]), gfFromBytes(j0[:])
	}
	h1, e1 := hAndMask(k1)
	h2, e2 := hAndMask(k2)
	c2 := bytes.Repeat([]byte{0x5a}, 16)
	base := append(make([]byte, 16), c2...) // C1 = 0
	// GHASH is linear in C1 with coefficient H^3 (C1, C2, lengths follow).
	rhs := ghash(h1, ad, base).add(ghash(h2, ad, base)).add(e1).add(e2)
	h1c, h2c := h1.mul(h1).mul(h1), h2.mul(h2).mul(h2)
	c1 := rhs.mul(h1c.add(h2c).inv())
	ct = append(c1.bytes(), c2...)
	return ct, ghash(h1, ad, ct).add(e1).bytes()
}

func rawGCMOpen(t *testing.T, key, nonce, sealed, ad []byte) ([]byte, error) {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		fipstest.Skip(t, fipstest.CallerGCMNonce)
		t.Fatal(err)
	}
	return g.Open(nil, nonce, sealed, ad)
}

// recordSubkeys recomputes a record's encryption key and commitment with
// crypto/hkdf, independently of RecordKey's precomputed HMAC.
func recordSubkeys(t *testing.T, key, hdr38 []byte, b Binding) (encKey, commitment []byte) {
	t.Helper()
	prk, err := hkdf.Extract(sha256.New, key, []byte(labelRecordSalt))
	if err != nil {
		t.Fatal(err)
	}
	okm, err := hkdf.Expand(sha256.New, prk, string(appendBinding(bytes.Clone(hdr38), b)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return okm[:32], okm[32:]
}

// TestRecordRefusesGCMCiphertextValidUnderTwoKeys builds, for two file
// keys, a record whose AES-GCM part opens under both derived keys (to two
// different plaintexts: plain AES-GCM is not key-committing), and shows that
// the record format refuses it under the second key: the commitment is
// checked before decryption.
func TestRecordRefusesGCMCiphertextValidUnderTwoKeys(t *testing.T) {
	r := newDetReader("collision")
	key1, _ := NewKey(r)
	key2, _ := NewKey(r)
	hdr := append([]byte(recordMagic), Version1, SuiteAES256GCM)
	hdr = append(hdr, make([]byte, RecordSaltSize)...)
	r.Read(hdr[6:])
	enc1, com1 := recordSubkeys(t, key1, hdr, bindPII)
	enc2, _ := recordSubkeys(t, key2, hdr, bindPII)
	hdr = append(hdr, com1...)
	ad := appendBinding(bytes.Clone(hdr), bindPII)
	nonce := make([]byte, gcmNonceSize)
	r.Read(nonce)
	ct, tag := gcmCollision(t, enc1, enc2, nonce, ad)
	sealed := append(ct, tag...)

	p1, err1 := rawGCMOpen(t, enc1, nonce, sealed, ad)
	p2, err2 := rawGCMOpen(t, enc2, nonce, sealed, ad)
	if err1 != nil || err2 != nil || bytes.Equal(p1, p2) {
		t.Fatalf("collision not built: %v %v", err1, err2)
	}

	record := append(append(hdr, nonce...), sealed...)
	rk1, _ := NewRecordKey(key1, nil)
	rk2, _ := NewRecordKey(key2, nil)
	if got, err := rk1.Open(nil, bindPII, record); err != nil || !bytes.Equal(got, p1) {
		t.Fatalf("key 1: %v", err)
	}
	if got, err := rk2.Open(nil, bindPII, record); !errors.Is(err, ErrCommitment) || got != nil {
		t.Fatalf("key 2 opened the colliding record: %x, %v", got, err)
	}
}

// TestPasswordWrapRefusesGCMCiphertextValidUnderTwoKEKs is the
// partitioning-oracle case (Len, Grubbs and Ristenpart 2021): a wrapped key
// whose AES-GCM part opens under the keys derived from two passwords. The
// committing wrap reports no match for the second password without
// decrypting, so one stanza tests one password guess, never two.
func TestPasswordWrapRefusesGCMCiphertextValidUnderTwoKEKs(t *testing.T) {
	r := newDetReader("partition")
	kek1, _ := NewKey(r)
	kek2, _ := NewKey(r)
	ad := stanzaAD(TypePassword, nil, []byte("params and salt"), bindJane)
	enc1, com1 := commitKeys(kek1, labelStanzaSalt, ad)
	enc2, _ := commitKeys(kek2, labelStanzaSalt, ad)
	nonce := make([]byte, gcmNonceSize)
	r.Read(nonce)
	ct, tag := gcmCollision(t, enc1, enc2, nonce, ad)
	sealed := append(ct, tag...)
	if _, err := rawGCMOpen(t, enc2, nonce, sealed, ad); err != nil {
		t.Fatal("collision not built")
	}
	wrapped := append(append(bytes.Clone(com1), nonce...), sealed...)
	if key, err := openKey(kek1, labelStanzaSalt, ad, wrapped); err != nil || len(key) != KeySize {
		t.Fatalf("kek 1: %v", err)
	}
	if key, err := openKey(kek2, labelStanzaSalt, ad, wrapped); !errors.Is(err, ErrNoMatch) || key != nil {
		t.Fatalf("kek 2 unwrapped the colliding stanza: %v", err)
	}
}

// TestRecordSubkeysAreHKDFExpand checks RecordKey's precomputed HMAC
// against crypto/hkdf on the version-1 golden records:
// encKey || commitment = HKDF-Expand(PRK, info, 64).
func TestRecordSubkeysAreHKDFExpand(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t, "success") {
		rec := mustHex(t, v.Record)
		b := Binding{UserID: v.UserID, Label: v.Label}
		_, com := recordSubkeys(t, mustHex(t, v.FileKey), rec[:38], b)
		if !bytes.Equal(com, rec[38:70]) {
			t.Fatalf("%s: stored commitment is not HKDF-Expand(PRK, header || binding)[32:64]", v.Name)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no golden records")
	}
}
