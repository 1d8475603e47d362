package serverkey_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/serverkey"
)

// fill stores n users' e-mail and phone under kr and returns the plaintexts.
func fill(t *testing.T, kr *serverkey.Keyring, s *serverkey.MemAttributeStore, n int) map[[2]string]string {
	want := map[[2]string]string{}
	for i := range n {
		uid := fmt.Sprintf("user-%04d", i)
		for name, v := range map[string]string{"email": uid + "@example.com", "phone": fmt.Sprintf("+1202555%04d", i)} {
			ct, err := kr.Seal(t.Context(), uid, name, []byte(v))
			require.NoError(t, err)
			s.Set(uid, name, ct)
			want[[2]string{uid, name}] = v
		}
	}
	return want
}

func checkAll(t *testing.T, kr *serverkey.Keyring, s *serverkey.MemAttributeStore, want map[[2]string]string) (onCurrent int) {
	for k, v := range want {
		ct := s.Get(k[0], k[1])
		pt, err := kr.Open(t.Context(), k[0], k[1], ct)
		require.NoError(t, err, "%v", k)
		require.Equal(t, v, string(pt))
		if !kr.NeedsRotation(ct) {
			onCurrent++
		}
	}
	return onCurrent
}

func TestRotateReencryptsEverythingUnderTheCurrentKeyWithProgress(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	s := serverkey.NewMemAttributeStore()
	want := fill(t, newRing(t, kms, k1), s, 50)

	kr := newRing(t, kms, k2, k1)
	var seen []serverkey.Progress
	p, err := serverkey.Rotate(t.Context(), kr, s, serverkey.RotateOptions{PageSize: 16, OnProgress: func(p serverkey.Progress) { seen = append(seen, p) }})
	require.NoError(t, err)
	require.Equal(t, 100, p.Scanned)
	require.Equal(t, 100, p.Rotated)
	require.Len(t, seen, 7) // ceil(100/16)
	for i := 1; i < len(seen); i++ {
		require.Greater(t, seen[i].Scanned, seen[i-1].Scanned, "progress rises")
	}
	require.EqualValues(t, 2, kr.Unwraps(), "one KMS call per data key for the whole rotation")
	require.Equal(t, 100, checkAll(t, newRing(t, kms, k2), s, want), "old key no longer needed")

	again, err := serverkey.Rotate(t.Context(), kr, s, serverkey.RotateOptions{})
	require.NoError(t, err)
	require.Equal(t, serverkey.Progress{Scanned: 100, Current: 100, Cursor: again.Cursor}, again, "a second run changes nothing")
}

// racingStore changes one value behind Rotate's back before its Replace.
type racingStore struct {
	*serverkey.MemAttributeStore
	kr       *serverkey.Keyring
	target   [2]string
	replaces atomic.Int64
}

func (r *racingStore) Replace(ctx context.Context, uid, name string, old, next []byte) error {
	if [2]string{uid, name} == r.target && r.replaces.Add(1) == 1 {
		ct, err := r.kr.Seal(ctx, uid, name, []byte("changed@example.com"))
		if err != nil {
			return err
		}
		r.Set(uid, name, ct)
	}
	return r.MemAttributeStore.Replace(ctx, uid, name, old, next)
}

func TestRotateNeverOverwritesAValueChangedConcurrently(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	mem := serverkey.NewMemAttributeStore()
	want := fill(t, newRing(t, kms, k1), mem, 10)
	kr := newRing(t, kms, k2, k1)
	target := [2]string{"user-0003", "email"}
	s := &racingStore{MemAttributeStore: mem, kr: kr, target: target}
	p, err := serverkey.Rotate(t.Context(), kr, s, serverkey.RotateOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, p.Conflicts)
	require.Equal(t, 19, p.Rotated)
	want[target] = "changed@example.com"
	require.Equal(t, 20, checkAll(t, kr, mem, want), "the concurrent write survives")
}

// crashingStore fails every Replace after ok of them.
type crashingStore struct {
	*serverkey.MemAttributeStore
	ok, n int
}

var errCrash = errors.New("injected crash")

func (c *crashingStore) Replace(ctx context.Context, uid, name string, old, next []byte) error {
	if c.n++; c.n > c.ok {
		return errCrash
	}
	return c.MemAttributeStore.Replace(ctx, uid, name, old, next)
}

func TestRotateCrashLeavesEverythingReadableAndResumesFromCursor(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	mem := serverkey.NewMemAttributeStore()
	want := fill(t, newRing(t, kms, k1), mem, 30)
	kr := newRing(t, kms, k2, k1)
	var last serverkey.Progress
	_, err := serverkey.Rotate(t.Context(), kr, &crashingStore{MemAttributeStore: mem, ok: 25}, serverkey.RotateOptions{PageSize: 10, OnProgress: func(p serverkey.Progress) { last = p }})
	require.ErrorIs(t, err, errCrash)
	require.Equal(t, 25, checkAll(t, kr, mem, want), "everything opens; 25 already moved")
	require.Equal(t, 20, last.Rotated)

	p, err := serverkey.Rotate(t.Context(), kr, mem, serverkey.RotateOptions{PageSize: 10, Cursor: last.Cursor})
	require.NoError(t, err)
	require.Equal(t, 40, p.Scanned, "resumed after the last completed page")
	require.Equal(t, 35, p.Rotated)
	require.Equal(t, 60, checkAll(t, kr, mem, want))
}

func TestRotateCountsOrStopsOnValuesThatDoNotOpen(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	mem := serverkey.NewMemAttributeStore()
	fill(t, newRing(t, kms, k1), mem, 3)
	mem.Set("user-0001", "phone", mem.Get("user-0002", "phone")) // moved row
	mem.Set("user-0000", "junk", []byte("not a ciphertext"))
	kr := newRing(t, kms, k2, k1)
	_, err := serverkey.Rotate(t.Context(), kr, mem, serverkey.RotateOptions{StopOnError: true})
	require.ErrorIs(t, err, serverkey.ErrMalformed)
	p, err := serverkey.Rotate(t.Context(), kr, mem, serverkey.RotateOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, p.Failed)
	require.Equal(t, 7, p.Scanned)
	require.Equal(t, 5, p.Rotated+p.Current)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = serverkey.Rotate(ctx, kr, mem, serverkey.RotateOptions{})
	require.ErrorIs(t, err, context.Canceled)
}
