package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/piivault/piivault/kdf"
	"github.com/tink-crypto/tink-go/v2/tink"
)

func TestPasswordParamsOverCapsAreRefusedBeforeDeriving(t *testing.T) {
	d := testDeriver(t)
	f := newFixture(t, bindJane)
	pw := f.header.Stanzas[0]
	ps, err := parsePasswordStanza(pw)
	if err != nil {
		t.Fatal(err)
	}
	huge := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 4 << 20, Passes: 1, Threads: 1}
	pb, _ := huge.AppendBinary(nil)
	body := append([]byte{byte(len(pb))}, pb...)
	body = append(body, ps.salt...)
	body = append(body, ps.wrapped...)
	id, _ := NewPasswordIdentity(d, f.password)
	_, err = id.Unwrap(context.Background(), []*Stanza{{Type: TypePassword, Body: body}}, bindJane)
	if !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("got %v, want kdf.ErrParamsTooCostly", err)
	}
	if errors.Is(err, ErrNoMatch) {
		t.Fatal("a refused stanza must not look like a wrong password")
	}
	if d.PeakMemory() != 0 {
		t.Fatalf("%d bytes were reserved for a refused derivation", d.PeakMemory())
	}
	if got, err := PasswordParams(&Stanza{Type: TypePassword, Body: body}); err != nil || got != huge {
		t.Fatalf("PasswordParams: %v %v", got, err)
	}
}

func TestNewPasswordRecipientRefusesParamsOverCaps(t *testing.T) {
	d := testDeriver(t)
	_, err := NewPasswordRecipient(d, []byte("pw"), kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1 << 30}, nil)
	if !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("got %v", err)
	}
}

func TestPasswordIdentityTriesEveryPasswordStanza(t *testing.T) {
	d := testDeriver(t)
	ctx := context.Background()
	r := newDetReader("two")
	key, _ := NewKey(r)
	a, _ := NewPasswordRecipient(d, []byte("password A"), testParams, r)
	b, _ := NewPasswordRecipient(d, []byte("password B"), testParams, r)
	h, err := WrapKey(ctx, key, bindJane, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"password A", "password B"} {
		id, _ := NewPasswordIdentity(d, []byte(pw))
		if got, err := UnwrapKey(ctx, h, bindJane, id); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("%s: %v", pw, err)
		}
	}
}

func TestStanzaMovedToAnotherUsersHeaderDoesNotUnwrap(t *testing.T) {
	ctx := context.Background()
	jane := newFixture(t, bindJane)
	other := newFixture(t, bindOther)
	// Put Jane's stanzas into a header sealed for the other user with
	// the other user's key: each identity either finds no match (the
	// stanza's commitment or AD names Jane) or unwraps Jane's key, which
	// the other header's commitment refuses.
	for i, s := range jane.header.Stanzas {
		h := &Header{Stanzas: []*Stanza{s.clone()}}
		if err := h.seal(other.key, bindOther); err != nil {
			t.Fatal(err)
		}
		for name, id := range jane.identities(t) {
			key, err := UnwrapKey(ctx, h, bindOther, id)
			if err == nil || key != nil {
				t.Fatalf("stanza %d (%s) opened under another user", i, name)
			}
		}
	}
}

// adIgnoringAEAD is a tink.AEAD that drops associated data, as some KMS
// backends do.
type adIgnoringAEAD struct{ a tink.AEAD }

func (x adIgnoringAEAD) Encrypt(pt, _ []byte) ([]byte, error) { return x.a.Encrypt(pt, nil) }
func (x adIgnoringAEAD) Decrypt(ct, _ []byte) ([]byte, error) { return x.a.Decrypt(ct, nil) }

func TestAEADRecipientBindsContextEvenWhenBackendIgnoresAD(t *testing.T) {
	ctx := context.Background()
	ar, err := NewAEADRecipient(adIgnoringAEAD{testTinkAEAD(t)}, "kms://ignores-ad", nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewKey(nil)
	ss, err := ar.Wrap(ctx, key, bindJane)
	if err != nil {
		t.Fatal(err)
	}
	if string(ss[0].KeyID) != "kms://ignores-ad" || ss[0].Type != TypeAEAD {
		t.Fatalf("stanza %q %q", ss[0].Type, ss[0].KeyID)
	}
	if got, err := ar.Unwrap(ctx, ss, bindJane); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("own binding: %v", err)
	}
	for _, b := range []Binding{bindOther, bindPII} {
		got, err := ar.Unwrap(ctx, ss, b)
		if !errors.Is(err, ErrHeaderAuth) || got != nil {
			t.Fatalf("moved to %+v: %v", b, err)
		}
	}
}

func TestAEADRecipientWithAnotherKeyUnderTheSameIDIsNoMatch(t *testing.T) {
	ctx := context.Background()
	a1, _ := NewAEADRecipient(testTinkAEAD(t), "kms://k", nil)
	a2, _ := NewAEADRecipient(testTinkAEAD(t), "kms://k", nil)
	key, _ := NewKey(nil)
	h, err := WrapKey(ctx, key, bindJane, a1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapKey(ctx, h, bindJane, a2); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("got %v", err)
	}
	if got, err := UnwrapKey(ctx, h, bindJane, a2, a1); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("second identity: %v", err)
	}
}

