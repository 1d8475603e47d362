package serverkey_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/serverkey"
)

// Tests of the per-user key cache (Config.UserKeyCache, usercache.go).

func ringWithCache(t testing.TB, kms *fakeKMS, size int, current serverkey.WrappedKey, older ...serverkey.WrappedKey) *serverkey.Keyring {
	t.Helper()
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: current, Older: older, UserKeyCache: size})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return kr
}

// detReader is a deterministic byte stream (never use outside tests).
type detReader struct{ c *rand.ChaCha8 }

func newDetReader() *detReader { return &detReader{rand.NewChaCha8([32]byte{7})} }

func (r *detReader) Read(p []byte) (int, error) { return r.c.Read(p) }

func TestCachedAndUncachedKeyringsOpenEachOthersCiphertexts(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	rings := map[string]*serverkey.Keyring{
		"default": ringWithCache(t, kms, 0, k2, k1),
		"tiny":    ringWithCache(t, kms, 1, k2, k1),
		"off":     ringWithCache(t, kms, -1, k2, k1),
	}
	users := []string{jane, john, "a", "b", "user-1", "user-2"}
	for sealer, s := range rings {
		for opener, o := range rings {
			for range 2 { // the second round hits the caches
				for _, u := range users {
					ct, err := s.Seal(t.Context(), u, "email", []byte(u+"@example.com"))
					require.NoError(t, err)
					pt, err := o.Open(t.Context(), u, "email", ct)
					require.NoError(t, err, "sealed by %s, opened by %s, user %q", sealer, opener, u)
					require.Equal(t, u+"@example.com", string(pt))
				}
			}
		}
	}
}

func TestCachedAndUncachedKeyringsWriteTheSameBytes(t *testing.T) {
	// Same bytes need the nonces from Config.Rand; the module draws its own.
	fipstest.Skip(t, fipstest.CallerGCMNonce)
	kms := newFakeKMS(t)
	k1 := genKey(t, kms, "k1")
	var cts [3][][]byte
	for i, size := range []int{0, 1, -1} {
		kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: k1, UserKeyCache: size, Rand: newDetReader()})
		require.NoError(t, err)
		for range 3 {
			for _, u := range []string{jane, john, jane} {
				ct, err := kr.Seal(t.Context(), u, "phone", []byte("+12025550100"))
				require.NoError(t, err)
				cts[i] = append(cts[i], ct)
			}
		}
		kr.Close()
	}
	require.Equal(t, cts[2], cts[0], "default cache: same bytes as no cache")
	require.Equal(t, cts[2], cts[1], "one-key cache: same bytes as no cache")
}

// A cache that served the wrong key would make a ciphertext that a keyring
// without a cache does not open for that user (another key: commitment
// failure), so every check goes through an uncached keyring.
func TestCachedKeyIsNeverServedToAnotherUserOrDataKey(t *testing.T) {
	kms := newFakeKMS(t)
	kShort, kLong := genKey(t, kms, "k"), genKey(t, kms, "k1")
	// Pairs a careless cache key would confuse: ids differing by one
	// byte, prefixes, and (key id, user id) pairs whose concatenations
	// are equal: "k1"+"a" and "k"+"1a".
	users := []string{"a", "b", "1a", "a1", "ab", "user-0001", "user-0002", "user-00010", "a\x00", "a\x00b"}
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprintf("colliding-hashes=%v", collide), func(t *testing.T) {
			plain := ringWithCache(t, kms, -1, kLong, kShort)
			olderOnly := ringWithCache(t, kms, -1, kShort)
			kr := ringWithCache(t, kms, 0, kLong, kShort)
			if collide {
				serverkey.CollideUserCacheHashes(kr)
			}
			old := map[string][]byte{}
			for _, u := range users {
				ct, err := olderOnly.Seal(t.Context(), u, "email", []byte("old:"+u))
				require.NoError(t, err)
				old[u] = ct
			}
			for round := range 3 {
				for _, u := range users {
					// Under the current key (cached for u, next to every other user).
					ct, err := kr.Seal(t.Context(), u, "email", []byte(u))
					require.NoError(t, err)
					pt, err := plain.Open(t.Context(), u, "email", ct)
					require.NoError(t, err, "round %d: ciphertext of %q sealed with a cached key does not open without the cache", round, u)
					require.Equal(t, u, string(pt))
					// Under the older key, for the same user: its own cache slot.
					pt, err = kr.Open(t.Context(), u, "email", old[u])
					require.NoError(t, err, "round %d: older key's ciphertext of %q", round, u)
					require.Equal(t, "old:"+u, string(pt))
					// And no other user opens what u sealed, cached or not.
					for _, v := range users {
						if v != u {
							_, err := kr.Open(t.Context(), v, "email", ct)
							require.ErrorIs(t, err, envelope.ErrCommitment, "%q opened %q's ciphertext", v, u)
						}
					}
				}
			}
			require.EqualValues(t, 2*len(users), serverkey.UserKeyDerivations(kr), "one derivation per (data key, user), then cache hits")
		})
	}
}

