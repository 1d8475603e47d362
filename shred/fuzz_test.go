package shred_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
)

// FuzzUnwrap: nothing but the real layered record opens, nothing panics,
// and every failure is a documented class.
func FuzzUnwrap(f *testing.F) {
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(f, newFakeKMS(f))})
	if err != nil {
		f.Fatal(err)
	}
	good, err := l.Wrap(f.Context(), jane, []byte("account"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("PVSH\x01"))
	f.Add([]byte("PVEH\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := l.Unwrap(t.Context(), jane, data)
		if err == nil {
			if !bytes.Equal(data, good) || string(out) != "account" {
				t.Fatalf("opened a forgery: %x", data)
			}
			return
		}
		if out != nil {
			t.Fatal("output with an error")
		}
		ok := errors.Is(err, shred.ErrNotLayered) || errors.Is(err, shred.ErrMalformed) ||
			errors.Is(err, envelope.ErrCommitment) || errors.Is(err, envelope.ErrPayloadAuth) ||
			errors.Is(err, envelope.ErrMalformed) || errors.Is(err, envelope.ErrVersion) || errors.Is(err, envelope.ErrGeneration) ||
			errors.Is(err, serverkey.ErrDecrypt)
		if !ok {
			t.Fatalf("undocumented error: %v", err)
		}
	})
}
