package shred_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// backup copies what a nightly backup would hold: every account record
// of the main database, or every row of the key table.
func backupAccounts(t *testing.T, s *vault.MemStore, ids ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, id := range ids {
		b, _, err := s.Get(t.Context(), id)
		require.NoError(t, err)
		out[id] = b
	}
	return out
}

func restoreAccounts(t *testing.T, b map[string][]byte) *vault.MemStore {
	s := vault.NewMemStore()
	for id, acct := range b {
		_, err := s.Put(t.Context(), id, acct, 0)
		require.NoError(t, err)
	}
	return s
}

func backupKeys(t *testing.T, k shred.KeyStore, ids ...string) *shred.MemKeyStore {
	out := shred.NewMemKeyStore()
	for _, id := range ids {
		w, err := k.Get(t.Context(), id)
		if errors.Is(err, shred.ErrNoKey) {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, out.Put(t.Context(), id, w))
	}
	return out
}

func TestRestoredBackupAfterShredOpensWithNoSecret(t *testing.T) {
	// A deployment with everything on: HPKE escrow, a pepper, the shred
	// layer. Jane enrolls and seals a record; a backup of the main
	// database and of the key table is taken; Jane is shredded; the main
	// database is restored from the backup, the key table is not (its
	// short-retention backups have expired).
	ctx := t.Context()
	priv, err := escrow.GenerateKey(escrow.SuiteP256) // FIPS-approved, so the test also runs under GODEBUG=fips140=only
	require.NoError(t, err)
	fp, err := escrow.FingerprintOf(priv.PublicKey())
	require.NoError(t, err)
	escR, err := escrow.NewRecipient(priv.PublicKey(), fp, "account-recovery")
	require.NoError(t, err)
	escID, err := escrow.NewIdentity(priv, "account-recovery")
	require.NoError(t, err)
	pepper := bytes.Repeat([]byte{0x42}, 32)
	v := newVault(t, vault.Config{Escrow: escR, Pepper: pepper})

	kms := newFakeKMS(t)
	kr := newKeyring(t, kms)
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: kr})
	require.NoError(t, err)
	main := vault.NewMemStore()
	s := l.Store(main)

	password := []byte("correct horse battery staple")
	pk, err := v.EnrollInStore(ctx, s, jane, password)
	require.NoError(t, err)
	_, err = v.EnrollInStore(ctx, s, john, []byte("john's password"))
	require.NoError(t, err)
	u, err := v.UnlockInStore(ctx, s, jane, password)
	require.NoError(t, err)
	record, err := u.Seal("pii", []byte(`{"name":"Jane Q. Sample","ssn":"900-12-3456"}`))
	require.NoError(t, err)
	u.Close()

	dbBackup := backupAccounts(t, main, jane, john)
	keyBackup := backupKeys(t, keys, jane, john)
	require.True(t, shred.IsLayered(dbBackup[jane]), "the main database holds only layered bytes")

	require.NoError(t, s.Shred(ctx, jane))
	_, _, err = main.Get(ctx, jane)
	require.ErrorIs(t, err, vault.ErrNotFound)

	// Restore the main database; the key table is today's.
	restored := l.Store(restoreAccounts(t, dbBackup))
	opensNothing := func(s vault.Store) {
		t.Helper()
		// A shredded user is an unknown user: the vault answers as for a
		// wrong password (no enumeration).
		_, err := v.UnlockInStore(ctx, s, jane, password)
		require.ErrorIs(t, err, vault.ErrWrongSecret, "password")
		_, _, err = s.Get(ctx, jane)
		require.ErrorIs(t, err, shred.ErrShredded)
		require.ErrorIs(t, err, vault.ErrNotFound)
		_, err = v.RecoverInStore(ctx, s, jane, pk, []byte("new password"))
		require.ErrorIs(t, err, shred.ErrShredded, "personal key")
		_, err = v.RecoverWithEscrowInStore(ctx, s, jane, escID, []byte("new password"), "agent-7", "ticket-1")
		require.ErrorIs(t, err, shred.ErrShredded, "escrow")
	}
	opensNothing(restored)

	// Bypassing the layer: the raw backup bytes are not an account record
	// any secret opens, and the server's own keys (keyring, pepper) do not
	// peel the layer without the deleted row.
	raw := dbBackup[jane]
	_, _, err = v.Unlock(ctx, jane, raw, password)
	require.Error(t, err)
	_, _, err = v.Recover(ctx, jane, raw, pk, []byte("new password"))
	require.Error(t, err)
	_, _, err = v.RecoverWithEscrow(ctx, jane, raw, escID, []byte("new password"), "agent-7", "ticket-1")
	require.Error(t, err)
	_, err = l.Unwrap(ctx, jane, raw)
	require.ErrorIs(t, err, shred.ErrShredded)
	// Not even with John's key row copied under Jane's id.
	johnKey, err := keys.Get(ctx, john)
	require.NoError(t, err)
	forged := shred.NewMemKeyStore()
	require.NoError(t, forged.Put(ctx, jane, johnKey))
	lf, err := shred.New(shred.Config{Keys: forged, Keyring: kr})
	require.NoError(t, err)
	_, err = lf.Unwrap(ctx, jane, raw)
	require.ErrorIs(t, err, serverkey.ErrDecrypt, "a user key is bound to its user")

	// John, not shredded, still opens from the restored backup.
	uj, err := v.UnlockInStore(ctx, restored, john, []byte("john's password"))
	require.NoError(t, err)
	uj.Close()

	// Control: had the key table been restored from its old backup too,
	// Jane would be back. This is why its backups must be short-lived.
	lOld, err := shred.New(shred.Config{Keys: keyBackup, Keyring: kr})
	require.NoError(t, err)
	back := lOld.Store(restoreAccounts(t, dbBackup))
	u2, err := v.UnlockInStore(ctx, back, jane, password)
	require.NoError(t, err, "control: the old key table opens the old backup")
	pt, err := u2.Open("pii", record)
	require.NoError(t, err)
	require.Contains(t, string(pt), "Jane Q. Sample")
	u2.Close()
}

