package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// rotation is one way to give an account a new key: it returns the new
// account and the secrets of before it (password, personal key) and after.
type rotation struct {
	name string
	run  func(t *testing.T, v *Vault, account []byte, pk PersonalKey, esc envelope.Identity) ([]byte, PersonalKey)
}

var rotations = []rotation{
	{"Recover", func(t *testing.T, v *Vault, account []byte, pk PersonalKey, _ envelope.Identity) ([]byte, PersonalKey) {
		out, npk, err := v.Recover(context.Background(), "u", account, pk, pw2)
		if err != nil {
			t.Fatal(err)
		}
		return out, npk
	}},
	{"RecoverWithEscrow", func(t *testing.T, v *Vault, account []byte, _ PersonalKey, esc envelope.Identity) ([]byte, PersonalKey) {
		out, npk, err := v.RecoverWithEscrow(context.Background(), "u", account, esc, pw2, "agent-7", "ticket 9")
		if err != nil {
			t.Fatal(err)
		}
		return out, npk
	}},
	{"ChangePasswordAndRotate", func(t *testing.T, v *Vault, account []byte, _ PersonalKey, _ envelope.Identity) ([]byte, PersonalKey) {
		out, npk, err := v.ChangePasswordAndRotate(context.Background(), "u", account, pw1, pw2)
		if err != nil {
			t.Fatal(err)
		}
		return out, npk
	}},
}

func TestRotationOldAccountAndOldSecretsOpenNothingSealedAfter(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		for _, rot := range rotations {
			t.Run(prof.name+"/"+rot.name, func(t *testing.T) {
				escR, escID := newEscrow(t, "kms-1")
				v, _ := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escR })
				oldAccount, oldPK, err := v.Enroll(ctx, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				u := mustUnlock(t, v, "u", oldAccount, pw1)
				before, _ := u.Seal("pii", []byte("sealed before"))
				u.Close()

				newAccount, newPK := rot.run(t, v, oldAccount, oldPK, escID)
				if newPK.IsZero() || newPK == oldPK {
					t.Fatal("rotation did not issue a new personal key")
				}
				nu := mustUnlock(t, v, "u", newAccount, pw2)
				defer nu.Close()
				if nu.KeyGeneration() != 1 {
					t.Fatalf("key generation %d after rotation, want 1", nu.KeyGeneration())
				}
				after, _ := nu.Seal("pii", []byte("sealed after"))
				for _, r := range [][]byte{before, after} {
					if _, err := nu.Open("pii", r); err != nil {
						t.Fatalf("new account does not open a record: %v", err)
					}
				}
				// Every secret of before the rotation, with the old account
				// record put back: nothing sealed after opens.
				oldByPw := mustUnlock(t, v, "u", oldAccount, pw1)
				defer oldByPw.Close()
				oldByPK, err := unlockWithPK(t, "u", oldAccount, oldPK)
				if err != nil {
					t.Fatal(err)
				}
				defer oldByPK.Close()
				oldByEscrow := unlockWith(t, "u", oldAccount, escID)
				defer oldByEscrow.Close()
				for i, old := range []*Unlocked{oldByPw, oldByPK, oldByEscrow} {
					// The record names a newer key generation than the old
					// account's: reported as a rollback.
					if pt, err := old.Open("pii", after); err == nil {
						t.Fatalf("old secret %d with the old account opens a record sealed after the rotation: %q", i, pt)
					} else if !errors.Is(err, ErrRolledBack) {
						t.Fatalf("old secret %d: %v", i, err)
					}
					// And not only by that check: the old key, whatever
					// generation it is used under, does not open it.
					for gen := uint32(0); gen <= 2; gen++ {
						rk, err := envelope.NewRecordKeyForGeneration(old.key, gen, nil)
						if err != nil {
							t.Fatal(err)
						}
						if _, err := rk.Open(nil, envelope.Binding{UserID: "u", Label: "pii"}, after); err == nil {
							t.Fatalf("old key %d at generation %d opens a record sealed after the rotation", i, gen)
						}
					}
				}
				// And the old secrets do not open the new account.
				if _, _, err := v.Unlock(ctx, "u", newAccount, pw1); !errors.Is(err, ErrWrongSecret) {
					t.Fatalf("old password on the new account: %v", err)
				}
				if err := opensWithPK(t, "u", newAccount, oldPK); !errors.Is(err, ErrWrongSecret) {
					t.Fatalf("old personal key on the new account: %v", err)
				}
				if err := opensWithPK(t, "u", newAccount, newPK); err != nil {
					t.Fatalf("new personal key: %v", err)
				}
			})
		}
	}
}

