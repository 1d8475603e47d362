package serverkey_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/piivault/piivault/serverkey"
)

// FuzzOpen: no input opens but a real ciphertext; nothing panics; every
// failure is one of the documented classes; KeyIDOf agrees with Open on
// what parses.
func FuzzOpen(f *testing.F) {
	kms := newFakeKMS(f)
	kr := newRing(f, kms, genKey(f, kms, "k1"))
	ct, err := kr.Seal(f.Context(), jane, "email", []byte("jane@example.com"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(ct[:10])
	f.Add([]byte("PVSK\x01\x02k1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := kr.Open(t.Context(), jane, "email", data)
		if err == nil {
			if !bytes.Equal(data, ct) || string(pt) != "jane@example.com" {
				t.Fatalf("opened a forgery: %x", data)
			}
			return
		}
		if pt != nil {
			t.Fatal("plaintext returned with an error")
		}
		ok := errors.Is(err, serverkey.ErrMalformed) || errors.Is(err, serverkey.ErrVersion) || errors.Is(err, serverkey.ErrTooLarge) ||
			errors.Is(err, serverkey.ErrUnknownKey) || errors.Is(err, serverkey.ErrDecrypt)
		if !ok {
			t.Fatalf("undocumented error class: %v", err)
		}
		if _, perr := serverkey.KeyIDOf(data); perr == nil && (errors.Is(err, serverkey.ErrMalformed) || errors.Is(err, serverkey.ErrVersion)) {
			t.Fatalf("KeyIDOf parses what Open calls malformed: %v", err)
		}
	})
}

// FuzzNormalize: the normalizers never panic, are idempotent, and their
// output is within the documented limits.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"jane@example.com", " Jane@EXAMPLE.com. ", "(202) 555-0100", "+44 20 7946 0958", "0612345678", "a@b\u0130.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := serverkey.NormalizeEmail(s); err == nil {
			if len(e) > serverkey.MaxEmailLen {
				t.Fatalf("email over limit: %q", e)
			}
			if again, err := serverkey.NormalizeEmail(e); err != nil || again != e {
				t.Fatalf("email not idempotent: %q -> %q -> %q (%v)", s, e, again, err)
			}
		} else if !errors.Is(err, serverkey.ErrInvalidValue) {
			t.Fatal(err)
		}
		for _, cc := range []string{"1", "33", "39"} {
			p, err := serverkey.NormalizePhone(s, cc)
			if err != nil {
				if !errors.Is(err, serverkey.ErrInvalidValue) {
					t.Fatal(err)
				}
				continue
			}
			if len(p) < 8 || len(p) > 16 || p[0] != '+' {
				t.Fatalf("not E.164: %q", p)
			}
			if again, err := serverkey.NormalizePhone(p, "44"); err != nil || again != p {
				t.Fatalf("phone not idempotent: %q -> %q -> %q (%v)", s, p, again, err)
			}
		}
	})
}

// FuzzParseFingerprint: what parses prints back to the same string.
func FuzzParseFingerprint(f *testing.F) {
	f.Add("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("a:b:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := serverkey.ParseFingerprint(s)
		if err != nil {
			if !errors.Is(err, serverkey.ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if fp.String() != s {
			t.Fatalf("%q parses but prints as %q", s, fp.String())
		}
	})
}
