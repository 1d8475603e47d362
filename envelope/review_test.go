package envelope

import (
	"bytes"
	"crypto/fips140"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
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

// TestRecordOpenWithDstCapacityEndingInsideTheRecordNeverPanics opens a
// record into a dst whose spare capacity starts where the record's nonce
// starts (the exact overlap the AEAD accepts) but ends before the record
// does (a three-index slice), for every capacity: the FIPS path (version 3
// with module nonces) and version 1 (whose one-use key always goes through
// cipher.NewGCMWithRandomNonce) moved nothing, and crypto/cipher, which
// shifts the ciphertext left inside the output's capacity, panicked. Open
// must return the plaintext whatever the buffer layout it documents.
func TestRecordOpenWithDstCapacityEndingInsideTheRecordNeverPanics(t *testing.T) {
	key := bytes.Repeat([]byte{0x5c}, KeySize)
	pt := []byte("synthetic record for an overlap test")
	type rec struct {
		name  string
		k     *RecordKey
		rec   []byte
		start int // where nonce || ciphertext || tag starts
		pt    []byte
		b     Binding
	}
	var recs []rec
	for _, fips := range []bool{true, false} {
		if !fips && fips140.Enforced() {
			continue // caller-chosen GCM nonces are refused in this mode
		}
		k, err := newRecordKey(key, 0, nil, fips)
		if err != nil {
			t.Fatal(err)
		}
		r, err := k.Seal(nil, bindPII, pt)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{fmt.Sprintf("version 3 fips=%v", fips), k, r, recordV3HeaderSize, pt, bindPII})
		for _, v := range loadVectors(t, "success") {
			kv, err := newRecordKey(mustHex(t, v.FileKey), 0, nil, fips)
			if err != nil {
				t.Fatal(err)
			}
			k1 := rec{fmt.Sprintf("version 1 %s fips=%v", v.Name, fips), kv, mustHex(t, v.Record), RecordHeaderSize, mustHex(t, v.Plaintext), Binding{UserID: v.UserID, Label: v.Label}}
			if len(k1.pt) > 0 && k1.rec[4] == Version1 {
				recs = append(recs, k1)
				break
			}
		}
	}
	if want := 4 - 2*btoi(fips140.Enforced()); len(recs) != want {
		t.Fatalf("%d cases, want %d (no non-empty version-1 vector?)", len(recs), want)
	}
	for _, c := range recs {
		for capacity := len(c.pt); capacity < len(c.rec)-c.start; capacity++ {
			buf := bytes.Clone(c.rec)
			dst := buf[c.start : c.start : c.start+capacity]
			func() {
				defer func() {
					if e := recover(); e != nil {
						t.Fatalf("%s, capacity %d: Open panicked: %v", c.name, capacity, e)
					}
				}()
				got, err := c.k.Open(dst, c.b, buf)
				if err != nil || !bytes.Equal(got, c.pt) {
					t.Fatalf("%s, capacity %d: %v", c.name, capacity, err)
				}
			}()
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestStreamOpensWhateverTheSourceReadSizes reads streams of every length
// around chunk boundaries from sources that return one byte at a time,
// half of what is asked, and the last data together with io.EOF: the
// look-ahead byte that tells the last chunk from the others must come out
// right however the source splits its bytes. (The other stream tests read
// from a bytes.Reader, which fills every read.)
func TestStreamOpensWhateverTheSourceReadSizes(t *testing.T) {
	const chunk = 16
	k, err := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x5d}, KeySize), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]func(io.Reader) io.Reader{
		"one byte":       iotest.OneByteReader,
		"half":           iotest.HalfReader,
		"data with EOF":  iotest.DataErrReader,
		"one byte + EOF": func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) },
	}
	for n := 0; n <= 4*chunk+1; n++ {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		var sealed bytes.Buffer
		w, err := k.NewStreamWriter(&sealed, bindPII, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pt); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for name, src := range sources {
			r, err := k.NewStreamReader(src(bytes.NewReader(sealed.Bytes())), bindPII)
			if err != nil {
				t.Fatalf("n %d, %s: %v", n, name, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("n %d, %s: %d bytes, %v", n, name, len(got), err)
			}
			// Cut at the last chunk boundary: refused, whatever the source.
			if n > chunk && n%chunk == 0 {
				cut := sealed.Bytes()[:sealed.Len()-chunk-StreamChunkOverhead]
				r, err := k.NewStreamReader(src(bytes.NewReader(cut)), bindPII)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadAll(r); !errors.Is(err, ErrPayloadAuth) {
					t.Fatalf("n %d, %s: stream cut at a chunk boundary: %v", n, name, err)
				}
			}
		}
	}
}