// unlockWith opens an account with any envelope identity (test only).
func unlockWith(t *testing.T, userID string, account []byte, id envelope.Identity) *Unlocked {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatal(err)
	}
	key, err := unwrap(context.Background(), h, userID, id)
	if err != nil {
		t.Fatal(err)
	}
	defer clear(key)
	u, err := newUnlockedFrom(userID, h, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRecoverRotatesByDefaultAndKeepKeyOnRecoverTurnsItOff(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.KeepKeyOnRecover = keep })
		account, pk, err := v.Enroll(ctx, "u", pw1)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := v.Recover(ctx, "u", account, pk, pw2)
		if err != nil {
			t.Fatal(err)
		}
		u := mustUnlock(t, v, "u", out, pw2)
		if got, want := u.KeyGeneration(), map[bool]uint32{false: 1, true: 0}[keep]; got != want {
			t.Fatalf("KeepKeyOnRecover=%v: key generation %d, want %d", keep, got, want)
		}
		u.Close()
	}
}

func TestRotationCostsNoExtraKDFRun(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			v, _ := newTestVault(t, prof.weak)
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			v.kdfRuns.Store(0)
			rec, _, err := v.Recover(ctx, "u", account, pk, pw2)
			if err != nil {
				t.Fatal(err)
			}
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("Recover with rotation ran the KDF %d times, want 1", n)
			}
			v.kdfRuns.Store(0)
			rot, _, err := v.ChangePasswordAndRotate(ctx, "u", rec, pw2, pw3)
			if err != nil {
				t.Fatal(err)
			}
			if n := v.kdfRuns.Load(); n != 2 {
				t.Fatalf("ChangePasswordAndRotate ran the KDF %d times, want 2", n)
			}
			v.kdfRuns.Store(0)
			_, _, u, err := v.RotateAccountKey(ctx, "u", rot, pw3)
			if err != nil {
				t.Fatal(err)
			}
			u.Close()
			if n := v.kdfRuns.Load(); n != 2 {
				t.Fatalf("RotateAccountKey ran the KDF %d times, want 2", n)
			}
		})
	}
}

func TestGenerationRisesWithEveryWriteAndRollbackIsDetected(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	a1, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := v.ChangePassword(ctx, "u", a1, pw1, pw2)
	if err != nil {
		t.Fatal(err)
	}
	a3, _, err := v.Recover(ctx, "u", a2, pk, pw3)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		account []byte
		pw      []byte
	}{{a1, pw1}, {a2, pw2}, {a3, pw3}} {
		u := mustUnlock(t, v, "u", c.account, c.pw)
		if u.Generation() != uint64(i+1) {
			t.Fatalf("account %d: generation %d", i, u.Generation())
		}
		if g, err := AccountGeneration(c.account); err != nil || g != u.Generation() {
			t.Fatalf("AccountGeneration %d, %v", g, err)
		}
		u.Close()
	}
	// The caller saw generation 3; the old record put back, with the old
	// password that it still accepts, is refused.
	if _, _, err := v.UnlockWithOptions(ctx, "u", a2, pw2, UnlockOptions{MinGeneration: 3}); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("rolled-back account: %v", err)
	}
	if _, _, err := v.UnlockWithOptions(ctx, "u", a1, pw1, UnlockOptions{MinGeneration: 2}); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("rolled-back account: %v", err)
	}
	u, _, err := v.UnlockWithOptions(ctx, "u", a3, pw3, UnlockOptions{MinGeneration: 3})
	if err != nil {
		t.Fatalf("current account: %v", err)
	}
	u.Close()
	// The generation is authenticated: raising it in the bytes breaks the
	// header MAC, so it cannot be used to dodge the check.
	forged := bytes.Clone(a2)
	forged[6+7] = 9 // low byte of the generation
	if _, _, err := v.UnlockWithOptions(ctx, "u", forged, pw2, UnlockOptions{MinGeneration: 3}); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrWrongSecret) {
		t.Fatalf("forged generation: %v", err)
	}
	// Through a Store as well.
	s := NewMemStore()
	if _, err := s.Put(ctx, "u", a2, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.UnlockInStoreWithOptions(ctx, s, "u", pw2, UnlockOptions{MinGeneration: 3}); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("rolled back in store: %v", err)
	}
}

