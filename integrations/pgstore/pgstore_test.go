package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/vault"
)

func TestCompareAndSwapOnTheVersionColumn(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Store(t)
	_, _, err := s.Get(ctx, "u")
	require.ErrorIs(t, err, vault.ErrNotFound)
	_, err = s.Put(ctx, "u", []byte("a"), 7)
	require.ErrorIs(t, err, vault.ErrConflict, "a version on a missing account")
	v1, err := s.Put(ctx, "u", []byte("a"), 0)
	require.NoError(t, err)
	require.NotZero(t, v1)
	_, err = s.Put(ctx, "u", []byte("b"), 0)
	require.ErrorIs(t, err, vault.ErrConflict, "create over an existing account")
	v2, err := s.Put(ctx, "u", []byte("b"), v1)
	require.NoError(t, err)
	require.NotEqual(t, v1, v2)
	_, err = s.Put(ctx, "u", []byte("c"), v1)
	require.ErrorIs(t, err, vault.ErrConflict, "a stale version")
	got, ver, err := s.Get(ctx, "u")
	require.NoError(t, err)
	require.Equal(t, "b", string(got))
	require.Equal(t, v2, ver)
	require.ErrorIs(t, s.Delete(ctx, "u", v1), vault.ErrConflict, "delete with a stale version")
	got, _, err = s.Get(ctx, "u")
	require.NoError(t, err)
	require.Equal(t, "b", string(got), "a refused delete deleted nothing")
	require.NoError(t, s.Delete(ctx, "u", v2))
	require.ErrorIs(t, s.Delete(ctx, "u", v2), vault.ErrNotFound)
	_, _, err = s.Get(ctx, "u")
	require.ErrorIs(t, err, vault.ErrNotFound)
	v3, err := s.Put(ctx, "u", []byte("d"), 0)
	require.NoError(t, err)
	require.NotContains(t, []uint64{v1, v2}, v3, "a version is never reused, even after delete and re-create")
	_, err = s.Put(ctx, "u", []byte("e"), 1<<63)
	require.ErrorIs(t, err, vault.ErrConflict, "a version beyond bigint matches no row")
	require.ErrorIs(t, s.Delete(ctx, "u", 1<<64-1), vault.ErrConflict)
}

func TestInvalidInputRefusedBeforeAnyQuery(t *testing.T) {
	// A Store on a nil pool: any query would panic, so these prove the
	// checks come first.
	s := pgstore.New(nil)
	ctx := context.Background()
	long := strings.Repeat("x", vault.MaxUserIDLen+1)
	for _, uid := range []string{"", long} {
		_, _, err := s.Get(ctx, uid)
		require.ErrorIs(t, err, vault.ErrInvalidInput)
		_, err = s.Put(ctx, uid, []byte("a"), 0)
		require.ErrorIs(t, err, vault.ErrInvalidInput)
		require.ErrorIs(t, s.Delete(ctx, uid, 1), vault.ErrInvalidInput)
	}
	_, err := s.Put(ctx, "u", nil, 0)
	require.ErrorIs(t, err, vault.ErrInvalidInput)
	_, err = s.Put(ctx, "u", make([]byte, pgstore.MaxAccountSize+1), 0)
	require.ErrorIs(t, err, vault.ErrInvalidInput)
	_, err = s.UserIDs(ctx, pgstore.Shard{}, "", 0)
	require.ErrorIs(t, err, vault.ErrInvalidInput)
	_, err = s.UserIDs(ctx, pgstore.Shard{Index: 3, Count: 3}, "", 10)
	require.ErrorIs(t, err, vault.ErrInvalidInput)
}

func TestOpenWithABadDSNDoesNotEchoIt(t *testing.T) {
	_, err := pgstore.Open(t.Context(), "postgres://u:s3cret-pw@127.0.0.1:notaport/db")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pw")
}

