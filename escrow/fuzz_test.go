package escrow

import (
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/internal/fipstest"
)

// FuzzParseKeyFiles: the key-file parsers never panic, and what parses
// marshals back to a file that parses to the same key.
func FuzzParseKeyFiles(f *testing.F) {
	for _, s := range suites {
		if s == SuiteX25519 && fipstest.Active(fipstest.X25519) {
			continue // seeds only: the other suites still seed the corpus
		}
		priv, err := GenerateKey(s)
		if err != nil {
			f.Fatal(err)
		}
		pf, _ := MarshalPrivateKey(priv)
		pub, _ := MarshalPublicKey(priv.PublicKey())
		f.Add(pf)
		f.Add(pub)
	}
	f.Add([]byte("-----BEGIN PIIVAULT ESCROW PUBLIC KEY-----\n-----END PIIVAULT ESCROW PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if pub, err := ParsePublicKey(data); err == nil {
			out, err := MarshalPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			pub2, err := ParsePublicKey(out)
			if err != nil || string(pub2.Bytes()) != string(pub.Bytes()) {
				t.Fatalf("public key does not round trip: %v", err)
			}
		}
		if priv, err := ParsePrivateKey(data); err == nil {
			if _, err := FingerprintOf(priv.PublicKey()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzUnwrap: arbitrary stanza bodies under the identity's key id never
// panic and never yield a key.
func FuzzUnwrap(f *testing.F) {
	r, id := pair(f, dhSuite())
	key := make([]byte, envelope.KeySize)
	ss, err := r.Wrap(f.Context(), key, janeB)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ss[0].Body)
	f.Add([]byte{0x00, 0x20})
	f.Fuzz(func(t *testing.T, body []byte) {
		if string(body) == string(ss[0].Body) {
			return
		}
		st := &envelope.Stanza{Type: TypeHPKE, KeyID: ss[0].KeyID, Body: body}
		if k, err := id.Unwrap(t.Context(), []*envelope.Stanza{st}, janeB); err == nil {
			t.Fatalf("forged stanza opened: %x", k)
		}
	})
}