func TestUnlockCostsOneKeyLookupAndNoKMSCallAfterWarm(t *testing.T) {
	ctx := t.Context()
	kms := newFakeKMS(t)
	kr := newKeyring(t, kms) // warmed: 1 KMS call
	keys := &countingKeys{KeyStore: shred.NewMemKeyStore()}
	l, err := shred.New(shred.Config{Keys: keys, Keyring: kr})
	require.NoError(t, err)
	s := l.Store(vault.NewMemStore())
	v := newVault(t, vault.Config{})
	_, err = v.EnrollInStore(ctx, s, jane, []byte("pw"))
	require.NoError(t, err)

	kmsBefore, getsBefore := kms.decrypts.Load(), keys.gets.Load()
	for range 5 {
		u, err := v.UnlockInStore(ctx, s, jane, []byte("pw"))
		require.NoError(t, err)
		u.Close()
	}
	require.EqualValues(t, 5, keys.gets.Load()-getsBefore, "one key look-up per unlock")
	require.Zero(t, kms.decrypts.Load()-kmsBefore, "no KMS call after start-up")
	require.EqualValues(t, 1, kr.Unwraps())
}

func TestLifecycleThroughTheLayeredStore(t *testing.T) {
	ctx := t.Context()
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	s := l.Store(vault.NewMemStore())
	v := newVault(t, vault.Config{})
	pk, err := v.EnrollInStore(ctx, s, jane, []byte("one"))
	require.NoError(t, err)
	_, err = v.EnrollInStore(ctx, s, jane, []byte("again"))
	require.ErrorIs(t, err, vault.ErrConflict)
	require.NoError(t, v.ChangePasswordInStore(ctx, s, jane, []byte("one"), []byte("two")))
	_, err = v.UnlockInStore(ctx, s, jane, []byte("one"))
	require.ErrorIs(t, err, vault.ErrWrongSecret)
	pk2, err := v.RecoverInStore(ctx, s, jane, pk, []byte("three"))
	require.NoError(t, err)
	require.False(t, pk2.IsZero())
	u, err := v.UnlockInStore(ctx, s, jane, []byte("three"))
	require.NoError(t, err)
	u.Close()
	require.NoError(t, v.ShredInStore(ctx, s, jane))
	_, err = v.UnlockInStore(ctx, s, jane, []byte("three"))
	require.ErrorIs(t, err, vault.ErrWrongSecret, "a shredded user looks unknown")
	_, err = l.Unwrap(ctx, jane, []byte("PVSH\x03"+string(make([]byte, envelope.RecordOverhead))))
	require.ErrorIs(t, err, shred.ErrShredded, "ShredInStore through the decorator deletes the key")
}

func TestLayeredRecordMovedToAnotherUserDoesNotOpen(t *testing.T) {
	ctx := t.Context()
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	a, err := l.Wrap(ctx, jane, []byte("account bytes"))
	require.NoError(t, err)
	_, err = l.Wrap(ctx, john, []byte("john's"))
	require.NoError(t, err)
	_, err = l.Unwrap(ctx, john, a)
	require.ErrorIs(t, err, envelope.ErrCommitment)
	for i := range a {
		bad := bytes.Clone(a)
		bad[i] ^= 0x10
		out, err := l.Unwrap(ctx, jane, bad)
		require.Error(t, err, "byte %d", i)
		require.Nil(t, out)
	}
	got, err := l.Unwrap(ctx, jane, a)
	require.NoError(t, err)
	require.Equal(t, "account bytes", string(got))
}