func TestCancelledContextStopsTheQuery(t *testing.T) {
	s := pgtest.Store(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := s.Get(ctx, "u")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Put(ctx, "u", []byte("a"), 0)
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = s.Get(t.Context(), "u")
	require.ErrorIs(t, err, vault.ErrNotFound, "the cancelled Put wrote nothing")
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	dsn := pgtest.DSN(t) // already migrated once
	var wg sync.WaitGroup
	errs := make([]error, 4)
	applied := make([][]int, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			applied[i], errs[i] = s.Migrate(t.Context())
		})
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i])
		require.Empty(t, applied[i], "a migration applied twice")
	}
	s, err := pgstore.Open(t.Context(), dsn)
	require.NoError(t, err)
	defer s.Close()
	var n int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM piivault_schema_migrations`).Scan(&n))
	require.Equal(t, len(pgstore.Migrations()), n)
}

func TestTableChecksRefuseRowsTheStoreWouldNeverWrite(t *testing.T) {
	s := pgtest.Store(t)
	for _, q := range []string{
		`INSERT INTO piivault_accounts (user_id, account, version) VALUES ('', '\x01', 1)`,
		`INSERT INTO piivault_accounts (user_id, account, version) VALUES ('u', '', 1)`,
		`INSERT INTO piivault_accounts (user_id, account, version) VALUES ('u', '\x01', 0)`,
	} {
		_, err := s.Pool().Exec(t.Context(), q)
		require.Error(t, err, q)
	}
}

// barrierStore makes n concurrent readers all read before any proceeds, so
// that their compare-and-swaps race on one version.
type barrierStore struct {
	vault.Store
	wg sync.WaitGroup
}

func (b *barrierStore) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	acc, ver, err := b.Store.Get(ctx, userID)
	b.wg.Done()
	b.wg.Wait()
	return acc, ver, err
}

func TestFiftyConcurrentChangePasswordInStoreOneWinsNothingLost(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Store(t)
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	pw := []byte("old password")
	_, err = v.EnrollInStore(ctx, s, "user-race", pw)
	require.NoError(t, err)
	const n = 50
	bs := &barrierStore{Store: s}
	bs.wg.Add(n)
	newPw := func(i int) []byte { return fmt.Appendf(nil, "new password number %d", i) }
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = v.ChangePasswordInStore(ctx, bs, "user-race", pw, newPw(i)) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two changes from the same old password both won")
			winner = i
			continue
		}
		require.ErrorIs(t, err, vault.ErrConflict, "loser %d", i)
	}
	require.NotEqual(t, -1, winner, "no change won")
	for i := range n {
		u, err := v.UnlockInStore(ctx, s, "user-race", newPw(i))
		if i == winner {
			require.NoError(t, err)
			u.Close()
		} else {
			require.ErrorIs(t, err, vault.ErrWrongSecret)
		}
	}
	_, err = v.UnlockInStore(ctx, s, "user-race", pw)
	require.ErrorIs(t, err, vault.ErrWrongSecret)
}

func TestFiftyUnsynchronisedChangesExactlyOneWins(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Store(t)
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	pw := []byte("old password")
	_, err = v.EnrollInStore(ctx, s, "user-race", pw)
	require.NoError(t, err)
	var wins, losses sync.Map
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			err := v.ChangePasswordInStore(ctx, s, "user-race", pw, fmt.Appendf(nil, "password number %d!", i))
			switch {
			case err == nil:
				wins.Store(i, true)
			case errors.Is(err, vault.ErrConflict), errors.Is(err, vault.ErrWrongSecret):
				losses.Store(i, true)
			default:
				t.Errorf("change %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	n := 0
	wins.Range(func(k, _ any) bool {
		n++
		u, err := v.UnlockInStore(ctx, s, "user-race", fmt.Appendf(nil, "password number %d!", k.(int)))
		require.NoError(t, err, "the winner's password opens the stored account")
		u.Close()
		return true
	})
	require.Equal(t, 1, n, "changes from the same old password that won")
}
