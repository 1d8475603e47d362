package pgstore_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// localKEK is a stand-in for a KMS key (tink.AEAD): AES-256-GCM in memory.
type localKEK struct{ g cipher.AEAD }

func newLocalKEK(t *testing.T) *localKEK {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	b, err := aes.NewCipher(k)
	require.NoError(t, err)
	g, err := cipher.NewGCMWithRandomNonce(b)
	require.NoError(t, err)
	return &localKEK{g}
}

func (k *localKEK) Encrypt(pt, ad []byte) ([]byte, error) { return k.g.Seal(nil, nil, pt, ad), nil }
func (k *localKEK) Decrypt(ct, ad []byte) ([]byte, error) { return k.g.Open(nil, nil, ct, ad) }

func keyring(t *testing.T, kek *localKEK, cur serverkey.WrappedKey, older ...serverkey.WrappedKey) *serverkey.Keyring {
	kr, err := serverkey.New(serverkey.Config{KEK: kek, Current: cur, Older: older})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return kr
}

// sqlKeyStore opens shred's database/sql key store on the test schema.
func sqlKeyStore(t *testing.T, dsn string) *shred.SQLKeyStore {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ks, err := shred.NewSQLKeyStore(db, shred.PostgreSQL, "piivault_shred_keys")
	require.NoError(t, err)
	require.NoError(t, ks.CreateTable(t.Context()))
	require.NoError(t, ks.CreateTable(t.Context()), "CREATE TABLE IF NOT EXISTS runs twice")
	return ks
}

func TestShredSQLKeyStoreContractOnPostgres(t *testing.T) {
	ctx := t.Context()
	ks := sqlKeyStore(t, pgtest.DSN(t))
	_, err := ks.Get(ctx, "user-jane")
	require.ErrorIs(t, err, shred.ErrNoKey)
	require.NoError(t, ks.Put(ctx, "user-jane", []byte("wrapped-1")))
	require.ErrorIs(t, ks.Put(ctx, "user-jane", []byte("wrapped-2")), shred.ErrExists)
	got, err := ks.Get(ctx, "user-jane")
	require.NoError(t, err)
	require.Equal(t, "wrapped-1", string(got), "Put never overwrites")
	require.NoError(t, ks.Delete(ctx, "user-jane"))
	require.NoError(t, ks.Delete(ctx, "user-jane"), "idempotent")
	_, err = ks.Get(ctx, "user-jane")
	require.ErrorIs(t, err, shred.ErrNoKey)

	// Concurrent first writes of one user's key: exactly one lands.
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { errs[i] = ks.Put(ctx, "user-race", fmt.Appendf(nil, "key-%d", i)) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			require.ErrorIs(t, err, shred.ErrExists)
		}
	}
	require.Equal(t, 1, wins)
}

func TestShredLayerOnPostgresShredReachesARestoredBackupAndKeysRotate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	accounts := pgtest.Store(t)
	ks := sqlKeyStore(t, dsn)
	kek := newLocalKEK(t)
	oldDK, err := serverkey.GenerateDataKey(ctx, kek, "shred-2026-05", nil)
	require.NoError(t, err)
	l, err := shred.New(shred.Config{Keys: ks, Keyring: keyring(t, kek, oldDK)})
	require.NoError(t, err)
	s := l.Store(accounts)
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	for _, uid := range []string{"user-jane", "user-john"} {
		_, err = v.EnrollInStore(ctx, s, uid, []byte("pw"))
		require.NoError(t, err)
	}
	raw, _, err := accounts.Get(ctx, "user-jane")
	require.NoError(t, err)
	require.True(t, shred.IsLayered(raw), "the row holds layered bytes")

	// Rotate the data key: serverkey.Rotate walks the key table (Page,
	// Replace) and re-wraps every user key; the old data key then goes.
	newDK, err := serverkey.GenerateDataKey(ctx, kek, "shred-2026-11", nil)
	require.NoError(t, err)
	p, err := serverkey.Rotate(ctx, keyring(t, kek, newDK, oldDK), ks, serverkey.RotateOptions{PageSize: 1})
	require.NoError(t, err)
	require.Equal(t, 2, p.Rotated)
	l2, err := shred.New(shred.Config{Keys: ks, Keyring: keyring(t, kek, newDK)})
	require.NoError(t, err)
	s = l2.Store(accounts)
	u, err := v.UnlockInStore(ctx, s, "user-jane", []byte("pw"))
	require.NoError(t, err, "opens under the new data key alone")
	u.Close()

	// A backup of the account row, a shred, then the backup restored.
	backup, _, err := accounts.Get(ctx, "user-jane")
	require.NoError(t, err)
	require.NoError(t, s.Shred(ctx, "user-jane"))
	_, err = ks.Get(ctx, "user-jane")
	require.ErrorIs(t, err, shred.ErrNoKey)
	_, err = accounts.Put(ctx, "user-jane", backup, 0)
	require.NoError(t, err)
	_, err = v.UnlockInStore(ctx, s, "user-jane", []byte("pw"))
	require.ErrorIs(t, err, vault.ErrWrongSecret, "the restored backup opens with no secret")
	_, _, err = s.Get(ctx, "user-jane")
	require.True(t, errors.Is(err, shred.ErrShredded))
	u, err = v.UnlockInStore(ctx, s, "user-john", []byte("pw"))
	require.NoError(t, err, "the other user is untouched")
	u.Close()
}
