package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
)

// specRecordV3Keys derives a version-3 record's GCM key and commitment key
// with crypto/hkdf, from FORMAT.md section 4.1 alone.
func specRecordV3Keys(t testing.TB, key []byte, gen uint32) (encKey, commitKey []byte) {
	t.Helper()
	prk, err := hkdf.Extract(sha256.New, key, []byte("piivault/envelope/v3/record"))
	if err != nil {
		t.Fatal(err)
	}
	g := binary.BigEndian.AppendUint32(nil, gen)
	encKey, err = hkdf.Expand(sha256.New, prk, "piivault/envelope/v3/record-gcm"+string(g), 32)
	if err != nil {
		t.Fatal(err)
	}
	commitKey, err = hkdf.Expand(sha256.New, prk, "piivault/envelope/v3/record-commitment"+string(g), 32)
	if err != nil {
		t.Fatal(err)
	}
	return encKey, commitKey
}

func specRecordV3Commitment(commitKey, prefix, nonce []byte, b Binding) []byte {
	m := hmac.New(sha256.New, commitKey)
	m.Write(prefix)
	m.Write(nonce)
	m.Write(appendBinding(nil, b))
	return m.Sum(nil)
}

// TestRecordV3BytesAreWhatFORMATSays rebuilds sealed records byte for byte
// from FORMAT.md with crypto/hkdf, crypto/hmac and crypto/cipher (the nonce
// comes from the same deterministic reader), for several generations and
// sizes: RecordKey's precomputed HMAC states compute the same commitment.
func TestRecordV3BytesAreWhatFORMATSays(t *testing.T) {
	fipstest.Skip(t, fipstest.CallerGCMNonce) // the fast path and the nonce from r
	key := bytes.Repeat([]byte{0x17}, KeySize)
	for _, gen := range []uint32{0, 1, 0xfffffffe} {
		for _, n := range []int{0, 1, 64, 1024} {
			k, err := newRecordKey(key, gen, newDetReader("v3"), false)
			if err != nil {
				t.Fatal(err)
			}
			pt := bytes.Repeat([]byte{0x61}, n)
			rec, err := k.Seal(nil, bindPII, pt)
			if err != nil {
				t.Fatal(err)
			}
			nonce := make([]byte, 12)
			newDetReader("v3").Read(nonce)
			encKey, commitKey := specRecordV3Keys(t, key, gen)
			prefix := append([]byte("PVER\x03\x01"), binary.BigEndian.AppendUint32(nil, gen)...)
			block, _ := aes.NewCipher(encKey)
			g, _ := cipher.NewGCM(block)
			want := append(bytes.Clone(prefix), specRecordV3Commitment(commitKey, prefix, nonce, bindPII)...)
			want = append(want, nonce...)
			want = g.Seal(want, nonce, pt, appendBinding(bytes.Clone(prefix), bindPII))
			if !bytes.Equal(rec, want) {
				t.Fatalf("gen %d, %d bytes:\ngot  %x\nwant %x", gen, n, rec, want)
			}
		}
	}
}

// TestRecordFIPSPathMatchesFastPath: the FIPS 140-3 code path (crypto/hmac
// commitment, crypto/hkdf version-1 subkeys, module-drawn nonces) and the
// precomputed-HMAC path open each other's records.
func TestRecordFIPSPathMatchesFastPath(t *testing.T) {
	fipstest.Skip(t, fipstest.CallerGCMNonce) // the fast path
	key := bytes.Repeat([]byte{0x23}, KeySize)
	fast, _ := newRecordKey(key, 5, nil, false)
	slow, _ := newRecordKey(key, 5, nil, true)
	for _, n := range []int{0, 1, 100} {
		pt := bytes.Repeat([]byte{0x62}, n)
		a, _ := fast.Seal(nil, bindPII, pt)
		b, _ := slow.Seal(nil, bindPII, pt)
		if got, err := slow.Open(nil, bindPII, a); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("fips path opening a fast-path record: %v", err)
		}
		if got, err := fast.Open(nil, bindPII, b); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("fast path opening a fips-path record: %v", err)
		}
	}
	// Version 1 through crypto/hkdf.
	for _, v := range loadVectors(t, "success") {
		k, _ := newRecordKey(mustHex(t, v.FileKey), 0, nil, true)
		got, err := k.Open(nil, Binding{UserID: v.UserID, Label: v.Label}, mustHex(t, v.Record))
		if err != nil || !bytes.Equal(got, mustHex(t, v.Plaintext)) {
			t.Fatalf("%s: version-1 golden record through crypto/hkdf: %v", v.Name, err)
		}
	}
}