func TestWarmUserKeyCacheDerivesOncePerUserAndDataKey(t *testing.T) {
	kms := newFakeKMS(t)
	for _, tc := range []struct {
		size int
		want int64
	}{{0, 1}, {1, 1}, {-1, 40}} {
		kr := ringWithCache(t, kms, tc.size, genKey(t, kms, "k1"))
		for range 20 {
			ct, err := kr.Seal(t.Context(), jane, "email", benchEmail)
			require.NoError(t, err)
			_, err = kr.Open(t.Context(), jane, "email", ct)
			require.NoError(t, err)
		}
		require.Equal(t, tc.want, serverkey.UserKeyDerivations(kr), "cache size %d", tc.size)
		if tc.size < 0 {
			require.Zero(t, serverkey.CachedUserKeys(kr), "a disabled cache holds nothing")
		}
	}
}

func TestUserKeyCacheNeverHoldsMoreThanItsSize(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	old := ringWithCache(t, kms, -1, k1)
	for _, size := range []int{1, 3, 16, 17, 40} {
		kr := ringWithCache(t, kms, size, k2, k1)
		serverkey.FixUserCacheHash(kr) // the same shards every run: the last check is deterministic
		for i := range 120 {
			u := fmt.Sprintf("user-%d", i)
			ct, err := kr.Seal(t.Context(), u, "email", []byte(u))
			require.NoError(t, err)
			require.LessOrEqual(t, serverkey.CachedUserKeys(kr), size)
			oct, err := old.Seal(t.Context(), u, "email", []byte(u))
			require.NoError(t, err)
			for _, c := range [][]byte{ct, oct} {
				_, err = kr.Open(t.Context(), u, "email", c)
				require.NoError(t, err)
				require.LessOrEqual(t, serverkey.CachedUserKeys(kr), size, "size %d after %d users", size, i+1)
			}
		}
		require.Equal(t, size, serverkey.CachedUserKeys(kr), "a full cache holds exactly its size")
	}
}

func requireDestroyed(t *testing.T, rks []*envelope.RecordKey) {
	t.Helper()
	for _, rk := range rks {
		_, err := rk.Seal(nil, envelope.Binding{UserID: jane, Label: "email"}, nil)
		require.ErrorIs(t, err, envelope.ErrInvalidKey, "a per-user key outlived its data key")
	}
}

func TestCloseDestroysCachedUserKeysAndLaterCallsFailWithErrClosed(t *testing.T) {
	kms := newFakeKMS(t)
	kr := ringWithCache(t, kms, 0, genKey(t, kms, "k2"), genKey(t, kms, "k1"))
	ct, err := kr.Seal(t.Context(), jane, "email", benchEmail)
	require.NoError(t, err)
	_, err = kr.Seal(t.Context(), john, "email", benchEmail)
	require.NoError(t, err)
	cached := serverkey.CachedRecordKeys(kr)
	require.Len(t, cached, 2)
	for _, rk := range cached {
		_, err := rk.Seal(nil, envelope.Binding{UserID: jane, Label: "email"}, nil)
		require.NoError(t, err, "usable before Close")
	}

	kr.Close()
	requireDestroyed(t, cached)
	require.Zero(t, serverkey.CachedUserKeys(kr))
	_, err = kr.Seal(t.Context(), jane, "email", benchEmail)
	require.ErrorIs(t, err, serverkey.ErrClosed)
	_, err = kr.Open(t.Context(), jane, "email", ct)
	require.ErrorIs(t, err, serverkey.ErrClosed)
	require.Zero(t, serverkey.CachedUserKeys(kr), "nothing cached after Close")
}

