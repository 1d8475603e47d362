package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// landsThenChangesStore lands the failing write, lets another writer
// rewrite the account from it (a password change, which keeps the
// personal-key stanza), and only then reports the first write's failure:
// the read-back finds neither the bytes written nor the version read.
type landsThenChangesStore struct {
	*MemStore
	then   func(account []byte, version uint64)
	failed bool
}

func (s *landsThenChangesStore) Put(ctx context.Context, userID string, account []byte, expect uint64) (uint64, error) {
	if s.failed {
		return s.MemStore.Put(ctx, userID, account, expect)
	}
	s.failed = true
	ver, err := s.MemStore.Put(ctx, userID, account, expect)
	if err != nil {
		return 0, err
	}
	s.then(account, ver)
	return 0, errInjected
}

// TestLostAcknowledgementThenAnotherWriteStillReturnsThePersonalKey: the
// write of a recovery lands, its acknowledgement is lost, and before the
// vault reads back, the user (or an upgrade) changes the password from the
// landed record, keeping its personal-key stanza. The vault cannot tell
// what happened: it must return the new personal key with
// ErrOutcomeUnknown, because that key is then the only one that opens the
// stored account. (A vault that read "the version changed" as "my write did
// not land" destroyed the key and passed every other test.)
func TestLostAcknowledgementThenAnotherWriteStillReturnsThePersonalKey(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	mem := NewMemStore()
	oldPK, err := v.EnrollInStore(ctx, mem, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	s := &landsThenChangesStore{MemStore: mem}
	s.then = func(account []byte, ver uint64) {
		changed, err := v.ChangePassword(ctx, "u", account, pw2, pw3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mem.Put(ctx, "u", changed, ver); err != nil {
			t.Fatal(err)
		}
	}
	newPK, err := v.RecoverInStore(ctx, s, "u", oldPK, pw2)
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("RecoverInStore: %v, want ErrOutcomeUnknown", err)
	}
	if newPK.IsZero() {
		t.Fatal("the new personal key was destroyed")
	}
	stored, _, err := mem.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckPersonalKey(ctx, "u", stored, newPK); err != nil {
		t.Fatalf("the returned key does not open the stored account: %v", err)
	}
	if err := v.CheckPersonalKey(ctx, "u", stored, oldPK); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("old personal key: %v", err)
	}
}

// TestResealWithAHandleOfARotatedAwayKeyIsAConflictNotCorruption: a
// handle opened before another process rotated the account key can still
// reseal records under its own key (those keep opening: the new account
// carries it), but it must not rewrite the account, and the refusal is
// ErrConflict (reopen and retry), not ErrCorrupt, which a front end treats
// as damaged data. The stored account is left as it was.
func TestResealWithAHandleOfARotatedAwayKeyIsAConflictNotCorruption(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	accounts := NewMemStore()
	if _, err := v.EnrollInStore(ctx, accounts, "u", pw1); err != nil {
		t.Fatal(err)
	}
	stale, err := v.UnlockInStore(ctx, accounts, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	rs := NewMemRecordStore()
	sealed, err := stale.Seal("pii", []byte("synthetic record"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.PutRecord(ctx, "u", "pii", sealed, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ChangePasswordAndRotateInStore(ctx, accounts, "u", pw1, pw2); err != nil {
		t.Fatal(err)
	}
	before, _, _ := accounts.Get(ctx, "u")
	_, err = v.ResealInStore(ctx, stale, rs, accounts, nil)
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("ResealInStore with a rotated-away key: %v, want ErrConflict and not ErrCorrupt", err)
	}
	after, _, _ := accounts.Get(ctx, "u")
	if !bytes.Equal(before, after) {
		t.Fatal("the stored account was rewritten by a handle of an older key")
	}
	cur, err := v.UnlockInStore(ctx, accounts, "u", pw2)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if got, err := cur.Open("pii", sealed); err != nil || string(got) != "synthetic record" {
		t.Fatalf("record sealed by the stale handle: %q, %v", got, err)
	}
}