// TestRecordOpensOnlyUnderItsGeneration: a record names its generation;
// a key of another generation (same key bytes or not) refuses it with
// ErrGeneration before any other work, and RecordGeneration reads the
// generation without a key.
func TestRecordOpensOnlyUnderItsGeneration(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, KeySize)
	for _, gen := range []uint32{0, 1, 2, 1 << 31, 0xffffffff} {
		k, err := NewRecordKeyForGeneration(key, gen, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k.Generation() != gen {
			t.Fatalf("Generation() = %d, want %d", k.Generation(), gen)
		}
		rec, _ := k.Seal(nil, bindPII, []byte("pii"))
		if g, err := RecordGeneration(rec); err != nil || g != gen {
			t.Fatalf("RecordGeneration = %d, %v; want %d", g, err, gen)
		}
		if got, err := k.Open(nil, bindPII, rec); err != nil || string(got) != "pii" {
			t.Fatalf("gen %d: %v", gen, err)
		}
		for _, other := range []uint32{gen + 1, gen - 1, gen ^ 0x80000000} {
			ko, _ := NewRecordKeyForGeneration(key, other, nil)
			dst := bytes.Repeat([]byte{0x99}, 64)[:0]
			got, err := ko.Open(dst, bindPII, rec)
			if !errors.Is(err, ErrGeneration) || got != nil {
				t.Fatalf("gen %d record under gen %d key: %v", gen, other, err)
			}
		}
	}
	// The generation is authenticated: rewriting it to the key's own
	// generation fails the commitment.
	k1, _ := NewRecordKeyForGeneration(key, 1, nil)
	k2, _ := NewRecordKeyForGeneration(key, 2, nil)
	rec, _ := k1.Seal(nil, bindPII, []byte("pii"))
	binary.BigEndian.PutUint32(rec[6:10], 2)
	if _, err := k2.Open(nil, bindPII, rec); !errors.Is(err, ErrCommitment) {
		t.Fatalf("generation rewritten: %v", err)
	}
}

// TestVersion1RecordsAreGenerationZero: every golden version-1 record reads
// as generation 0, opens under a generation-0 key (NewRecordKey or
// NewRecordKeyForGeneration(key, 0)) and is refused by any other generation.
func TestVersion1RecordsAreGenerationZero(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t, "success") {
		rec, key := mustHex(t, v.Record), mustHex(t, v.FileKey)
		b := Binding{UserID: v.UserID, Label: v.Label}
		if g, err := RecordGeneration(rec); err != nil || g != 0 {
			t.Fatalf("%s: RecordGeneration = %d, %v", v.Name, g, err)
		}
		k0, _ := NewRecordKeyForGeneration(key, 0, nil)
		if got, err := k0.Open(nil, b, rec); err != nil || !bytes.Equal(got, mustHex(t, v.Plaintext)) {
			t.Fatalf("%s: %v", v.Name, err)
		}
		k1, _ := NewRecordKeyForGeneration(key, 1, nil)
		if _, err := k1.Open(nil, b, rec); !errors.Is(err, ErrGeneration) {
			t.Fatalf("%s: version-1 record under a generation-1 key: %v", v.Name, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no golden records")
	}
}

func TestRecordGenerationRefusesWhatOpenRefuses(t *testing.T) {
	k, _ := NewRecordKeyForGeneration(bytes.Repeat([]byte{1}, KeySize), 9, nil)
	rec, _ := k.Seal(nil, bindPII, nil)
	set := func(i int, v byte) []byte { c := bytes.Clone(rec); c[i] = v; return c }
	for name, c := range map[string]struct {
		rec  []byte
		want error
	}{
		"short":          {rec[:RecordOverhead-1], ErrMalformed},
		"empty":          {nil, ErrMalformed},
		"bad magic":      {set(0, 'X'), ErrMalformed},
		"version 2":      {set(4, 2), ErrVersion},
		"version 4":      {set(4, 4), ErrVersion},
		"suite 2":        {set(5, 2), ErrVersion},
		"v1 too short":   {set(4, 1), ErrMalformed}, // 70 bytes < version 1's 98
		"over the limit": {make([]byte, MaxRecordSize+RecordOverheadV1+1), ErrTooLarge},
	} {
		if _, err := RecordGeneration(c.rec); !errors.Is(err, c.want) {
			t.Errorf("%s: RecordGeneration: %v, want %v", name, err, c.want)
		}
		if _, err := k.Open(nil, bindPII, c.rec); !errors.Is(err, c.want) {
			t.Errorf("%s: Open: %v, want %v", name, err, c.want)
		}
	}
	// A version-3 record longer than the limit plus its own overhead.
	big := make([]byte, MaxRecordSize+RecordOverhead+1)
	copy(big, rec[:10])
	if _, err := RecordGeneration(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized version-3 record: %v", err)
	}
}

// TestRecordV3EveryBitFlipAndTruncationIsRefused flips every bit of a
// version-3 record and truncates it at every length: each is refused, with
// no plaintext, and each field's flips give that field's error class.
func TestRecordV3EveryBitFlipAndTruncationIsRefused(t *testing.T) {
	k, _ := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x42}, KeySize), 3, nil)
	pt := bytes.Repeat([]byte{0xee}, 33)
	rec, _ := k.Seal(nil, bindPII, pt)
	class := func(i int) []error {
		switch {
		case i < 4:
			return []error{ErrMalformed}
		case i < 6: // version or suite; version 1 is generation 0
			return []error{ErrVersion, ErrGeneration}
		case i < 10:
			return []error{ErrGeneration}
		case i < recordV3HeaderSize+gcmNonceSize: // commitment, nonce
			return []error{ErrCommitment}
		default:
			return []error{ErrPayloadAuth}
		}
	}
	for i := range rec {
		for bit := range 8 {
			c := bytes.Clone(rec)
			c[i] ^= 1 << bit
			dst := make([]byte, 0, 256)
			got, err := k.Open(dst, bindPII, c)
			ok := false
			for _, want := range class(i) {
				ok = ok || errors.Is(err, want)
			}
			if !ok || got != nil || bytes.Contains(dst[:cap(dst)], pt[:4]) {
				t.Fatalf("byte %d bit %d: %v", i, bit, err)
			}
		}
	}
	for n := range len(rec) {
		if got, err := k.Open(nil, bindPII, rec[:n]); err == nil || got != nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
	if _, err := k.Open(nil, bindPII, append(bytes.Clone(rec), 0)); !errors.Is(err, ErrPayloadAuth) {
		t.Fatalf("extended: %v", err)
	}
}