func TestCacheForRefreshDropsCachedUserKeysAndAsksTheKMSAgain(t *testing.T) {
	kms := newFakeKMS(t)
	clk := &fakeClock{}
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: genKey(t, kms, "k1"), CacheFor: time.Hour, Now: clk.Now})
	require.NoError(t, err)
	defer kr.Close()
	ct, err := kr.Seal(t.Context(), jane, "email", benchEmail)
	require.NoError(t, err)
	first := serverkey.CachedRecordKeys(kr)
	require.Len(t, first, 1)
	require.EqualValues(t, 1, kr.Unwraps())

	clk.Advance(time.Hour)
	_, err = kr.Open(t.Context(), jane, "email", ct)
	require.NoError(t, err)
	require.EqualValues(t, 2, kr.Unwraps(), "the refresh asked the KMS again")
	requireDestroyed(t, first)
	require.EqualValues(t, 2, serverkey.UserKeyDerivations(kr), "the key was derived again from the new unwrap")
	second := serverkey.CachedRecordKeys(kr)
	require.Len(t, second, 1)

	// A refresh that fails drops the keys as well (fail closed).
	clk.Advance(time.Hour)
	kms.down.Store(true)
	_, err = kr.Open(t.Context(), jane, "email", ct)
	require.ErrorIs(t, err, serverkey.ErrKMS)
	requireDestroyed(t, second)
	require.Zero(t, serverkey.CachedUserKeys(kr))
	kms.down.Store(false)
	pt, err := kr.Open(t.Context(), jane, "email", ct)
	require.NoError(t, err)
	require.Equal(t, benchEmail, pt)
	require.EqualValues(t, 4, kr.Unwraps())
}

func TestConcurrentSealOpenManyUsersTinyCacheAllRoundTrip(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	old := ringWithCache(t, kms, -1, k1)
	const users = 24
	oldCT := make([][]byte, users)
	for i := range users {
		var err error
		oldCT[i], err = old.Seal(t.Context(), fmt.Sprintf("user-%d", i), "email", []byte(fmt.Sprint("old-", i)))
		require.NoError(t, err)
	}
	for _, size := range []int{1, 3} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			clk := &fakeClock{}
			kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: k2, Older: []serverkey.WrappedKey{k1},
				UserKeyCache: size, CacheFor: time.Minute, Now: clk.Now})
			require.NoError(t, err)
			defer kr.Close()
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Go(func() { // refreshes under load: each drops the cache
				for {
					select {
					case <-stop:
						return
					default:
						clk.Advance(time.Minute)
						time.Sleep(200 * time.Microsecond)
					}
				}
			})
			var workers sync.WaitGroup
			for g := range 6 {
				workers.Go(func() {
					for n := range 150 {
						i := (g*7 + n) % users
						u := fmt.Sprintf("user-%d", i)
						want := []byte(fmt.Sprint(u, "/", n))
						ct, err := kr.Seal(t.Context(), u, "email", want)
						if err != nil {
							t.Error(err)
							return
						}
						pt, err := kr.Open(t.Context(), u, "email", ct)
						if err != nil || !bytes.Equal(pt, want) {
							t.Errorf("%s: %q %v", u, pt, err)
							return
						}
						pt, err = kr.Open(t.Context(), u, "email", oldCT[i])
						if err != nil || string(pt) != fmt.Sprint("old-", i) {
							t.Errorf("%s, older key: %q %v", u, pt, err)
							return
						}
						if c := serverkey.CachedUserKeys(kr); c > size {
							t.Errorf("cache holds %d keys, size %d", c, size)
							return
						}
					}
				})
			}
			workers.Wait()
			close(stop)
			wg.Wait()
			require.LessOrEqual(t, serverkey.CachedUserKeys(kr), size)
		})
	}
}
