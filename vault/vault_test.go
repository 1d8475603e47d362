package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

func TestEnrollUnlockSealOpenRoundTrip(t *testing.T) {
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			ctx := context.Background()
			v, _ := newTestVault(t, prof.weak)
			account, pk, err := v.Enroll(ctx, "user-1", pw1)
			if err != nil {
				t.Fatalf("Enroll: %v", err)
			}
			if pk.IsZero() {
				t.Fatal("Enroll returned a zero personal key")
			}
			if got, want := stanzaTypes(t, account), []string{envelope.TypePassword, envelope.TypeRecovery}; !sameTypes(got, want) {
				t.Fatalf("stanzas %v, want %v (escrow off: no escrow stanza)", got, want)
			}
			if got := passwordParams(t, account); got != prof.weak.New {
				t.Fatalf("password params %+v, want the policy's New %+v", got, prof.weak.New)
			}
			u := mustUnlock(t, v, "user-1", account, pw1)
			defer u.Close()
			if u.UserID() != "user-1" {
				t.Fatalf("UserID %q", u.UserID())
			}
			sealed, err := u.Seal("notes", []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Open("notes", sealed)
			if err != nil || string(got) != "hello" {
				t.Fatalf("Open = %q, %v", got, err)
			}
			sid, err := u.SealIdentity("pii", janeSample)
			if err != nil {
				t.Fatal(err)
			}
			id, err := u.OpenIdentity("pii", sid)
			if err != nil {
				t.Fatal(err)
			}
			if *id != *janeSample {
				t.Fatalf("OpenIdentity = %+v, want %+v", id, janeSample)
			}
		})
	}
}

func TestUnlockCostsExactlyOneKDFRun(t *testing.T) {
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			ctx := context.Background()
			v, _ := newTestVault(t, prof.weak)
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("Enroll ran the KDF %d times, want 1", n)
			}
			v.kdfRuns.Store(0)
			u, upgraded, err := v.Unlock(ctx, "u", account, pw1)
			if err != nil {
				t.Fatal(err)
			}
			u.Close()
			if upgraded != nil {
				t.Fatal("account at policy was upgraded")
			}
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("Unlock ran the KDF %d times, want exactly 1", n)
			}
			v.kdfRuns.Store(0)
			if _, _, err := v.Unlock(ctx, "u", account, pw2); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("wrong password: %v", err)
			}
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("failed Unlock ran the KDF %d times, want exactly 1", n)
			}
			v.kdfRuns.Store(0)
			if _, err := v.ChangePassword(ctx, "u", account, pw1, pw2); err != nil {
				t.Fatal(err)
			}
			if n := v.kdfRuns.Load(); n != 2 {
				t.Fatalf("ChangePassword ran the KDF %d times, want 2 (check old, wrap new)", n)
			}
			v.kdfRuns.Store(0)
			if _, _, err := v.Recover(ctx, "u", account, pk, pw3); err != nil {
				t.Fatal(err)
			}
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("Recover ran the password KDF %d times, want 1 (wrap new)", n)
			}
		})
	}
}

func TestUnlockWrongPasswordIsErrWrongSecret(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u, up, err := v.Unlock(ctx, "u", account, pw2)
	if u != nil || up != nil {
		t.Fatal("failed Unlock returned a handle or a record")
	}
	expectErr(t, err, ErrWrongSecret)
	expectErr(t, err, envelope.ErrNoMatch)
	// The account is bound to its user id: another id does not open it.
	_, _, err = v.Unlock(ctx, "someone-else", account, pw1)
	if err == nil {
		t.Fatal("account opened under another user id")
	}
}

