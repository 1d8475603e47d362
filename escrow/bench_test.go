package escrow

import (
	"testing"

	"github.com/piivault/piivault/envelope"
)

// BenchmarkWrap: the cost escrow adds to an enrollment, per suite (no
// network call), next to an in-process Tink AEAD escrow (a KMS adds its
// round trip on top of this).
func BenchmarkWrap(b *testing.B) {
	key := make([]byte, envelope.KeySize)
	for _, s := range suites {
		r, _ := pair(b, s)
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Wrap(b.Context(), key, janeB); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ar, err := NewAEADRecipient(tinkAEAD(b), "local", purpose)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tink-aead-local", func(b *testing.B) {
		for b.Loop() {
			if _, err := ar.Wrap(b.Context(), key, janeB); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnwrap: the escrow custodian's cost per recovered account.
func BenchmarkUnwrap(b *testing.B) {
	key := make([]byte, envelope.KeySize)
	for _, s := range suites {
		r, id := pair(b, s)
		ss, err := r.Wrap(b.Context(), key, janeB)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				k, err := id.Unwrap(b.Context(), ss, janeB)
				if err != nil {
					b.Fatal(err)
				}
				clear(k)
			}
		})
	}
}
