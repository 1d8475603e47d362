package vault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// failMode is how the one injected store failure behaves.
type failMode struct {
	name       string
	afterWrite bool // the write lands, then the error is returned
	getFails   bool // every read after the failure fails too
}

var failModes = []failMode{
	{"not-written", false, false},
	{"written-ack-lost", true, false},
	{"not-written-unreachable", false, true},
	{"written-unreachable", true, true},
}

// TestLostAcknowledgementNeverLosesAPersonalKey fails the one write of
// every operation that issues a personal key, in every way a store can:
// the caller always ends up holding a personal key that opens the stored
// account, or the old secret still opens it and the new key comes back
// with ErrOutcomeUnknown (the write may still land).
func TestLostAcknowledgementNeverLosesAPersonalKey(t *testing.T) {
	ctx := context.Background()
	escR, escID := newEscrow(t, "kms-1")
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escR })
	ops := []struct {
		name string
		run  func(s Store, oldPK PersonalKey) (PersonalKey, error)
	}{
		{"EnrollInStore", func(s Store, _ PersonalKey) (PersonalKey, error) {
			return v.EnrollInStore(ctx, s, "u", pw2)
		}},
		{"RecoverInStore", func(s Store, pk PersonalKey) (PersonalKey, error) {
			return v.RecoverInStore(ctx, s, "u", pk, pw2)
		}},
		{"RecoverWithEscrowInStore", func(s Store, _ PersonalKey) (PersonalKey, error) {
			return v.RecoverWithEscrowInStore(ctx, s, "u", escID, pw2, "agent", "ticket")
		}},
		{"ChangePasswordAndRotateInStore", func(s Store, _ PersonalKey) (PersonalKey, error) {
			return v.ChangePasswordAndRotateInStore(ctx, s, "u", pw1, pw2)
		}},
	}
	for _, op := range ops {
		for _, m := range failModes {
			t.Run(op.name+"/"+m.name, func(t *testing.T) {
				mem := NewMemStore()
				var oldPK PersonalKey
				if op.name != "EnrollInStore" {
					var err error
					if oldPK, err = v.EnrollInStore(ctx, mem, "u", pw1); err != nil {
						t.Fatal(err)
					}
				}
				s := &failingStore{MemStore: mem, failAt: 1, afterWrite: m.afterWrite, getFailsAfter: m.getFails}
				pk, err := op.run(s, oldPK)
				if !s.failed {
					t.Fatal("no write failed")
				}
				stored, _, gerr := mem.Get(ctx, "u")
				pkOpens := gerr == nil && !pk.IsZero() && opensWithPK(t, "u", stored, pk) == nil
				oldOpens := gerr == nil && !oldPK.IsZero() && opensWithPK(t, "u", stored, oldPK) == nil
				switch {
				case m.getFails:
					if !errors.Is(err, ErrOutcomeUnknown) || pk.IsZero() {
						t.Fatalf("unsettled write: err %v, key returned %v", err, !pk.IsZero())
					}
					if m.afterWrite != pkOpens {
						t.Fatalf("returned key opens the stored account: %v, write landed: %v", pkOpens, m.afterWrite)
					}
					// Once the store answers, the caller settles it.
					if gerr == nil {
						cerr := v.CheckPersonalKey(ctx, "u", stored, pk)
						if (cerr == nil) != m.afterWrite || (cerr != nil && !errors.Is(cerr, ErrWrongSecret)) {
							t.Fatalf("CheckPersonalKey: %v, write landed %v", cerr, m.afterWrite)
						}
					}
				case m.afterWrite:
					if err != nil || !pkOpens {
						t.Fatalf("landed write: err %v, key opens %v", err, pkOpens)
					}
				default:
					// Not there when read back, but a failed write may
					// still land later: the key comes back with the error,
					// and once the store settles, CheckPersonalKey says it
					// does not open this account.
					if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, errInjected) || pk.IsZero() {
						t.Fatalf("write that did not land (yet): err %v, key returned %v", err, !pk.IsZero())
					}
					if gerr == nil {
						if cerr := v.CheckPersonalKey(ctx, "u", stored, pk); !errors.Is(cerr, ErrWrongSecret) {
							t.Fatalf("CheckPersonalKey of a write that did not land: %v", cerr)
						}
					}
				}
				// Whatever happened, some secret the caller holds opens the
				// stored account (for enrollment, only if it exists).
				if gerr == nil && !pkOpens && !oldOpens {
					t.Fatal("neither the returned nor the old personal key opens the stored account")
				}
				if m.afterWrite && op.name == "EnrollInStore" {
					// The account exists: enrolling again is a conflict, and
					// the first call did not report a failure that would
					// have made the caller try.
					if _, err := v.EnrollInStore(ctx, mem, "u", pw1); !errors.Is(err, ErrConflict) {
						t.Fatalf("second enroll: %v", err)
					}
				}
			})
		}
	}
}

