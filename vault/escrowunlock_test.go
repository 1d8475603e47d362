package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// auditRecords parses the JSON audit lines of buf.
func auditRecords(t *testing.T, buf *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestUnlockWithEscrowGivesUnlocksHandleAndChangesNothing: the escrow
// handle has Unlock's user id, generation and key generation; records
// sealed through either handle open through the other; the account bytes
// are untouched and the password and personal key still open them; one
// audit record with event, actor and reason is written.
func TestUnlockWithEscrowGivesUnlocksHandleAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			escrowRecip, escrowID := newEscrow(t, "kms-key-1")
			v, audit := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escrowRecip })
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			before := bytes.Clone(account)
			pu := mustUnlock(t, v, "u", account, pw1)
			defer pu.Close()
			audit.b.Reset()

			eu, err := v.UnlockWithEscrow(ctx, "u", account, escrowID, "ops-bot", "ticket 18")
			if err != nil {
				t.Fatalf("UnlockWithEscrow: %v", err)
			}
			defer eu.Close()
			if !bytes.Equal(account, before) {
				t.Fatal("UnlockWithEscrow changed the account bytes")
			}
			if eu.UserID() != pu.UserID() || eu.Generation() != pu.Generation() || eu.KeyGeneration() != pu.KeyGeneration() {
				t.Fatalf("escrow handle (%s, gen %d, keygen %d) differs from Unlock's (%s, gen %d, keygen %d)",
					eu.UserID(), eu.Generation(), eu.KeyGeneration(), pu.UserID(), pu.Generation(), pu.KeyGeneration())
			}
			byPW, err := pu.Seal("pii", []byte("sealed by the password handle"))
			if err != nil {
				t.Fatal(err)
			}
			byEscrow, err := eu.Seal("pii", []byte("sealed by the escrow handle"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := eu.Open("pii", byPW); err != nil || string(got) != "sealed by the password handle" {
				t.Fatalf("escrow handle opens password handle's record: %q, %v", got, err)
			}
			if got, err := pu.Open("pii", byEscrow); err != nil || string(got) != "sealed by the escrow handle" {
				t.Fatalf("password handle opens escrow handle's record: %q, %v", got, err)
			}
			if _, err := eu.Open("other", byPW); err == nil {
				t.Fatal("escrow handle opened a record under another label")
			}
			// Password and personal key still open the same bytes.
			mustUnlock(t, v, "u", account, pw1).Close()
			if err := opensWithPK(t, "u", account, pk); err != nil {
				t.Fatalf("personal key after UnlockWithEscrow: %v", err)
			}

			recs := auditRecords(t, audit)
			var n int
			for _, r := range recs {
				if r["event"] == EventUnlockWithEscrow {
					n++
					if r["actor"] != "ops-bot" || r["reason"] != "ticket 18" || r["outcome"] != OutcomeSuccess || r["user_id"] != "u" {
						t.Fatalf("audit record %v", r)
					}
				}
			}
			if n != 1 {
				t.Fatalf("%d %s audit records, want 1:\n%s", n, EventUnlockWithEscrow, audit.String())
			}
		})
	}
}

// TestUnlockWithEscrowRefusesWithoutActorReasonOrIdentity: a missing
// actor, reason or identity, or an over-long actor, gives ErrInvalidInput
// and no handle, and the refusal is audited.
func TestUnlockWithEscrowRefusesWithoutActorReasonOrIdentity(t *testing.T) {
	ctx := context.Background()
	escrowRecip, escrowID := newEscrow(t, "k")
	v, audit := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escrowRecip })
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", maxActorReasonLen+1)
	for _, c := range []struct {
		name          string
		id            envelope.Identity
		actor, reason string
	}{
		{"no actor", escrowID, "", "ticket"},
		{"no reason", escrowID, "agent", ""},
		{"nil identity", nil, "agent", "ticket"},
		{"actor too long", escrowID, long, "ticket"},
		{"reason too long", escrowID, "agent", long},
	} {
		audit.b.Reset()
		u, err := v.UnlockWithEscrow(ctx, "u", account, c.id, c.actor, c.reason)
		if !errors.Is(err, ErrInvalidInput) || u != nil {
			t.Fatalf("%s: handle %v, err %v; want ErrInvalidInput and no handle", c.name, u, err)
		}
		recs := auditRecords(t, audit)
		if len(recs) != 1 || recs[0]["event"] != EventUnlockWithEscrow || recs[0]["outcome"] != OutcomeFailure || recs[0]["error"] != "invalid_input" {
			t.Fatalf("%s: audit %v", c.name, recs)
		}
	}
}

// TestUnlockWithEscrowOffIsUnrecoverableAndWrongKeyIsWrongSecret: an
// account enrolled with escrow off gives ErrUnrecoverable; an escrow
// identity that is not the account's gives ErrWrongSecret; a shredded
// account ErrUnrecoverable; a record of another user ErrWrongSecret or a
// bad-record error, never a handle.
func TestUnlockWithEscrowOffIsUnrecoverableAndWrongKeyIsWrongSecret(t *testing.T) {
	ctx := context.Background()
	off, _ := newTestVault(t, testPolicy(t))
	plain, _, err := off.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	escrowRecip, escrowID := newEscrow(t, "k")
	if _, err := off.UnlockWithEscrow(ctx, "u", plain, escrowID, "a", "r"); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("escrow off: %v, want ErrUnrecoverable", err)
	}
	on, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escrowRecip })
	if _, err := on.UnlockWithEscrow(ctx, "u", plain, escrowID, "a", "r"); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("escrow-off account on an escrow vault: %v, want ErrUnrecoverable", err)
	}
	account, _, err := on.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	_, wrongID := newEscrow(t, "k")
	if u, err := on.UnlockWithEscrow(ctx, "u", account, wrongID, "a", "r"); !errors.Is(err, ErrWrongSecret) || u != nil {
		t.Fatalf("wrong escrow key: %v, want ErrWrongSecret", err)
	}
	if u, err := on.UnlockWithEscrow(ctx, "someone-else", account, escrowID, "a", "r"); err == nil || u != nil {
		t.Fatal("escrow key opened an account under another user id")
	}
	shredded := make([]byte, len(account))
	if _, err := on.UnlockWithEscrow(ctx, "u", shredded, escrowID, "a", "r"); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("shredded: %v, want ErrUnrecoverable", err)
	}
	if u, err := on.UnlockWithEscrow(ctx, "u", account, escrowID, "a", "r"); err != nil {
		t.Fatalf("right key after the refusals: %v", err)
	} else {
		u.Close()
	}
}

