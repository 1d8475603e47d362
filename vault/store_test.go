package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestMemStoreCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	if _, _, err := s.Get(ctx, "u"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	if _, err := s.Put(ctx, "u", []byte("a"), 7); !errors.Is(err, ErrConflict) {
		t.Fatalf("Put with a version on a missing account: %v", err)
	}
	v1, err := s.Put(ctx, "u", []byte("a"), 0)
	if err != nil || v1 == 0 {
		t.Fatalf("create: %d, %v", v1, err)
	}
	if _, err := s.Put(ctx, "u", []byte("b"), 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over existing: %v", err)
	}
	v2, err := s.Put(ctx, "u", []byte("b"), v1)
	if err != nil || v2 == v1 {
		t.Fatalf("update: %d, %v", v2, err)
	}
	if _, err := s.Put(ctx, "u", []byte("c"), v1); !errors.Is(err, ErrConflict) {
		t.Fatalf("update with a stale version: %v", err)
	}
	got, ver, err := s.Get(ctx, "u")
	if err != nil || string(got) != "b" || ver != v2 {
		t.Fatalf("Get = %q, %d, %v", got, ver, err)
	}
	got[0] = 'x' // the store hands out copies
	if again, _, _ := s.Get(ctx, "u"); string(again) != "b" {
		t.Fatal("Get returned the store's own slice")
	}
	if err := s.Delete(ctx, "u", v1); !errors.Is(err, ErrConflict) {
		t.Fatalf("Delete with a stale version: %v", err)
	}
	if err := s.Delete(ctx, "u", v2); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "u", v2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	// A version is never reused, even after delete and re-create.
	v3, _ := s.Put(ctx, "u", []byte("d"), 0)
	if v3 == v1 || v3 == v2 {
		t.Fatal("version reused")
	}
}

// barrierStore makes n concurrent readers all read before any proceeds, so
// their compare-and-swaps race on the same version.
type barrierStore struct {
	*MemStore
	wg sync.WaitGroup
}

func (b *barrierStore) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	acc, ver, err := b.MemStore.Get(ctx, userID)
	b.wg.Done()
	b.wg.Wait()
	return acc, ver, err
}

func TestConcurrentChangePasswordInStoreLosesNoUpdate(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	const n = 6
	s := &barrierStore{MemStore: NewMemStore()}
	if _, err := v.EnrollInStore(ctx, s.MemStore, "u", pw1); err != nil {
		t.Fatal(err)
	}
	s.wg.Add(n)
	newPw := func(i int) []byte { return []byte(fmt.Sprintf("new password number %d", i)) }
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = v.ChangePasswordInStore(ctx, s, "u", pw1, newPw(i))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two changes from the same old password both won (%d and %d)", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrConflict):
			t.Fatalf("loser %d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no change won")
	}
	// The stored account opens with the winner's password only.
	for i := range n {
		u, err := v.UnlockInStore(ctx, s.MemStore, "u", newPw(i))
		if (err == nil) != (i == winner) {
			t.Fatalf("password %d: %v (winner %d)", i, err, winner)
		}
		if u != nil {
			u.Close()
		}
	}
	if _, err := v.UnlockInStore(ctx, s.MemStore, "u", pw1); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("old password: %v", err)
	}
}