func TestUnlockRefusesBadInputBeforeDeriving(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	v.kdfRuns.Store(0)
	for name, tc := range map[string]struct {
		userID  string
		account []byte
		want    error
	}{
		"empty user id":   {"", account, ErrInvalidInput},
		"long user id":    {string(make([]byte, MaxUserIDLen+1)), account, ErrInvalidInput},
		"empty account":   {"u", nil, ErrUnrecoverable},
		"zeroed account":  {"u", make([]byte, len(account)), ErrUnrecoverable},
		"garbage account": {"u", []byte("not an envelope header"), envelope.ErrMalformed},
	} {
		_, _, err := v.Unlock(ctx, tc.userID, tc.account, pw1)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	if n := v.kdfRuns.Load(); n != 0 {
		t.Fatalf("refused inputs ran the KDF %d times", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := v.Unlock(cctx, "u", account, pw1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestUnlockRefusesParamsOverCapsBeforeDeriving(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			// Enroll under a generous policy, then unlock under one whose
			// caps are below the stored parameters.
			big := prof.strong
			v1, _ := newTestVault(t, big)
			account, _, err := v1.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			small := prof.weak
			small.Caps = kdf.Caps{MaxMemoryKiB: small.New.MemoryKiB, MaxPasses: 1, MaxThreads: 1, MaxPBKDF2Iterations: small.New.Iterations}
			v2, _ := newTestVault(t, small)
			_, _, err = v2.Unlock(ctx, "u", account, pw1)
			expectErr(t, err, kdf.ErrParamsTooCostly)
			if n := v2.kdfRuns.Load(); n != 0 {
				t.Fatalf("over-cap parameters ran the KDF %d times", n)
			}
		})
	}
}

func TestUnlockUpgradesParamsBelowPolicy(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			weak, _ := newTestVault(t, prof.weak)
			account, pk, err := weak.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			u := mustUnlock(t, weak, "u", account, pw1)
			rec, err := u.Seal("pii", []byte("record"))
			u.Close()
			if err != nil {
				t.Fatal(err)
			}
			strong, audit := newTestVault(t, prof.strong)
			u2, upgraded, err := strong.Unlock(ctx, "u", account, pw1)
			if err != nil {
				t.Fatal(err)
			}
			u2.Close()
			if upgraded == nil {
				t.Fatal("account below the policy floor was not upgraded")
			}
			if n := strong.kdfRuns.Load(); n != 2 {
				t.Fatalf("upgrading Unlock ran the KDF %d times, want 2 (open, rewrap)", n)
			}
			if got := passwordParams(t, upgraded); got != prof.strong.New {
				t.Fatalf("upgraded params %+v, want %+v", got, prof.strong.New)
			}
			if !bytes.Contains([]byte(audit.String()), []byte(`"event":"params_upgrade"`)) {
				t.Fatal("upgrade not audited")
			}
			// The upgraded record opens with the same password, records
			// still open, the personal key still works, and it needs no
			// further upgrade.
			strong.kdfRuns.Store(0)
			u3, again, err := strong.Unlock(ctx, "u", upgraded, pw1)
			if err != nil {
				t.Fatal(err)
			}
			defer u3.Close()
			if again != nil {
				t.Fatal("upgraded account upgraded again")
			}
			if n := strong.kdfRuns.Load(); n != 1 {
				t.Fatalf("Unlock after upgrade ran the KDF %d times, want 1", n)
			}
			if got, err := u3.Open("pii", rec); err != nil || string(got) != "record" {
				t.Fatalf("record after upgrade: %q, %v", got, err)
			}
			if err := opensWithPK(t, "u", upgraded, pk); err != nil {
				t.Fatalf("personal key after upgrade: %v", err)
			}
		})
	}
}

func TestChangePasswordKeepsRecordsAndRevokesOldPassword(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			v, _ := newTestVault(t, prof.weak)
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			u := mustUnlock(t, v, "u", account, pw1)
			rec, err := u.SealIdentity("pii", janeSample)
			u.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.ChangePassword(ctx, "u", account, pw2, pw3); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("ChangePassword with a wrong old password: %v", err)
			}
			changed, err := v.ChangePassword(ctx, "u", account, pw1, pw2)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := v.Unlock(ctx, "u", changed, pw1); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("old password on the changed account: %v", err)
			}
			u2 := mustUnlock(t, v, "u", changed, pw2)
			defer u2.Close()
			id, err := u2.OpenIdentity("pii", rec)
			if err != nil || *id != *janeSample {
				t.Fatalf("record after password change: %+v, %v", id, err)
			}
			// Only the password stanza changed: the personal key still opens.
			if err := opensWithPK(t, "u", changed, pk); err != nil {
				t.Fatalf("personal key after password change: %v", err)
			}
			if _, err := v.ChangePassword(ctx, "u", account, pw1, nil); !errors.Is(err, kdf.ErrPasswordRejected) {
				t.Fatalf("empty new password: %v", err)
			}
		})
	}
}