func TestVersion1AccountIsUpgradedOnUnlockWithoutAKDFRun(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			g, account, pk := readGolden(t, prof)
			v, _ := newTestVault(t, prof.weak)
			u, up, err := v.Unlock(ctx, g.UserID, account, []byte(g.Password))
			if err != nil {
				t.Fatal(err)
			}
			u.Close()
			if n := v.kdfRuns.Load(); n != 1 {
				t.Fatalf("unlocking and upgrading a version-1 account ran the KDF %d times, want 1", n)
			}
			if up == nil {
				t.Fatal("version-1 account not upgraded")
			}
			h, err := envelope.ParseHeader(up)
			if err != nil || h.Version() != envelope.Version3 || h.Generation() != 1 {
				t.Fatalf("upgraded: %v", err)
			}
			if got := passwordParams(t, up); got != passwordParams(t, account) {
				t.Fatal("upgrade changed the password stanza")
			}
			u2, again, err := v.Unlock(ctx, g.UserID, up, []byte(g.Password))
			if err != nil || again != nil {
				t.Fatalf("upgraded account: %v, upgraded again %v", err, again != nil)
			}
			defer u2.Close()
			if err := opensWithPK(t, g.UserID, up, pk); err != nil {
				t.Fatalf("personal key on the upgraded account: %v", err)
			}
			for _, r := range g.Records {
				if got, err := u2.Open(r.Label, mustHexT(t, r.Sealed)); err != nil || string(got) != r.Plaintext {
					t.Fatalf("golden record %s: %v", r.Label, err)
				}
			}
			// Recovering the version-1 account rotates its key; its
			// version-1 records (key generation 0) still open.
			rec, _, err := v.Recover(ctx, g.UserID, account, pk, pw3)
			if err != nil {
				t.Fatal(err)
			}
			u3 := mustUnlock(t, v, g.UserID, rec, pw3)
			defer u3.Close()
			if u3.KeyGeneration() != 1 {
				t.Fatalf("key generation %d", u3.KeyGeneration())
			}
			for _, r := range g.Records {
				if got, resealed, err := u3.OpenReseal(r.Label, mustHexT(t, r.Sealed)); err != nil || string(got) != r.Plaintext || resealed == nil {
					t.Fatalf("golden record %s after rotation: %v", r.Label, err)
				}
			}
		})
	}
}

