package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// TestOperatorWithEveryStoredByteAndPepperOpensNothing plays the operator
// of a deployment with escrow off: it holds the account record, every
// sealed record and the pepper, but neither the password nor the personal
// key, and tries every way in it has.
func TestOperatorWithEveryStoredByteAndPepperOpensNothing(t *testing.T) {
	ctx := context.Background()
	pepper := bytes.Repeat([]byte("pepper!!"), 4)
	rr := &recordingReader{}
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Pepper = pepper; c.Rand = rr })

	rr.reset()
	account, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	accountKey := rr.bytes()[:envelope.KeySize]
	u := mustUnlock(t, v, "u", account, pw1)
	var records [][]byte
	for _, label := range []string{"pii", "ssn", "id-document"} {
		r, err := u.SealIdentity(label, janeSample)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	u.Close()

	// Sanity: the bytes we call the account key really are it (else the
	// checks below would prove nothing).
	rk, err := envelope.NewRecordKey(accountKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rk.Open(nil, envelope.Binding{UserID: "u", Label: "pii"}, records[0]); err != nil {
		t.Fatalf("recorded account key does not open records: %v", err)
	}
	rk.Destroy()

	stored := append([]byte(nil), account...)
	for _, r := range records {
		stored = append(stored, r...)
	}

	// 1. Escrow off: only the password and personal key stanzas exist.
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range h.Stanzas {
		if s.Type != envelope.TypePassword && s.Type != envelope.TypeRecovery {
			t.Fatalf("escrow off but the account has a %q stanza", s.Type)
		}
	}
	// 2. The account key, the personal key and the plaintext appear
	// nowhere in the stored bytes (not even half of the key).
	for name, secret := range map[string][]byte{
		"account key (first half)":  accountKey[:16],
		"account key (second half)": accountKey[16:],
		"personal key":              pk.b[:],
		"password":                  pw1,
		"SSN":                       []byte(janeSample.SSN),
		"family name":               []byte(janeSample.FamilyName),
	} {
		if bytes.Contains(stored, secret) {
			t.Fatalf("stored bytes contain the %s", name)
		}
	}
	// 3. Every 32-byte window of the stored bytes, and the pepper, tried as
	// the account key: no record opens.
	candidates := [][]byte{pepper}
	for i := 0; i+envelope.KeySize <= len(stored); i++ {
		candidates = append(candidates, stored[i:i+envelope.KeySize])
	}
	for _, c := range candidates {
		rk, err := envelope.NewRecordKey(c, nil)
		if err != nil {
			continue
		}
		for _, r := range records {
			for _, label := range []string{"pii", "ssn", "id-document"} {
				if _, err := rk.Open(nil, envelope.Binding{UserID: "u", Label: label}, r); err == nil {
					t.Fatal("a stored byte string opened a record")
				}
			}
		}
		rk.Destroy()
	}
	// 4. Guessing the password with the pepper in hand costs one KDF run
	// per guess and fails; so does the pepper itself as a password.
	for _, guess := range [][]byte{pepper, []byte("password"), []byte("u"), pw2} {
		if _, _, err := v.Unlock(ctx, "u", account, guess); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("guess %q: %v", guess, err)
		}
	}
	// 5. Recovery-key guesses (the pepper, stored windows) fail.
	for _, c := range append([][]byte{pepper}, candidates[1:40]...) {
		id, err := envelope.NewRecoveryIdentity(c[:PersonalKeySize])
		if err != nil {
			continue
		}
		if _, err := unwrap(ctx, h, "u", id); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("recovery guess: %v", err)
		}
	}
	// 6. There is no escrow to ask: ErrUnrecoverable.
	_, escrowID := newEscrow(t, "k")
	if _, _, err := v.RecoverWithEscrow(ctx, "u", account, escrowID, pw2, "operator", "curiosity"); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("escrow recovery with escrow off: %v", err)
	}
	// The real secrets still work: the operator's failures are not a
	// broken account.
	mustUnlock(t, v, "u", account, pw1).Close()
	if err := opensWithPK(t, "u", account, pk); err != nil {
		t.Fatal(err)
	}
}