func TestLostAcknowledgementOfChangePasswordLeavesOldOrNewPassword(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	for _, m := range failModes {
		t.Run(m.name, func(t *testing.T) {
			mem := NewMemStore()
			if _, err := v.EnrollInStore(ctx, mem, "u", pw1); err != nil {
				t.Fatal(err)
			}
			s := &failingStore{MemStore: mem, failAt: 1, afterWrite: m.afterWrite, getFailsAfter: m.getFails}
			err := v.ChangePasswordInStore(ctx, s, "u", pw1, pw2)
			newOpens := secret{pw: pw2}.opens(t, v, mem)
			oldOpens := secret{pw: pw1}.opens(t, v, mem)
			switch {
			case m.getFails:
				if !errors.Is(err, ErrOutcomeUnknown) {
					t.Fatalf("unsettled write: %v", err)
				}
			case m.afterWrite:
				if err != nil {
					t.Fatalf("landed write reported %v", err)
				}
			default:
				if !errors.Is(err, errInjected) || !errors.Is(err, ErrOutcomeUnknown) {
					t.Fatalf("write that did not land (yet): %v", err)
				}
			}
			if newOpens != m.afterWrite || oldOpens == m.afterWrite {
				t.Fatalf("old opens %v, new opens %v, landed %v", oldOpens, newOpens, m.afterWrite)
			}
		})
	}
}

// failingRecordStore fails its failAt-th PutRecord like failingStore.
type failingRecordStore struct {
	*MemRecordStore
	writes, failAt int
	afterWrite     bool
}

func (f *failingRecordStore) PutRecord(ctx context.Context, userID, label string, sealed []byte, expect uint64) (uint64, error) {
	f.writes++
	if f.writes != f.failAt {
		return f.MemRecordStore.PutRecord(ctx, userID, label, sealed, expect)
	}
	if f.afterWrite {
		f.MemRecordStore.PutRecord(ctx, userID, label, sealed, expect)
	}
	return 0, errInjected
}

// TestResealCrashAtEveryStepLosesNoRecordAndResumes rotates the key, then
// runs ResealInStore with one failure injected at every record write and
// at the account write, before and after the write: after the failure
// every record still opens, and a second run finishes the job (every
// record under the new key, older keys dropped).
func TestResealCrashAtEveryStepLosesNoRecordAndResumes(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	const n = 5
	for failAt := 1; failAt <= n+1; failAt++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("write_%d_after_%v", failAt, after), func(t *testing.T) {
				accounts := NewMemStore()
				pk, err := v.EnrollInStore(ctx, accounts, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				recs := NewMemRecordStore()
				u, err := v.UnlockInStore(ctx, accounts, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{}
				for i := range n {
					label := fmt.Sprintf("r%d", i)
					want[label] = fmt.Sprintf("record %d", i)
					sealed, _ := u.Seal(label, []byte(want[label]))
					if _, err := recs.PutRecord(ctx, "u", label, sealed, 0); err != nil {
						t.Fatal(err)
					}
				}
				u.Close()
				if _, err := v.RecoverInStore(ctx, accounts, "u", pk, pw2); err != nil {
					t.Fatal(err)
				}
				nu, err := v.UnlockInStore(ctx, accounts, "u", pw2)
				if err != nil {
					t.Fatal(err)
				}
				defer nu.Close()
				// Records are writes 1..n; the account write is n+1.
				frs := &failingRecordStore{MemRecordStore: recs, failAt: failAt, afterWrite: after}
				fas := &failingStore{MemStore: accounts, failAt: failAt - n, afterWrite: after}
				var calls []int
				_, err = v.ResealInStore(ctx, nu, frs, fas, func(done, total int) { calls = append(calls, done) })
				if !errors.Is(err, errInjected) && !(after && failAt == n+1 && err == nil) {
					t.Fatalf("first run: %v", err)
				}
				checkRecords(t, v, accounts, recs, want)
				// Resume.
				again, err := v.UnlockInStore(ctx, accounts, "u", pw2)
				if err != nil {
					t.Fatal(err)
				}
				defer again.Close()
				st, err := v.ResealInStore(ctx, again, recs, accounts, nil)
				if err != nil {
					t.Fatalf("second run: %v", err)
				}
				if !st.DroppedOlderKeys || st.Resealed+st.Current != n {
					t.Fatalf("second run: %+v", st)
				}
				checkRecords(t, v, accounts, recs, want)
				acc, _, _ := accounts.Get(ctx, "u")
				h, _ := envelope.ParseHeader(acc)
				if len(h.OlderKeyGenerations()) != 0 {
					t.Fatal("older keys not dropped after a complete reseal")
				}
				// Every record is now under the current key alone.
				cur, _ := v.UnlockInStore(ctx, accounts, "u", pw2)
				defer cur.Close()
				for label := range want {
					sealed, _, _ := recs.GetRecord(ctx, "u", label)
					if _, resealed, err := cur.OpenReseal(label, sealed); err != nil || resealed != nil {
						t.Fatalf("record %s after reseal: %v, still old %v", label, err, resealed != nil)
					}
				}
			})
		}
	}
}