func TestConcurrentStoreOperationsWithoutBarrier(t *testing.T) {
	// Unsynchronised changes: whatever the interleaving, exactly one change
	// from pw1 wins (after it, pw1 no longer opens), the others get
	// ErrConflict or ErrWrongSecret.
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	s := NewMemStore()
	if _, err := v.EnrollInStore(ctx, s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := v.ChangePasswordInStore(ctx, s, "u", pw1, []byte(fmt.Sprintf("password number %d!", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict), errors.Is(err, ErrWrongSecret):
			default:
				t.Errorf("change %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d changes from the same old password won, want 1", wins)
	}
}

// failingStore fails its failAt-th write (Put or Delete), counting from 1.
// With afterWrite it performs the write and then reports an error (an
// acknowledgement lost in a crash); otherwise it writes nothing.
type failingStore struct {
	*MemStore
	writes, failAt int
	afterWrite     bool
	failed         bool // the injected failure happened
	// getFailsAfter makes every Get after the injected failure fail too
	// (the store is unreachable: the outcome cannot be settled).
	getFailsAfter bool
}

func (f *failingStore) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	if f.failed && f.getFailsAfter {
		return nil, 0, errInjected
	}
	return f.MemStore.Get(ctx, userID)
}

var errInjected = errors.New("injected store failure")

func (f *failingStore) Put(ctx context.Context, userID string, account []byte, expect uint64) (uint64, error) {
	f.writes++
	if f.writes != f.failAt {
		return f.MemStore.Put(ctx, userID, account, expect)
	}
	f.failed = true
	if f.afterWrite {
		f.MemStore.Put(ctx, userID, account, expect)
	}
	return 0, errInjected
}

func (f *failingStore) Delete(ctx context.Context, userID string, expect uint64) error {
	f.writes++
	if f.writes != f.failAt {
		return f.MemStore.Delete(ctx, userID, expect)
	}
	f.failed = true
	if f.afterWrite {
		f.MemStore.Delete(ctx, userID, expect)
	}
	return errInjected
}

// secret is one way into an account: a password or a personal key.
type secret struct {
	pw []byte
	pk PersonalKey
}

func (s secret) opens(t *testing.T, v *Vault, st Store) bool {
	t.Helper()
	account, _, err := st.Get(context.Background(), "u")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if s.pw != nil {
		u, _, err := v.Unlock(context.Background(), "u", account, s.pw)
		if u != nil {
			u.Close()
		}
		return err == nil
	}
	return opensWithPK(t, "u", account, s.pk) == nil
}

func TestStoreCrashSafetyOldOrNewSecretAlwaysOpens(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	// The sequence: change, recover, change, recover. Each does one write.
	const writes = 4
	for failAt := 1; failAt <= writes+1; failAt++ {
		for _, afterWrite := range []bool{false, true} {
			t.Run(fmt.Sprintf("fail_write_%d_after_%v", failAt, afterWrite), func(t *testing.T) {
				mem := NewMemStore()
				pk, err := v.EnrollInStore(ctx, mem, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				s := &failingStore{MemStore: mem, failAt: failAt, afterWrite: afterWrite}
				u, err := v.UnlockInStore(ctx, s, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				rec, _ := u.Seal("pii", []byte("kept"))
				u.Close()
				curPw, curPK := pw1, pk
				for step := 0; step < writes; step++ {
					newPw := []byte(fmt.Sprintf("password after step %d", step))
					var old, next secret
					var err error
					var newPK PersonalKey
					if step%2 == 0 {
						old, next = secret{pw: curPw}, secret{pw: newPw}
						err = v.ChangePasswordInStore(ctx, s, "u", curPw, newPw)
					} else {
						old, next = secret{pk: curPK}, secret{pw: newPw}
						newPK, err = v.RecoverInStore(ctx, s, "u", curPK, newPw)
					}
					oldOpens, newOpens := old.opens(t, v, mem), next.opens(t, v, mem)
					if !oldOpens && !newOpens {
						t.Fatalf("step %d (err %v): neither the old nor the new secret opens", step, err)
					}
					if err != nil {
						if !errors.Is(err, errInjected) {
							t.Fatalf("step %d: %v", step, err)
						}
						// A write that did not happen leaves the old secret,
						// and is reported as an unknown outcome (it might
						// still land): a recovery returns its new key with it.
						// One that happened but lost its acknowledgement is
						// found by reading back, and is a success.
						if afterWrite || !oldOpens || newOpens || !errors.Is(err, ErrOutcomeUnknown) {
							t.Fatalf("step %d: failed write (after=%v, err %v): old opens %v, new opens %v", step, afterWrite, err, oldOpens, newOpens)
						}
						if step%2 == 1 && newPK.IsZero() {
							t.Fatal("recovery with an unknown outcome returned no personal key")
						}
					} else if oldOpens || !newOpens {
						t.Fatalf("step %d succeeded but old opens %v, new opens %v", step, oldOpens, newOpens)
					}
					// Whatever opens still opens every record. When the write
					// did not happen, the old password is still in place too.
					pw := curPw
					if newOpens {
						pw = newPw
					}
					acc, _, _ := mem.Get(ctx, "u")
					u := mustUnlock(t, v, "u", acc, pw)
					if _, err := u.Open("pii", rec); err != nil {
						t.Fatalf("step %d: record: %v", step, err)
					}
					u.Close()
					if err != nil {
						return
					}
					curPw = newPw
					if !newPK.IsZero() {
						curPK = newPK
					}
				}
				if failAt <= writes && !s.failed {
					t.Fatal("injected failure never happened")
				}
			})
		}
	}
}

func TestEnrollInStoreRefusesExistingAccount(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	s := NewMemStore()
	if _, err := v.EnrollInStore(ctx, s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	pk, err := v.EnrollInStore(ctx, s, "u", pw2)
	if !errors.Is(err, ErrConflict) || !pk.IsZero() {
		t.Fatalf("second enroll: %v", err)
	}
	u, err := v.UnlockInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatalf("first account overwritten: %v", err)
	}
	u.Close()
}

func TestUnlockInStoreWritesUpgrade(t *testing.T) {
	ctx := context.Background()
	prof := profiles(t)[0]
	weak, _ := newTestVault(t, prof.weak)
	strong, _ := newTestVault(t, prof.strong)
	s := NewMemStore()
	if _, err := weak.EnrollInStore(ctx, s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	u, err := strong.UnlockInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	acc, _, _ := s.Get(ctx, "u")
	if got := passwordParams(t, acc); got != prof.strong.New {
		t.Fatalf("stored params %+v after upgrade, want %+v", got, prof.strong.New)
	}
}

func TestRecoverWithEscrowInStoreWritesNewAccount(t *testing.T) {
	ctx := context.Background()
	escrowRecip, escrowID := newEscrow(t, "kms-key")
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escrowRecip })
	s := NewMemStore()
	oldPK, err := v.EnrollInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.RecoverWithEscrowInStore(ctx, s, "u", escrowID, pw2, "agent-7", ""); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("escrow recovery without a reason: %v", err)
	}
	newPK, err := v.RecoverWithEscrowInStore(ctx, s, "u", escrowID, pw2, "agent-7", "ticket 42")
	if err != nil || newPK.IsZero() || newPK.Equal(oldPK) {
		t.Fatalf("RecoverWithEscrowInStore: %v", err)
	}
	if _, err := v.UnlockInStore(ctx, s, "u", pw1); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("old password after escrow recovery: %v", err)
	}
	u, err := v.UnlockInStore(ctx, s, "u", pw2)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	if _, err := v.RecoverInStore(ctx, s, "u", oldPK, pw3); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("old personal key after escrow recovery: %v", err)
	}
	if _, err := v.RecoverInStore(ctx, s, "u", newPK, pw3); err != nil {
		t.Fatalf("new personal key: %v", err)
	}
}