// TestRecordV3RefusesGCMCiphertextValidUnderTwoKeys builds a version-3
// record whose AES-GCM part opens under the GCM keys of two file keys (to
// two different plaintexts) and shows the second key refuses it at the
// commitment, before decrypting.
func TestRecordV3RefusesGCMCiphertextValidUnderTwoKeys(t *testing.T) {
	r := newDetReader("collision-v3")
	key1, _ := NewKey(r)
	key2, _ := NewKey(r)
	enc1, com1 := specRecordV3Keys(t, key1, 0)
	enc2, _ := specRecordV3Keys(t, key2, 0)
	prefix := []byte("PVER\x03\x01\x00\x00\x00\x00")
	nonce := make([]byte, gcmNonceSize)
	r.Read(nonce)
	ad := appendBinding(bytes.Clone(prefix), bindPII)
	ct, tag := gcmCollision(t, enc1, enc2, nonce, ad)
	sealed := append(ct, tag...)
	p1, err1 := rawGCMOpen(t, enc1, nonce, sealed, ad)
	p2, err2 := rawGCMOpen(t, enc2, nonce, sealed, ad)
	if err1 != nil || err2 != nil || bytes.Equal(p1, p2) {
		t.Fatalf("collision not built: %v %v", err1, err2)
	}
	record := append(append(bytes.Clone(prefix), specRecordV3Commitment(com1, prefix, nonce, bindPII)...), nonce...)
	record = append(record, sealed...)
	rk1, _ := NewRecordKey(key1, nil)
	rk2, _ := NewRecordKey(key2, nil)
	if got, err := rk1.Open(nil, bindPII, record); err != nil || !bytes.Equal(got, p1) {
		t.Fatalf("key 1: %v", err)
	}
	if got, err := rk2.Open(nil, bindPII, record); !errors.Is(err, ErrCommitment) || got != nil {
		t.Fatalf("key 2 opened the colliding record: %x, %v", got, err)
	}
}

// TestRecordV3KeysAreIndependentPerGeneration: the same key bytes under two
// generations give two GCM keys (a record's GCM part does not open under the
// other generation's key).
func TestRecordV3KeysAreIndependentPerGeneration(t *testing.T) {
	key := bytes.Repeat([]byte{5}, KeySize)
	seen := map[string]string{}
	for _, gen := range []uint32{0, 1, 2} {
		e, c := specRecordV3Keys(t, key, gen)
		for what, v := range map[string][]byte{"gcm": e, "commitment": c} {
			name := fmt.Sprintf("%s/%d", what, gen)
			if prev, dup := seen[string(v)]; dup {
				t.Fatalf("%s equals %s", name, prev)
			}
			seen[string(v)] = name
		}
	}
}