func TestRecoverIssuesNewPersonalKeyAndRevokesOldSecrets(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			v, _ := newTestVault(t, prof.weak)
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			u := mustUnlock(t, v, "u", account, pw1)
			rec, err := u.Seal("ssn", []byte(janeSample.SSN))
			u.Close()
			if err != nil {
				t.Fatal(err)
			}
			other, _, err := v.Enroll(ctx, "u2", pw1)
			if err != nil {
				t.Fatal(err)
			}
			_ = other
			wrongPK, err := newPersonalKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := v.Recover(ctx, "u", account, wrongPK, pw2); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("Recover with a wrong personal key: %v", err)
			}
			if _, _, err := v.Recover(ctx, "u", account, PersonalKey{}, pw2); !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("Recover with a zero personal key: %v", err)
			}
			recovered, newPK, err := v.Recover(ctx, "u", account, pk, pw2)
			if err != nil {
				t.Fatal(err)
			}
			if newPK.IsZero() || newPK.Equal(pk) {
				t.Fatal("Recover did not issue a new personal key")
			}
			if got, want := stanzaTypes(t, recovered), []string{envelope.TypePassword, envelope.TypeRecovery}; !sameTypes(got, want) {
				t.Fatalf("stanzas after recovery %v, want %v", got, want)
			}
			if err := opensWithPK(t, "u", recovered, pk); !errors.Is(err, envelope.ErrNoMatch) {
				t.Fatalf("old personal key after recovery: %v", err)
			}
			if _, _, err := v.Recover(ctx, "u", recovered, pk, pw3); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("Recover again with the old personal key: %v", err)
			}
			if _, _, err := v.Unlock(ctx, "u", recovered, pw1); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("old password after recovery: %v", err)
			}
			if err := opensWithPK(t, "u", recovered, newPK); err != nil {
				t.Fatalf("new personal key: %v", err)
			}
			u2 := mustUnlock(t, v, "u", recovered, pw2)
			defer u2.Close()
			if got, err := u2.Open("ssn", rec); err != nil || string(got) != janeSample.SSN {
				t.Fatalf("record after recovery: %v", err)
			}
		})
	}
}

func TestRecoverWithEscrowKeepsEscrowAndAuditsActor(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			escrowRecip, escrowID := newEscrow(t, "kms-key-1")
			v, audit := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escrowRecip })
			if !v.EscrowEnabled() {
				t.Fatal("EscrowEnabled false with Config.Escrow set")
			}
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			types := stanzaTypes(t, account)
			if !sameTypes(types, []string{envelope.TypePassword, envelope.TypeRecovery, envelope.TypeAEAD}) {
				t.Fatalf("stanzas %v, want password, recovery, escrow", types)
			}
			u := mustUnlock(t, v, "u", account, pw1)
			rec, _ := u.Seal("pii", []byte("x"))
			u.Close()

			_, wrongID := newEscrow(t, "kms-key-1")
			if _, _, err := v.RecoverWithEscrow(ctx, "u", account, wrongID, pw2, "agent-7", "ticket 42"); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("wrong escrow key: %v", err)
			}
			if _, _, err := v.RecoverWithEscrow(ctx, "u", account, escrowID, pw2, "", "ticket 42"); !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("missing actor: %v", err)
			}
			out, newPK, err := v.RecoverWithEscrow(ctx, "u", account, escrowID, pw2, "agent-7", "ticket 42")
			if err != nil {
				t.Fatal(err)
			}
			if got := stanzaTypes(t, out); !sameTypes(got, types) {
				t.Fatalf("stanzas after escrow recovery %v, want %v", got, types)
			}
			if newPK.Equal(pk) {
				t.Fatal("escrow recovery kept the personal key")
			}
			if err := opensWithPK(t, "u", out, pk); err == nil {
				t.Fatal("old personal key opens after escrow recovery")
			}
			u2 := mustUnlock(t, v, "u", out, pw2)
			defer u2.Close()
			if _, err := u2.Open("pii", rec); err != nil {
				t.Fatal(err)
			}
			// The escrow stanza survived: escrow still opens.
			if _, _, err := v.RecoverWithEscrow(ctx, "u", out, escrowID, pw3, "agent-7", "ticket 43"); err != nil {
				t.Fatalf("escrow after escrow recovery: %v", err)
			}
			log := audit.String()
			for _, want := range []string{`"event":"escrow_recover"`, `"actor":"agent-7"`, `"reason":"ticket 42"`} {
				if !bytes.Contains([]byte(log), []byte(want)) {
					t.Fatalf("audit log lacks %s:\n%s", want, log)
				}
			}
		})
	}
}

