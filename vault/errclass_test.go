package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// wrongSecretRange returns the byte range of an account record where a
// corruption is by design indistinguishable from a wrong password: the
// password stanza's KDF parameters, salt and commitment (the stanza
// commitment covers them, so the right password fails it exactly as a
// wrong one does).
func wrongSecretRange(t *testing.T, account []byte) (lo, hi int) {
	t.Helper()
	off := 6
	if account[4] == envelope.Version3 {
		off += 12
	}
	n := int(account[off])
	off++
	for range n {
		tl := int(account[off])
		typ := string(account[off+1 : off+1+tl])
		off += 1 + tl
		kl := int(account[off])
		off += 1 + kl
		bl := int(binary.BigEndian.Uint16(account[off:]))
		off += 2
		if typ == envelope.TypePassword {
			pl := int(account[off])
			// params length byte .. end of the stanza commitment
			return off, off + 1 + pl + kdf.SaltSize + envelope.CommitmentSize
		}
		off += bl
	}
	t.Fatal("no password stanza")
	return 0, 0
}

// TestEveryBitFlipOfAnAccountIsCorruptOrAWrongSecretOnlyWhereDocumented
// flips every bit of a version-3 account record and of the version-1
// golden record, unlocks with the right password, and checks the error
// class: ErrCorrupt, or ErrWrongSecret only inside the documented range,
// or a refusal of the KDF parameters; never ErrUnrecoverable, never
// success.
func TestEveryBitFlipOfAnAccountIsCorruptOrAWrongSecretOnlyWhereDocumented(t *testing.T) {
	if testing.Short() {
		t.Skip("one KDF run per bit")
	}
	ctx := context.Background()
	prof := profiles(t)[0]
	v, _ := newTestVault(t, prof.weak)
	v3, _, err := v.Enroll(ctx, "00000000-0000-4000-8000-000000000001", pw1)
	if err != nil {
		t.Fatal(err)
	}
	g, v1, _ := readGolden(t, prof)
	for _, c := range []struct {
		name    string
		account []byte
		pw      []byte
	}{{"version-3", v3, pw1}, {"version-1-golden", v1, []byte(g.Password)}} {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := wrongSecretRange(t, c.account)
			counts := map[string]int{}
			for i := 0; i < len(c.account)*8; i++ {
				bad := bytes.Clone(c.account)
				bad[i/8] ^= 1 << (i % 8)
				u, _, err := v.Unlock(ctx, g.UserID, bad, c.pw)
				switch {
				case err == nil:
					u.Close()
					t.Fatalf("bit %d flipped: the account still unlocks", i)
				case errors.Is(err, ErrUnrecoverable):
					t.Fatalf("bit %d flipped: ErrUnrecoverable (%v)", i, err)
				case errors.Is(err, ErrWrongSecret):
					if i/8 < lo || i/8 >= hi {
						t.Fatalf("bit %d (byte %d) flipped: ErrWrongSecret outside the documented range %d..%d", i, i/8, lo, hi)
					}
					counts["wrong_secret"]++
				case errors.Is(err, ErrCorrupt):
					counts["corrupt"]++
				case errors.Is(err, kdf.ErrParamsTooCostly), errors.Is(err, kdf.ErrParamsNotAllowed):
					if i/8 < lo || i/8 >= hi {
						t.Fatalf("bit %d flipped: parameters refused outside the parameters", i)
					}
					counts["params_refused"]++
				default:
					t.Fatalf("bit %d flipped: unclassified error %v", i, err)
				}
			}
			t.Logf("%d bits: %v", len(c.account)*8, counts)
		})
	}
}

func TestMissingPasswordOrPersonalKeyStanzaIsCorrupt(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{envelope.TypePassword, envelope.TypeRecovery} {
		i := bytes.Index(account, []byte(typ))
		bad := bytes.Clone(account)
		bad[i+len(typ)-1] ^= 1 // "passwore", "recoverx": an unknown type
		_, _, uerr := v.Unlock(ctx, "u", bad, pw1)
		_, _, rerr := v.Recover(ctx, "u", bad, pk, pw2)
		err := uerr
		if typ == envelope.TypeRecovery {
			err = rerr
		}
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("%s stanza type flipped: %v", typ, err)
		}
	}
}

func TestPasswordErrorsAreInvalidInput(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	account, pk, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, {}, {0xff, 0xfe}, bytes.Repeat([]byte("a"), 5000)} {
		if _, _, err := v.Enroll(ctx, "u2", bad); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Enroll with %q...: %v", bad[:min(len(bad), 4)], err)
		}
		if _, _, err := v.Unlock(ctx, "u", account, bad); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Unlock: %v", err)
		}
		if _, err := v.ChangePassword(ctx, "u", account, pw1, bad); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("ChangePassword: %v", err)
		}
		if _, _, err := v.Recover(ctx, "u", account, pk, bad); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Recover: %v", err)
		}
	}
}

func TestNilInputsReturnErrorsNotPanics(t *testing.T) {
	ctx := context.Background()
	var zero Vault
	var nilV *Vault
	v, _ := newTestVault(t, testPolicy(t))
	account, pk, _ := v.Enroll(ctx, "u", pw1)
	s := NewMemStore()
	var nilCtx context.Context
	var nilU *Unlocked
	for name, err := range map[string]error{
		"zero Vault Enroll":     func() error { _, _, err := zero.Enroll(ctx, "u", pw1); return err }(),
		"zero Vault Unlock":     func() error { _, _, err := zero.Unlock(ctx, "u", account, pw1); return err }(),
		"nil Vault Recover":     func() error { _, _, err := nilV.Recover(ctx, "u", account, pk, pw2); return err }(),
		"nil Vault Shred":       nilV.Shred(ctx, "u", account),
		"zero Vault InStore":    func() error { _, err := zero.UnlockInStore(ctx, s, "u", pw1); return err }(),
		"nil ctx Enroll":        func() error { _, _, err := v.Enroll(nilCtx, "u", pw1); return err }(),
		"nil ctx Unlock":        func() error { _, _, err := v.Unlock(nilCtx, "u", account, pw1); return err }(),
		"nil ctx Recover":       func() error { _, _, err := v.Recover(nilCtx, "u", account, pk, pw2); return err }(),
		"nil ctx UnlockInStore": func() error { _, err := v.UnlockInStore(nilCtx, s, "u", pw1); return err }(),
		"nil store":             func() error { _, err := v.EnrollInStore(ctx, nil, "u", pw1); return err }(),
		"nil Unlocked Seal":     func() error { _, err := nilU.Seal("pii", []byte("x")); return err }(),
		"nil Unlocked Open":     func() error { _, err := nilU.Open("pii", []byte("x")); return err }(),
		"nil Identity seal": func() error {
			u := mustUnlock(t, v, "u", account, pw1)
			defer u.Close()
			_, err := u.SealIdentity("pii", nil)
			return err
		}(),
		"nil Identity Validate": (*Identity)(nil).Validate(),
	} {
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	nilU.Close()
	if zero.Policy() != (kdf.Policy{}) || nilV.EscrowEnabled() {
		t.Fatal("zero Vault accessors")
	}
}

func TestOversizedAccountIsRefusedBeforeItIsRead(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	big := make([]byte, envelope.MaxHeaderSize+1) // all zeros: would read as shredded if scanned
	_, _, err := v.Unlock(ctx, "u", big, pw1)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrTooLarge) || errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("oversized account: %v", err)
	}
}