// TestUnlockWithEscrowRunsNoKDFCountedByEngine: the escrow open costs no
// password derivation (counted inside the KDF engine), even when the
// escrow identity given also holds the password (it never sees the
// password stanza).
func TestUnlockWithEscrowRunsNoKDFCountedByEngine(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			escrowRecip, escrowID := newEscrow(t, "k")
			v, _ := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escrowRecip })
			account, _, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			pwID, err := envelope.NewPasswordIdentity(v.deriver, pw1)
			if err != nil {
				t.Fatal(err)
			}
			defer pwID.Destroy()
			for _, c := range []struct {
				name string
				id   envelope.Identity
			}{
				{"escrow identity", escrowID},
				{"password identity tried first, then escrow", firstOf{pwID, escrowID}},
			} {
				before := kdfRuns(v)
				u, err := v.UnlockWithEscrow(ctx, "u", account, c.id, "a", "r")
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				u.Close()
				if got := kdfRuns(v) - before; got != 0 {
					t.Fatalf("%s: UnlockWithEscrow ran the KDF %d times, want 0", c.name, got)
				}
			}
			// The counter does count: Unlock costs one.
			before := kdfRuns(v)
			mustUnlock(t, v, "u", account, pw1).Close()
			if got := kdfRuns(v) - before; got != 1 {
				t.Fatalf("Unlock ran the KDF %d times, want 1", got)
			}
		})
	}
}

// firstOf tries each identity in turn, as a caller's composite identity
// might.
type firstOf []envelope.Identity

func (f firstOf) Unwrap(ctx context.Context, stanzas []*envelope.Stanza, b envelope.Binding) ([]byte, error) {
	for _, id := range f {
		key, err := id.Unwrap(ctx, stanzas, b)
		if err == nil || !errors.Is(err, envelope.ErrNoMatch) {
			return key, err
		}
	}
	return nil, fmt.Errorf("none: %w", envelope.ErrNoMatch)
}

// TestUnlockWithEscrowResealsAfterRotationWithoutPassword: after
// RotateAccountKey, an operator with the escrow key and no password
// reseals every record with UnlockWithEscrow and ResealInStore; the
// records then open with the user's password under the current key, the
// older keys are dropped (the escrow stanza kept), and a second pass
// reseals nothing.
func TestUnlockWithEscrowResealsAfterRotationWithoutPassword(t *testing.T) {
	ctx := context.Background()
	escrowRecip, escrowID := newEscrow(t, "k")
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escrowRecip })
	accounts, records := NewMemStore(), NewMemRecordStore()
	u, _, err := v.EnrollUnlockedInStore(ctx, accounts, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 5 {
		label, text := fmt.Sprintf("rec-%d", i), fmt.Sprintf("plaintext %d", i)
		sealed, err := u.Seal(label, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := records.PutRecord(ctx, "u", label, sealed, 0); err != nil {
			t.Fatal(err)
		}
		want[label] = text
	}
	u.Close()
	account, ver, err := accounts.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	rotated, _, ru, err := v.RotateAccountKey(ctx, "u", account, pw1)
	if err != nil {
		t.Fatal(err)
	}
	ru.Close()
	if _, err := accounts.Put(ctx, "u", rotated, ver); err != nil {
		t.Fatal(err)
	}

	for pass, wantResealed := range []int{5, 0} {
		account, _, err := accounts.Get(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		eu, err := v.UnlockWithEscrow(ctx, "u", account, escrowID, "ops-bot", "ticket 18")
		if err != nil {
			t.Fatal(err)
		}
		st, err := v.ResealInStore(ctx, eu, records, accounts, nil)
		eu.Close()
		if err != nil {
			t.Fatalf("pass %d: ResealInStore: %v", pass, err)
		}
		if st.Resealed != wantResealed {
			t.Fatalf("pass %d: resealed %d, want %d (%+v)", pass, st.Resealed, wantResealed, st)
		}
	}
	account, _, err = accounts.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.OlderKeyGenerations()); n != 0 {
		t.Fatalf("%d older keys left after the escrow reseal, want 0", n)
	}
	if eu, err := v.UnlockWithEscrow(ctx, "u", account, escrowID, "ops-bot", "ticket 18"); err != nil {
		t.Fatalf("escrow stanza lost by the reseal: %v", err)
	} else {
		eu.Close()
	}
	pu := mustUnlock(t, v, "u", account, pw1)
	defer pu.Close()
	for label, text := range want {
		sealed, _, err := records.GetRecord(ctx, "u", label)
		if err != nil {
			t.Fatal(err)
		}
		if !pu.isCurrent(sealed) {
			t.Fatalf("%s not under the current key", label)
		}
		if got, err := pu.Open(label, sealed); err != nil || string(got) != text {
			t.Fatalf("%s: %q, %v", label, got, err)
		}
	}
}