func TestOpenResealMovesOldRecordsToTheCurrentKey(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u := mustUnlock(t, v, "u", account, pw1)
	old, _ := u.Seal("pii", []byte("old record"))
	u.Close()
	account, _, err = v.Recover(ctx, "u", account, pk, pw2)
	if err != nil {
		t.Fatal(err)
	}
	nu := mustUnlock(t, v, "u", account, pw2)
	defer nu.Close()
	pt, resealed, err := nu.OpenReseal("pii", old)
	if err != nil || string(pt) != "old record" || resealed == nil {
		t.Fatalf("OpenReseal of an old record: %q, resealed %v, %v", pt, resealed != nil, err)
	}
	pt, again, err := nu.OpenReseal("pii", resealed)
	if err != nil || string(pt) != "old record" || again != nil {
		t.Fatalf("OpenReseal of a resealed record: %q, resealed again %v, %v", pt, again != nil, err)
	}
	// The resealed record is under the new key: the old key does not open it.
	ou := mustUnlockT(t, v, "u", account, pw2)
	ou.older = nil
	if _, err := ou.Open("pii", resealed); err != nil {
		t.Fatalf("resealed record needs an older key: %v", err)
	}
	ou.Close()
}

func mustUnlockT(t *testing.T, v *Vault, uid string, account, pw []byte) *Unlocked {
	t.Helper()
	return mustUnlock(t, v, uid, account, pw)
}

func TestCanonicalRewrapDropsUnknownAndUnconfiguredStanzas(t *testing.T) {
	ctx := context.Background()
	type op struct {
		name string
		run  func(v *Vault, account []byte, pk PersonalKey) ([]byte, error)
	}
	ops := []op{
		{"ChangePassword", func(v *Vault, a []byte, _ PersonalKey) ([]byte, error) {
			return v.ChangePassword(ctx, "u", a, pw1, pw2)
		}},
		{"Recover", func(v *Vault, a []byte, pk PersonalKey) ([]byte, error) {
			out, _, err := v.Recover(ctx, "u", a, pk, pw2)
			return out, err
		}},
		{"ChangePasswordAndRotate", func(v *Vault, a []byte, _ PersonalKey) ([]byte, error) {
			out, _, err := v.ChangePasswordAndRotate(ctx, "u", a, pw1, pw2)
			return out, err
		}},
		{"Unlock upgrade", func(v *Vault, a []byte, _ PersonalKey) ([]byte, error) {
			u, up, err := v.Unlock(ctx, "u", a, pw1)
			if err != nil {
				return nil, err
			}
			u.Close()
			if up == nil {
				return nil, fmt.Errorf("no upgrade")
			}
			return up, nil
		}},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			v, _ := newTestVault(t, testPolicy(t)) // escrow off
			account, pk, err := v.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			// A key holder added an escrow stanza, an unknown stanza and a
			// second recovery stanza (the Unlock case also makes the account
			// version 1 so that it is upgraded).
			escR, _ := newEscrow(t, "kms-x")
			extra := addStanzas(t, account, pk, o.name == "Unlock upgrade", escR, staticStanza{Type: "x-unknown", Body: []byte{1, 2, 3}})
			out, err := o.run(v, extra, pk)
			if err != nil {
				t.Fatal(err)
			}
			if got := stanzaTypes(t, out); !sameTypes(got, []string{envelope.TypePassword, envelope.TypeRecovery}) {
				t.Fatalf("stanzas after %s with escrow off: %v", o.name, got)
			}
		})
	}
}

// staticStanza is a Recipient that writes one fixed stanza.
type staticStanza envelope.Stanza

func (s staticStanza) Wrap(context.Context, []byte, envelope.Binding) ([]*envelope.Stanza, error) {
	st := envelope.Stanza(s)
	return []*envelope.Stanza{&st}, nil
}

