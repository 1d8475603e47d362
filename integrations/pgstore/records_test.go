package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/vault"
)

func TestRecordStoreCompareAndSwap(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Store(t)
	_, _, err := s.GetRecord(ctx, "u", "ssn")
	require.ErrorIs(t, err, vault.ErrNotFound)
	_, err = s.PutRecord(ctx, "u", "ssn", []byte("a"), 5)
	require.ErrorIs(t, err, vault.ErrConflict)
	v1, err := s.PutRecord(ctx, "u", "ssn", []byte("a"), 0)
	require.NoError(t, err)
	_, err = s.PutRecord(ctx, "u", "ssn", []byte("b"), 0)
	require.ErrorIs(t, err, vault.ErrConflict)
	v2, err := s.PutRecord(ctx, "u", "ssn", []byte("b"), v1)
	require.NoError(t, err)
	require.NotEqual(t, v1, v2)
	_, err = s.PutRecord(ctx, "u", "ssn", []byte("c"), v1)
	require.ErrorIs(t, err, vault.ErrConflict)
	got, ver, err := s.GetRecord(ctx, "u", "ssn")
	require.NoError(t, err)
	require.Equal(t, "b", string(got))
	require.Equal(t, v2, ver)
	_, err = s.PutRecord(ctx, "u", "pii", []byte("p"), 0)
	require.NoError(t, err)
	_, err = s.PutRecord(ctx, "other", "zz", []byte("p"), 0)
	require.NoError(t, err)
	labels, err := s.Labels(ctx, "u")
	require.NoError(t, err)
	require.Equal(t, []string{"pii", "ssn"}, labels, "the user's labels only, sorted")

	long := strings.Repeat("x", vault.MaxLabelLen+1)
	_, err = pgstore.New(nil).PutRecord(ctx, "u", long, []byte("a"), 0)
	require.ErrorIs(t, err, vault.ErrInvalidInput, "checked before any query (nil pool)")
	_, err = pgstore.New(nil).PutRecord(ctx, "u", "l", make([]byte, pgstore.MaxRecordBytes+1), 0)
	require.ErrorIs(t, err, vault.ErrInvalidInput)
}

// crashRecords fails every PutRecord after the first ok.
type crashRecords struct {
	*pgstore.Store
	ok, n atomic.Int64
}

func (c *crashRecords) PutRecord(ctx context.Context, uid, label string, sealed []byte, ver uint64) (uint64, error) {
	if c.n.Add(1) > c.ok.Load() {
		return 0, errCrash
	}
	return c.Store.PutRecord(ctx, uid, label, sealed, ver)
}

func TestResealInStoreOnPostgresCrashesResumesAndDropsOlderKeys(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Store(t)
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	const uid = "user-reseal"
	pk, err := v.EnrollInStore(ctx, s, uid, []byte("pw"))
	require.NoError(t, err)
	u, err := v.UnlockInStore(ctx, s, uid, []byte("pw"))
	require.NoError(t, err)
	want := map[string]string{}
	for i := range 6 {
		label := fmt.Sprintf("rec-%d", i)
		want[label] = fmt.Sprintf("synthetic value %d", i)
		sealed, err := u.Seal(label, []byte(want[label]))
		require.NoError(t, err)
		_, err = s.PutRecord(ctx, uid, label, sealed, 0)
		require.NoError(t, err)
	}
	u.Close()
	// Recovery rotates the account key; the records are still under the old.
	npk, err := v.RecoverInStore(ctx, s, uid, pk, []byte("a new pass phrase, long enough"))
	require.NoError(t, err)
	npk.Destroy()
	u, err = v.UnlockInStore(ctx, s, uid, []byte("a new pass phrase, long enough"))
	require.NoError(t, err)
	defer u.Close()

	cr := &crashRecords{Store: s}
	cr.ok.Store(2)
	st, err := v.ResealInStore(ctx, u, cr, s, nil)
	require.True(t, errors.Is(err, errCrash), "%v", err)
	require.Equal(t, 2, st.Resealed)
	require.False(t, st.DroppedOlderKeys)
	check := func() {
		for label, pt := range want {
			sealed, _, err := s.GetRecord(ctx, uid, label)
			require.NoError(t, err)
			got, err := u.Open(label, sealed)
			require.NoError(t, err, "record %s opens after the crash", label)
			require.Equal(t, pt, string(got))
		}
	}
	check()

	st, err = v.ResealInStore(ctx, u, s, s, nil)
	require.NoError(t, err)
	require.Equal(t, vault.ResealStats{Resealed: 4, Current: 2, DroppedOlderKeys: true}, st)
	u.Close()
	u, err = v.UnlockInStore(ctx, s, uid, []byte("a new pass phrase, long enough"))
	require.NoError(t, err)
	check()
}
