package envelope

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/piivault/piivault/kdf"
)

type fixture struct {
	key      []byte
	header   *Header
	password []byte
	recovery []byte
	aeadR    *AEADRecipient
	d        *kdf.Deriver
}

func newFixture(t *testing.T, b Binding) *fixture {
	t.Helper()
	ctx := context.Background()
	r := newDetReader("fixture")
	f := &fixture{password: []byte("correct horse battery staple"), d: testDeriver(t)}
	f.recovery = make([]byte, 20)
	r.Read(f.recovery)
	var err error
	if f.key, err = NewKey(r); err != nil {
		t.Fatal(err)
	}
	pr, err := NewPasswordRecipient(f.d, f.password, testParams, r)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := NewRecoveryRecipient(f.recovery, r)
	if err != nil {
		t.Fatal(err)
	}
	if f.aeadR, err = NewAEADRecipient(testTinkAEAD(t), "kms://test/escrow", nil); err != nil {
		t.Fatal(err)
	}
	if f.header, err = WrapKey(ctx, f.key, b, pr, rr, f.aeadR); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) identities(t *testing.T) map[string]Identity {
	t.Helper()
	pi, err := NewPasswordIdentity(f.d, f.password)
	if err != nil {
		t.Fatal(err)
	}
	ri, err := NewRecoveryIdentity(f.recovery)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Identity{"password": pi, "recovery": ri, "aead": f.aeadR}
}

func TestEveryRecipientUnwrapsTheSameKeyAfterMarshalAndParse(t *testing.T) {
	f := newFixture(t, bindJane)
	enc, err := f.header.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := h.MarshalBinary()
	if !bytes.Equal(enc, enc2) {
		t.Fatal("parse then marshal changed the bytes")
	}
	for name, id := range f.identities(t) {
		key, err := UnwrapKey(context.Background(), h, bindJane, id)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(key, f.key) {
			t.Fatalf("%s: wrong key", name)
		}
	}
}

func TestWrongSecretsReturnErrNoMatch(t *testing.T) {
	f := newFixture(t, bindJane)
	pi, _ := NewPasswordIdentity(f.d, []byte("wrong password"))
	ri, _ := NewRecoveryIdentity(bytes.Repeat([]byte{7}, 20))
	other, _ := NewAEADRecipient(testTinkAEAD(t), "kms://test/other", nil)
	for name, id := range map[string]Identity{"password": pi, "recovery": ri, "aead-other-keyid": other} {
		key, err := UnwrapKey(context.Background(), f.header, bindJane, id)
		if !errors.Is(err, ErrNoMatch) || key != nil {
			t.Errorf("%s: got key=%x err=%v, want ErrNoMatch", name, key, err)
		}
		if errors.Is(err, ErrHeaderAuth) || errors.Is(err, ErrMalformed) {
			t.Errorf("%s: wrong secret also reported as corruption: %v", name, err)
		}
	}
}

func TestHeaderMovedToAnotherBindingFails(t *testing.T) {
	f := newFixture(t, bindJane)
	for _, b := range []Binding{bindOther, bindPII} {
		for name, id := range f.identities(t) {
			key, err := UnwrapKey(context.Background(), f.header, b, id)
			if err == nil || key != nil {
				t.Errorf("%s under %+v: opened (err=%v)", name, b, err)
			}
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	k, err := NewRecordKey(bytes.Repeat([]byte{1}, KeySize), newDetReader("rec"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 15, 16, 17, 64, 1024, 65536} {
		pt := bytes.Repeat([]byte{0xa5}, n)
		rec, err := k.Seal(nil, bindPII, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) != n+RecordOverhead {
			t.Fatalf("len %d", len(rec))
		}
		got, err := k.Open(nil, bindPII, rec)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: %v", n, err)
		}
		if _, err := k.Open(nil, bindJane, rec); !errors.Is(err, ErrCommitment) {
			t.Fatalf("cross-label: %v", err)
		}
	}
}
