package envelope

import (
	"bytes"
	"fmt"
	"testing"
)

var benchSizes = []int{64, 1024, 64 << 10}

// BenchmarkRecord measures RecordKey.Seal and Open (committing, bound to a
// Binding, per-record HKDF subkeys) next to tink-go's AES256GCM AEAD on the
// same sizes. Compare the "envelope" and "tink" lines of one run.
func BenchmarkRecord(b *testing.B) {
	k, err := NewRecordKey(bytes.Repeat([]byte{1}, KeySize), nil)
	if err != nil {
		b.Fatal(err)
	}
	ta := testTinkAEAD(b)
	ad := appendBinding(nil, bindPII)
	for _, n := range benchSizes {
		pt := bytes.Repeat([]byte{0x42}, n)
		rec, _ := k.Seal(nil, bindPII, pt)
		tct, _ := ta.Encrypt(pt, ad)
		b.Run(fmt.Sprintf("Seal/envelope/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Seal(nil, bindPII, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Seal/tink/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ta.Encrypt(pt, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Open/envelope/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Open(nil, bindPII, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Open/tink/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ta.Decrypt(tct, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