func TestRecoverWithEscrowOffIsUnrecoverable(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	_, escrowID := newEscrow(t, "k")
	_, _, err = v.RecoverWithEscrow(ctx, "u", account, escrowID, pw2, "agent", "reason")
	expectErr(t, err, ErrUnrecoverable)
}

func TestShredLeavesNoSecretThatOpensRecords(t *testing.T) {
	ctx := context.Background()
	escrowRecip, escrowID := newEscrow(t, "k")
	v, audit := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escrowRecip })

	t.Run("stateless", func(t *testing.T) {
		account, pk, err := v.Enroll(ctx, "u", pw1)
		if err != nil {
			t.Fatal(err)
		}
		u := mustUnlock(t, v, "u", account, pw1)
		rec, _ := u.Seal("pii", []byte("x"))
		u.Close()
		if err := v.Shred(ctx, "u", account); err != nil {
			t.Fatal(err)
		}
		if !isShredded(account) {
			t.Fatal("Shred left bytes in the caller's account record")
		}
		if _, _, err := v.Unlock(ctx, "u", account, pw1); !errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("password after Shred: %v", err)
		}
		if _, _, err := v.Recover(ctx, "u", account, pk, pw2); !errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("personal key after Shred: %v", err)
		}
		if _, _, err := v.RecoverWithEscrow(ctx, "u", account, escrowID, pw2, "a", "r"); !errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("escrow after Shred: %v", err)
		}
		if _, err := u.Open("pii", rec); !errors.Is(err, ErrClosed) {
			t.Fatalf("closed handle after Shred: %v", err)
		}
	})
	t.Run("store", func(t *testing.T) {
		s := NewMemStore()
		pk, err := v.EnrollInStore(ctx, s, "u", pw1)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.ShredInStore(ctx, s, "u"); err != nil {
			t.Fatal(err)
		}
		// An unknown user looks like a wrong password (no enumeration).
		if _, err := v.UnlockInStore(ctx, s, "u", pw1); !errors.Is(err, ErrWrongSecret) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("password after ShredInStore: %v", err)
		}
		if _, err := v.RecoverInStore(ctx, s, "u", pk, pw2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("personal key after ShredInStore: %v", err)
		}
		if _, err := v.RecoverWithEscrowInStore(ctx, s, "u", escrowID, pw2, "a", "r"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("escrow after ShredInStore: %v", err)
		}
		if err := v.ShredInStore(ctx, s, "u"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second ShredInStore: %v", err)
		}
	})
	if n := bytes.Count([]byte(audit.String()), []byte(`"event":"shred"`)); n != 3 {
		t.Fatalf("%d shred events audited, want 3", n)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	pol := testPolicy(t)
	below := pol
	below.New.Iterations /= 2
	below.New.MemoryKiB /= 2
	for name, cfg := range map[string]Config{
		"short pepper":    {Policy: pol, Pepper: make([]byte, 31)},
		"negative budget": {Policy: pol, MemoryBudget: -1},
		"new below floor": {Policy: below},
		"new not allowed": {Policy: kdf.Policy{New: pol.New, Caps: kdf.DefaultCaps()}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if v, err := New(Config{}); err != nil || v.Policy() != kdf.DefaultPolicy() {
		t.Fatalf("zero Config: %v", err)
	}
	if v, err := New(FIPSConfig()); err != nil || v.Policy().New.Algorithm != kdf.PBKDF2SHA256 {
		t.Fatalf("FIPSConfig: %v", err)
	}
}

func TestPepperIsRequiredToUnlock(t *testing.T) {
	ctx := context.Background()
	pepper := bytes.Repeat([]byte{7}, 32)
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Pepper = pepper })
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	mustUnlock(t, v, "u", account, pw1).Close()
	noPepper, _ := newTestVault(t, testPolicy(t))
	if _, _, err := noPepper.Unlock(ctx, "u", account, pw1); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("unlock without the pepper: %v", err)
	}
}