func checkRecords(t *testing.T, v *Vault, accounts Store, recs RecordStore, want map[string]string) {
	t.Helper()
	u, err := v.UnlockInStore(context.Background(), accounts, "u", pw2)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for label, pt := range want {
		sealed, _, err := recs.GetRecord(context.Background(), "u", label)
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Open(label, sealed)
		if err != nil || string(got) != pt {
			t.Fatalf("record %s lost: %q, %v", label, got, err)
		}
	}
}

func TestResealProgressRisesToTotal(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	accounts, recs := NewMemStore(), NewMemRecordStore()
	pk, _ := v.EnrollInStore(ctx, accounts, "u", pw1)
	u, _ := v.UnlockInStore(ctx, accounts, "u", pw1)
	for i := range 3 {
		s, _ := u.Seal(fmt.Sprintf("l%d", i), []byte("x"))
		recs.PutRecord(ctx, "u", fmt.Sprintf("l%d", i), s, 0)
	}
	u.Close()
	if _, err := v.RecoverInStore(ctx, accounts, "u", pk, pw2); err != nil {
		t.Fatal(err)
	}
	nu, _ := v.UnlockInStore(ctx, accounts, "u", pw2)
	defer nu.Close()
	var got []int
	st, err := v.ResealInStore(ctx, nu, recs, nil, func(done, total int) {
		if total != 3 {
			t.Errorf("total %d", total)
		}
		got = append(got, done)
	})
	if err != nil || st.Resealed != 3 || fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("%+v %v %v", st, got, err)
	}
	// Without an account store the older keys stay.
	acc, _, _ := accounts.Get(ctx, "u")
	h, _ := envelope.ParseHeader(acc)
	if len(h.OlderKeyGenerations()) != 1 || st.DroppedOlderKeys {
		t.Fatal("older keys dropped without an account store")
	}
}

// staleWriterStore lets a handle opened before a rotation write a record
// between ResealInStore's pass and its final check.
type staleWriterStore struct {
	*MemRecordStore
	calls int
	stale func()
}

func (s *staleWriterStore) Labels(ctx context.Context, userID string) ([]string, error) {
	s.calls++
	if s.calls == 2 {
		s.stale()
	}
	return s.MemRecordStore.Labels(ctx, userID)
}

func TestResealKeepsOlderKeysWhileARecordStillNeedsThem(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	accounts := NewMemStore()
	pk, _ := v.EnrollInStore(ctx, accounts, "u", pw1)
	old, err := v.UnlockInStore(ctx, accounts, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := v.RecoverInStore(ctx, accounts, "u", pk, pw2); err != nil {
		t.Fatal(err)
	}
	cur, _ := v.UnlockInStore(ctx, accounts, "u", pw2)
	defer cur.Close()
	rs := &staleWriterStore{MemRecordStore: NewMemRecordStore()}
	rs.stale = func() {
		sealed, _ := old.Seal("late", []byte("written by a stale handle"))
		rs.PutRecord(ctx, "u", "late", sealed, 0)
	}
	st, err := v.ResealInStore(ctx, cur, rs, accounts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.DroppedOlderKeys {
		t.Fatal("older keys dropped while a record still needs one")
	}
	sealed, _, _ := rs.GetRecord(ctx, "u", "late")
	again, _ := v.UnlockInStore(ctx, accounts, "u", pw2)
	defer again.Close()
	if got, err := again.Open("late", sealed); err != nil || string(got) != "written by a stale handle" {
		t.Fatalf("record of the stale handle: %q, %v", got, err)
	}
	// A second run reseals it and then drops the older keys.
	if st, err := v.ResealInStore(ctx, again, rs.MemRecordStore, accounts, nil); err != nil || !st.DroppedOlderKeys || st.Resealed != 1 {
		t.Fatalf("second run: %+v, %v", st, err)
	}
}
