package envelope

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// TestRecordNoncesFromCryptoRandNeverRepeat seals many records under a
// RecordKey made with a nil reader and with rand.Reader (both take the
// crypto/rand path, which is what the vault uses by default) and checks
// that no two share a nonce. The other nonce tests inject a deterministic
// reader, so a constant nonce on the default path passed every test
// (mutation record-nonce-constant-crypto-rand).
func TestRecordNoncesFromCryptoRandNeverRepeat(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, KeySize)
	for _, r := range []struct {
		name string
		k    func() (*RecordKey, error)
	}{
		{"nil", func() (*RecordKey, error) { return NewRecordKeyForGeneration(key, 7, nil) }},
		{"rand.Reader", func() (*RecordKey, error) { return NewRecordKeyForGeneration(key, 7, rand.Reader) }},
	} {
		k, err := r.k()
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[string]bool)
		for i := range 64 {
			rec, err := k.Seal(nil, bindPII, []byte("same plaintext"))
			if err != nil {
				t.Fatal(err)
			}
			nonce := string(rec[recordV3HeaderSize : recordV3HeaderSize+gcmNonceSize])
			if seen[nonce] {
				t.Fatalf("%s: record %d repeats a nonce under one record key", r.name, i)
			}
			seen[nonce] = true
		}
	}
}

// TestFIPSStreamRefusesToSealPastTwoToThe32Chunks: when the FIPS module
// draws random chunk nonces, a stream stops at 2^32 chunks (NIST SP
// 800-38D section 8.3), before sealing the chunk that would pass it. The
// index is set near the limit; sealing 2^32 chunks is out of reach.
func TestFIPSStreamRefusesToSealPastTwoToThe32Chunks(t *testing.T) {
	k, err := newRecordKey(bytes.Repeat([]byte{0x5b}, KeySize), 0, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sw, err := k.NewStreamWriter(&out, bindPII, MinStreamChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	sw.index = maxModuleNonceChunks - 1
	// One more chunk is allowed: the pending full chunk, sealed as not last.
	if _, err := sw.Write(make([]byte, MinStreamChunkSize+1)); err != nil {
		t.Fatalf("chunk 2^32-1: %v", err)
	}
	before := out.Len()
	if err := sw.Close(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("chunk 2^32 sealed under module nonces: %v", err)
	}
	if out.Len() != before {
		t.Fatal("the refused chunk was written")
	}
}