// addStanzas returns account with stanzas for extra added (opened with the
// personal key); as version 1 when v1 is set.
func addStanzas(t *testing.T, account []byte, pk PersonalKey, v1 bool, extra ...envelope.Recipient) []byte {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatal(err)
	}
	kb := pk.bytes()
	id, _ := envelope.NewRecoveryIdentity(kb)
	key, err := unwrap(context.Background(), h, "u", id)
	if err != nil {
		t.Fatal(err)
	}
	b := accountBinding("u")
	var nh *envelope.Header
	if v1 {
		nh, err = envelope.WrapKey(context.Background(), key, b, append(recipientsFor(t, h), extra...)...)
	} else {
		nh, err = h.RewrapWith(context.Background(), key, b, envelope.RewrapOptions{Add: extra})
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := nh.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recipientsFor re-emits h's stanzas as static recipients.
func recipientsFor(t *testing.T, h *envelope.Header) []envelope.Recipient {
	var out []envelope.Recipient
	for _, s := range h.Stanzas {
		out = append(out, staticStanza(*s))
	}
	return out
}

func TestCanonicalRewrapKeepsTheConfiguredEscrowStanza(t *testing.T) {
	ctx := context.Background()
	escR, escID := newEscrow(t, "kms-1")
	owner := &owningRecipient{Recipient: escR}
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = owner })
	account, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	escStanza := func(a []byte) []byte {
		h, _ := envelope.ParseHeader(a)
		for _, s := range h.Stanzas {
			if s.Type == envelope.TypeAEAD {
				return s.Body
			}
		}
		t.Fatal("no escrow stanza")
		return nil
	}
	before := escStanza(account)
	owner.wraps = 0
	out, err := v.ChangePassword(ctx, "u", account, pw1, pw2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(escStanza(out), before) || owner.wraps != 0 {
		t.Fatalf("ChangePassword rewrapped the configured escrow stanza (%d wraps)", owner.wraps)
	}
	if got := stanzaTypes(t, out); !sameTypes(got, []string{envelope.TypePassword, envelope.TypeRecovery, envelope.TypeAEAD}) {
		t.Fatalf("stanzas: %v", got)
	}
	// A rotation wraps the new key for the escrow afresh.
	rot, _, err := v.ChangePasswordAndRotate(ctx, "u", out, pw2, pw3)
	if err != nil {
		t.Fatal(err)
	}
	if owner.wraps != 1 || bytes.Equal(escStanza(rot), before) {
		t.Fatal("rotation did not wrap the new key for the escrow")
	}
	u := unlockWith(t, "u", rot, escID)
	u.Close()
}

type owningRecipient struct {
	envelope.Recipient
	wraps int
}

func (o *owningRecipient) Wrap(ctx context.Context, key []byte, b envelope.Binding) ([]*envelope.Stanza, error) {
	o.wraps++
	return o.Recipient.Wrap(ctx, key, b)
}

func (o *owningRecipient) Owns(s *envelope.Stanza) bool {
	return s.Type == envelope.TypeAEAD && string(s.KeyID) == "kms-1"
}

func mustHexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecoverAfterMaxOlderKeysRotationsKeepsWorking(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range envelope.MaxOlderKeys + 2 {
		if account, pk, err = v.Recover(ctx, "u", account, pk, pw2); err != nil {
			t.Fatalf("recovery %d: %v", i, err)
		}
	}
	u := mustUnlock(t, v, "u", account, pw2)
	defer u.Close()
	if u.KeyGeneration() != envelope.MaxOlderKeys {
		t.Fatalf("key generation %d, want %d (rotation stops when the key ring is full)", u.KeyGeneration(), envelope.MaxOlderKeys)
	}
	// An explicit rotation says why it cannot.
	if _, _, err := v.ChangePasswordAndRotate(ctx, "u", account, pw2, pw3); !errors.Is(err, envelope.ErrTooLarge) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("explicit rotation with a full key ring: %v", err)
	}
	// After a reseal drops the older keys, rotation works again.
	s, rs := NewMemStore(), NewMemRecordStore()
	if _, err := s.Put(ctx, "u", account, 0); err != nil {
		t.Fatal(err)
	}
	if st, err := v.ResealInStore(ctx, u, rs, s, nil); err != nil || !st.DroppedOlderKeys {
		t.Fatalf("reseal: %+v %v", st, err)
	}
	if _, err := v.ChangePasswordAndRotateInStore(ctx, s, "u", pw2, pw3); err != nil {
		t.Fatalf("rotation after the reseal: %v", err)
	}
}
