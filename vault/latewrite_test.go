package vault

import (
	"context"
	"errors"
	"testing"
)

// lateStore fails one Put without writing, lets the caller read the old
// account back, and then applies the write: a timed-out query that the
// database commits after the client gave up (PostgreSQL can commit an
// UPDATE whose cancel arrives late).
type lateStore struct {
	*MemStore
	failed  bool
	pending func()
}

func (l *lateStore) Put(ctx context.Context, userID string, account []byte, expect uint64) (uint64, error) {
	if l.failed {
		return l.MemStore.Put(ctx, userID, account, expect)
	}
	l.failed = true
	acc := append([]byte(nil), account...)
	l.pending = func() { l.MemStore.Put(context.Background(), userID, acc, expect) }
	return 0, errInjected
}

func (l *lateStore) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	b, v, err := l.MemStore.Get(ctx, userID)
	if l.pending != nil {
		l.pending() // lands just after this read
		l.pending = nil
	}
	return b, v, err
}

// TestAWriteThatLandsAfterTheReadBackNeverLosesThePersonalKey: a store
// write that fails, reads back as "not there", and then lands anyway
// leaves an account that only the new personal key (and new password)
// opens. Every operation that issues a personal key must return it, with
// ErrOutcomeUnknown, rather than destroy it on the read-back's word.
func TestAWriteThatLandsAfterTheReadBackNeverLosesThePersonalKey(t *testing.T) {
	ctx := context.Background()
	escR, escID := newEscrow(t, "kms-1")
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escR })
	for name, run := range map[string]func(s Store, oldPK PersonalKey) (PersonalKey, error){
		"EnrollInStore": func(s Store, _ PersonalKey) (PersonalKey, error) { return v.EnrollInStore(ctx, s, "u", pw2) },
		"RecoverInStore": func(s Store, pk PersonalKey) (PersonalKey, error) {
			return v.RecoverInStore(ctx, s, "u", pk, pw2)
		},
		"RecoverWithEscrowInStore": func(s Store, _ PersonalKey) (PersonalKey, error) {
			return v.RecoverWithEscrowInStore(ctx, s, "u", escID, pw2, "agent", "ticket")
		},
		"ChangePasswordAndRotateInStore": func(s Store, _ PersonalKey) (PersonalKey, error) {
			return v.ChangePasswordAndRotateInStore(ctx, s, "u", pw1, pw2)
		},
	} {
		t.Run(name, func(t *testing.T) {
			mem := NewMemStore()
			var oldPK PersonalKey
			if name != "EnrollInStore" {
				var err error
				if oldPK, err = v.EnrollInStore(ctx, mem, "u", pw1); err != nil {
					t.Fatal(err)
				}
			}
			pk, err := run(&lateStore{MemStore: mem}, oldPK)
			if !errors.Is(err, ErrOutcomeUnknown) || pk.IsZero() {
				t.Fatalf("err %v, key returned %v: the write may still land, so the key must come back", err, !pk.IsZero())
			}
			stored, _, gerr := mem.Get(ctx, "u")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if err := v.CheckPersonalKey(ctx, "u", stored, pk); err != nil {
				t.Fatalf("the write landed late and the returned key does not open it: %v", err)
			}
			if !oldPK.IsZero() {
				if err := v.CheckPersonalKey(ctx, "u", stored, oldPK); err == nil {
					t.Fatal("the old personal key still opens the rotated account")
				}
			}
		})
	}
}