func TestUnlayeredRecordsRefusedUnlessAllowedThenMigrated(t *testing.T) {
	ctx := t.Context()
	kr := newKeyring(t, newFakeKMS(t))
	keys := shred.NewMemKeyStore()
	main := vault.NewMemStore()
	v := newVault(t, vault.Config{})
	// Enrolled before the layer existed.
	for _, id := range []string{jane, john} {
		_, err := v.EnrollInStore(ctx, main, id, []byte("pw"))
		require.NoError(t, err)
	}
	strict, err := shred.New(shred.Config{Keys: keys, Keyring: kr})
	require.NoError(t, err)
	_, err = v.UnlockInStore(ctx, strict.Store(main), jane, []byte("pw"))
	require.ErrorIs(t, err, shred.ErrNotLayered)

	lax, err := shred.New(shred.Config{Keys: keys, Keyring: kr, AllowUnlayered: true})
	require.NoError(t, err)
	u, err := v.UnlockInStore(ctx, lax.Store(main), jane, []byte("pw"))
	require.NoError(t, err)
	u.Close()
	n, err := lax.Store(main).MigrateAll(ctx, []string{jane, john, "user-missing"})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = lax.Store(main).MigrateAll(ctx, []string{jane, john})
	require.NoError(t, err)
	require.Zero(t, n, "idempotent")
	u, err = v.UnlockInStore(ctx, strict.Store(main), john, []byte("pw"))
	require.NoError(t, err)
	u.Close()
	require.Equal(t, 2, keys.Len())
}

func TestConcurrentFirstWritesAgreeOnOneKey(t *testing.T) {
	ctx := t.Context()
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	out := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			b, err := l.Wrap(ctx, jane, fmt.Appendf(nil, "v%d", i))
			if err != nil {
				t.Error(err)
			}
			out[i] = b
		})
	}
	wg.Wait()
	require.Equal(t, 1, keys.Len())
	for i, b := range out {
		got, err := l.Unwrap(ctx, jane, b)
		require.NoError(t, err, "writer %d used the key that was kept", i)
		require.Equal(t, fmt.Sprintf("v%d", i), string(got))
	}
}

// failingDelete makes the inner Store's Delete fail once.
type failingDelete struct {
	*vault.MemStore
	fail bool
}

func (f *failingDelete) Delete(ctx context.Context, uid string, ver uint64) error {
	if f.fail {
		f.fail = false
		return errInjected
	}
	return f.MemStore.Delete(ctx, uid, ver)
}

func TestShredDeletesTheKeyFirstAndCanBeRetried(t *testing.T) {
	ctx := t.Context()
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	inner := &failingDelete{MemStore: vault.NewMemStore(), fail: true}
	s := l.Store(inner)
	v := newVault(t, vault.Config{})
	_, err = v.EnrollInStore(ctx, s, jane, []byte("pw"))
	require.NoError(t, err)
	require.ErrorIs(t, s.Shred(ctx, jane), errInjected)
	require.Zero(t, keys.Len(), "the key went first")
	_, _, err = s.Get(ctx, jane)
	require.ErrorIs(t, err, shred.ErrShredded, "already unopenable")
	require.NoError(t, s.Shred(ctx, jane), "retry finishes")
	_, _, err = inner.Get(ctx, jane)
	require.ErrorIs(t, err, vault.ErrNotFound)
	require.NoError(t, s.Shred(ctx, jane), "and is idempotent")
}

func TestDeleteConflictDeletesNothing(t *testing.T) {
	ctx := t.Context()
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	s := l.Store(vault.NewMemStore())
	_, err = s.Put(ctx, jane, []byte("acct"), 0)
	require.NoError(t, err)
	require.ErrorIs(t, s.Delete(ctx, jane, 999), vault.ErrConflict)
	require.Equal(t, 1, keys.Len())
	_, _, err = s.Get(ctx, jane)
	require.NoError(t, err)
}

func TestAttributesSealedUnderTheUserKeyAreShreddedWithIt(t *testing.T) {
	ctx := t.Context()
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	ct, err := l.SealAttribute(ctx, jane, "email", []byte("jane@example.com"))
	require.NoError(t, err)
	pt, err := l.OpenAttribute(ctx, jane, "email", ct)
	require.NoError(t, err)
	require.Equal(t, "jane@example.com", string(pt))
	_, err = l.OpenAttribute(ctx, jane, "phone", ct)
	require.ErrorIs(t, err, envelope.ErrCommitment)
	_, err = l.Unwrap(ctx, jane, ct)
	require.ErrorIs(t, err, envelope.ErrCommitment, "an attribute is not an account record")
	require.NoError(t, l.Shred(ctx, jane))
	_, err = l.OpenAttribute(ctx, jane, "email", ct)
	require.ErrorIs(t, err, shred.ErrShredded)
}