// TestRecordKeySubkeysAgreeWithCryptoHKDF: the fast path derives every
// subkey (GCM and commitment keys, stream and version-1 PRKs) with this
// package's HMAC and salt states hashed once per process; each equals
// crypto/hkdf's, for several keys and generations, generation 0 included
// (the only one with a version-1 PRK).
func TestRecordKeySubkeysAgreeWithCryptoHKDF(t *testing.T) {
	fipstest.Skip(t, fipstest.CallerGCMNonce) // the fast path's caller-nonce GCM
	extract := func(key []byte, salt string) []byte {
		prk, err := hkdf.Extract(sha256.New, key, []byte(salt))
		if err != nil {
			t.Fatal(err)
		}
		return prk
	}
	for i, gen := range []uint32{0, 1, 7, 1 << 31} {
		key := bytes.Repeat([]byte{byte(0x30 + i)}, KeySize)
		k, err := newRecordKey(key, gen, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		encKey, commitKey := specRecordV3Keys(t, key, gen)
		block, _ := aes.NewCipher(encKey)
		want, _ := cipher.NewGCM(block)
		nonce := make([]byte, gcmNonceSize)
		if got := k.gcm.Seal(nil, nonce, []byte("probe"), nil); !bytes.Equal(got, want.Seal(nil, nonce, []byte("probe"), nil)) {
			t.Fatalf("gen %d: GCM key differs from crypto/hkdf's", gen)
		}
		for name, pair := range map[string][2]hmacKey{
			"commit key": {k.commit, newHMACKey(commitKey)},
			"stream PRK": {k.stream, newHMACKey(extract(key, labelStreamSalt))},
		} {
			if !bytes.Equal(pair[0].inner, pair[1].inner) || !bytes.Equal(pair[0].outer, pair[1].outer) {
				t.Fatalf("gen %d: %s differs from crypto/hkdf's", gen, name)
			}
		}
		v1 := newHMACKey(extract(key, labelRecordSalt))
		if k.hasV1 != (gen == 0) || gen == 0 && (!bytes.Equal(k.v1.inner, v1.inner) || !bytes.Equal(k.v1.outer, v1.outer)) {
			t.Fatalf("gen %d: version-1 PRK (present %v) differs from crypto/hkdf's", gen, k.hasV1)
		}
	}
}

// TestRecordKeyDerivationLeavesNoPRKInItsScratch: derive computes its
// HKDF-Extracts as HMACs under the public salts, so the SHA-256 state it
// computed with would hold the last one's inner hash, from which anyone
// reading that memory gets the v1 PRK (generation 0) or the stream PRK by
// one compression under the public outer state. derive must leave its
// scratch as a fresh SHA-256 state, with its temporaries zero.
func TestRecordKeyDerivationLeavesNoPRKInItsScratch(t *testing.T) {
	for _, gen := range []uint32{0, 5} {
		key := bytes.Repeat([]byte{0x5a}, KeySize)
		k := &RecordKey{gen: gen}
		binary.BigEndian.PutUint32(k.prefix[6:], gen)
		s := newHashScratch()
		var encKey [KeySize]byte
		k.derive(key, &encKey, &s)
		st, err := s.h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st, pristineSHA256()) {
			t.Fatalf("gen %d: derive's SHA-256 scratch is not wiped (it holds an inner hash of a PRK)", gen)
		}
		if s.tmp != [sha256.Size]byte{} || s.inner != [sha256.Size]byte{} {
			t.Fatalf("gen %d: derive left bytes in its scratch buffers", gen)
		}
	}
}

// TestHMACKeyLeavesNoKeyedStateInItsDigest: the SHA-256 state after
// hashing key XOR ipad (or opad) is as good as the HMAC key; newHMACKey
// must leave the digest it computed with reset, not holding the outer
// state of the key (for derive's transient PRK, that state gives the GCM
// and commitment keys).
func TestHMACKeyLeavesNoKeyedStateInItsDigest(t *testing.T) {
	h := sha256.New()
	k := newHMACKeyWith(h, bytes.Repeat([]byte{0x6b}, sha256.Size))
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st, pristineSHA256()) {
		t.Fatal("newHMACKey left a keyed SHA-256 state in its digest")
	}
	if bytes.Equal(k.inner, pristineSHA256()) || bytes.Equal(k.outer, pristineSHA256()) {
		t.Fatal("the key's own states were reset too")
	}
}