func TestRewrapKeepsSelectedStanzasAndChecksTheKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, bindJane)
	before, _ := f.header.MarshalBinary()
	newPW, _ := NewPasswordRecipient(f.d, []byte("new password"), testParams, nil)
	nh, err := f.header.Rewrap(ctx, f.key, bindJane, func(s *Stanza) bool { return s.Type != TypePassword }, newPW)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := f.header.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("Rewrap modified the original header")
	}
	var types []string
	for _, s := range nh.Stanzas {
		types = append(types, s.Type)
	}
	if fmt.Sprint(types) != "[recovery aead password]" {
		t.Fatalf("stanzas %v", types)
	}
	oldID, _ := NewPasswordIdentity(f.d, f.password)
	if _, err := UnwrapKey(ctx, nh, bindJane, oldID); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("old password: %v", err)
	}
	newID, _ := NewPasswordIdentity(f.d, []byte("new password"))
	if got, err := UnwrapKey(ctx, nh, bindJane, newID); err != nil || !bytes.Equal(got, f.key) {
		t.Fatalf("new password: %v", err)
	}
	other, _ := NewKey(nil)
	if _, err := f.header.Rewrap(ctx, other, bindJane, nil); !errors.Is(err, ErrCommitment) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := f.header.Rewrap(ctx, f.key, bindOther, nil); !errors.Is(err, ErrHeaderAuth) {
		t.Fatalf("wrong binding: %v", err)
	}
}

// countingRecipient returns n small stanzas.
type countingRecipient int

func (n countingRecipient) Wrap(context.Context, []byte, Binding) ([]*Stanza, error) {
	var ss []*Stanza
	for range int(n) {
		ss = append(ss, &Stanza{Type: "x-test", Body: []byte{1}})
	}
	return ss, nil
}

func TestWrapKeyEnforcesLimits(t *testing.T) {
	ctx := context.Background()
	key, _ := NewKey(nil)
	if _, err := WrapKey(ctx, key, bindJane, countingRecipient(MaxStanzas)); err != nil {
		t.Fatalf("%d stanzas: %v", MaxStanzas, err)
	}
	if _, err := WrapKey(ctx, key, bindJane, countingRecipient(MaxStanzas), countingRecipient(1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d stanzas: %v", MaxStanzas+1, err)
	}
	if _, err := WrapKey(ctx, key, bindJane); !errors.Is(err, ErrInvalidRecipient) {
		t.Fatalf("no recipients: %v", err)
	}
	if _, err := WrapKey(ctx, key[:16], bindJane, countingRecipient(1)); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := WrapKey(ctx, key, Binding{Label: "x"}, countingRecipient(1)); !errors.Is(err, ErrInvalidBinding) {
		t.Fatalf("empty user id: %v", err)
	}
	if _, err := NewRecoveryRecipient(make([]byte, RecoveryKeySize-1), nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("short recovery key: %v", err)
	}
	if _, err := (&Header{Stanzas: []*Stanza{{Type: "x", Body: []byte{1}}}}).MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsealed header: %v", err)
	}
}

func TestSingleShotSealOpen(t *testing.T) {
	ctx := context.Background()
	rec, _ := NewRecoveryRecipient(bytes.Repeat([]byte{3}, 16), nil)
	id, _ := NewRecoveryIdentity(bytes.Repeat([]byte{3}, 16))
	pt := []byte("Jane Q. Sample, 900-12-3456")
	env, err := Seal(ctx, bindPII, pt, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(ctx, bindPII, env, id); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %v", err)
	}
	if got, err := Open(ctx, bindJane, env, id); err == nil || got != nil {
		t.Fatal("opened under another label")
	}
}

func TestPasswordIdentityHonoursCancelledContext(t *testing.T) {
	f := newFixture(t, bindJane)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	id, _ := NewPasswordIdentity(f.d, f.password)
	// Derive may return the context's error while waiting for memory, or
	// finish at once when the budget is free; either way nothing wrong is
	// returned and a cancellation is never reported as a wrong password.
	key, err := UnwrapKey(ctx, f.header, bindJane, id)
	if err != nil {
		if errors.Is(err, ErrNoMatch) || key != nil {
			t.Fatalf("cancelled: %v", err)
		}
	} else if !bytes.Equal(key, f.key) {
		t.Fatal("wrong key")
	}
}

func TestAEADRecipientReturnsContextErrorWithoutCallingTheBackend(t *testing.T) {
	f := newFixture(t, bindJane)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := UnwrapKey(ctx, f.header, bindJane, f.aeadR); !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoMatch) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	key, _ := NewKey(nil)
	if _, err := f.aeadR.Wrap(ctx, key, bindJane); !errors.Is(err, context.Canceled) {
		t.Fatalf("wrap: %v", err)
	}
}