func TestBadInputRefused(t *testing.T) {
	_, err := shred.New(shred.Config{})
	require.ErrorIs(t, err, shred.ErrInvalidInput)
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	_, err = l.Wrap(t.Context(), "", nil)
	require.ErrorIs(t, err, shred.ErrInvalidInput)
	_, err = l.Wrap(t.Context(), jane, make([]byte, shred.MaxAccountSize+1))
	require.ErrorIs(t, err, shred.ErrInvalidInput)
	_, err = l.Unwrap(t.Context(), jane, nil)
	require.ErrorIs(t, err, shred.ErrNotLayered)
	_, err = l.Unwrap(t.Context(), jane, []byte("PVSH\x01short"))
	require.ErrorIs(t, err, shred.ErrMalformed)
	_, err = l.Unwrap(t.Context(), jane, append([]byte("PVSH\x02"), make([]byte, envelope.RecordOverhead)...))
	require.ErrorIs(t, err, shred.ErrMalformed)
	require.Zero(t, l.Lookups(), "refused before any key look-up")
}

// shredBetween shreds the user between the vault's Get and its Put.
type shredBetween struct {
	*shred.Store
	once bool
}

func (s *shredBetween) Get(ctx context.Context, uid string) ([]byte, uint64, error) {
	acct, ver, err := s.Store.Get(ctx, uid)
	if err == nil && !s.once {
		s.once = true
		if err := s.Store.Shred(ctx, uid); err != nil {
			return nil, 0, err
		}
	}
	return acct, ver, err
}

func TestAnUpdateRacingWithShredCannotBringTheUserBack(t *testing.T) {
	ctx := t.Context()
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	main := vault.NewMemStore()
	v := newVault(t, vault.Config{})
	_, err = v.EnrollInStore(ctx, l.Store(main), jane, []byte("pw"))
	require.NoError(t, err)

	racing := &shredBetween{Store: l.Store(main)}
	err = v.ChangePasswordInStore(ctx, racing, jane, []byte("pw"), []byte("new pw"))
	require.ErrorIs(t, err, vault.ErrConflict)
	require.ErrorIs(t, err, shred.ErrShredded)
	require.Zero(t, keys.Len(), "no key was created for the shredded user")
	_, _, err = main.Get(ctx, jane)
	require.ErrorIs(t, err, vault.ErrNotFound)

	// Without the rule (a Put that may create keys), the same race would
	// leave a record and a fresh key: that is what Rewrap prevents.
	_, err = l.Rewrap(ctx, jane, []byte("account"))
	require.ErrorIs(t, err, shred.ErrShredded)
	_, err = l.Wrap(ctx, jane, []byte("account"))
	require.NoError(t, err)
	require.Equal(t, 1, keys.Len(), "Wrap (enrollment) does create one")
}

func TestEscrowRotationThroughTheLayerSkipsShreddedUsers(t *testing.T) {
	ctx := t.Context()
	pair := func() (*escrow.Recipient, *escrow.Identity) {
		priv, err := escrow.GenerateKey(escrow.SuiteP256)
		require.NoError(t, err)
		fp, err := escrow.FingerprintOf(priv.PublicKey())
		require.NoError(t, err)
		r, err := escrow.NewRecipient(priv.PublicKey(), fp, "account-recovery")
		require.NoError(t, err)
		id, err := escrow.NewIdentity(priv, "account-recovery")
		require.NoError(t, err)
		return r, id
	}
	oldR, oldID := pair()
	newR, newID := pair()
	v := newVault(t, vault.Config{Escrow: oldR})
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	s := l.Store(vault.NewMemStore())
	ids := []string{"user-a", "user-b", "user-c"}
	for _, id := range ids {
		_, err := v.EnrollInStore(ctx, s, id, []byte("pw"))
		require.NoError(t, err)
	}
	require.NoError(t, s.Shred(ctx, "user-b"))
	st, err := escrow.RotateAll(ctx, s, ids, oldID, newR, escrow.Audit{Logger: slog.New(slog.DiscardHandler), Actor: "agent-7", Reason: "ticket-1"}, 2, nil)
	require.NoError(t, err)
	require.Equal(t, 2, st.Changed)
	require.Equal(t, 1, st.Missing, "the shredded user is gone for escrow too")
	_, err = v.RecoverWithEscrowInStore(ctx, s, "user-a", newID, []byte("new"), "agent-7", "ticket-2")
	require.NoError(t, err, "escrow recovery works through the layer")
	_, err = v.RecoverWithEscrowInStore(ctx, s, "user-b", newID, []byte("new"), "agent-7", "ticket-3")
	require.ErrorIs(t, err, vault.ErrNotFound)
}
