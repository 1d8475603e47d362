package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// rollbackEnv is an account moved on by one rewrite and then rolled back:
// the Store holds the first record again (generation 1), which pw1 and pk1
// still open, while the rewrite the log has seen is generation 2.
type rollbackEnv struct {
	v      *Vault
	audit  *syncBuffer
	log    *MemGenerationLog // nil: the Vault has no GenerationLog
	s      *MemStore
	escID  envelope.Identity
	pk1    PersonalKey
	old    []byte // the rolled-back record, as stored
	oldVer uint64 // its version in s
}

// newRollbackEnv enrolls "u" through the Store helpers (with a
// GenerationLog when withLog), keeps the enrolled record, changes the
// password through the Store (generation 2), and puts the old record back
// as someone with write access to the accounts table would.
func newRollbackEnv(t *testing.T, withLog bool) *rollbackEnv {
	t.Helper()
	ctx := context.Background()
	escR, escID := newEscrow(t, "kms-1")
	e := &rollbackEnv{s: NewMemStore(), escID: escID}
	if withLog {
		e.log = NewMemGenerationLog()
	}
	e.v, e.audit = newTestVault(t, testPolicy(t), func(c *Config) {
		c.Escrow = escR
		if withLog {
			c.Generations = e.log
		}
	})
	var err error
	if e.pk1, err = e.v.EnrollInStore(ctx, e.s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	old, _, err := e.s.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.v.ChangePasswordInStore(ctx, e.s, "u", pw1, pw2); err != nil {
		t.Fatal(err)
	}
	_, ver, err := e.s.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if e.oldVer, err = e.s.Put(ctx, "u", old, ver); err != nil {
		t.Fatal(err)
	}
	e.old = old
	if g, _ := AccountGeneration(old); g != 1 {
		t.Fatalf("rolled-back record has generation %d, want 1", g)
	}
	if withLog {
		if f, _ := e.log.Floor(ctx, "u"); f != 2 {
			t.Fatalf("log floor after the password change: %d, want 2", f)
		}
	}
	return e
}

// rollbackOp runs one account-opening operation on e's rolled-back record
// with the old secrets it still accepts, and reports whether it handed
// anything back (a handle, a new record or personal key; for
// CheckPersonalKey, a nil error).
type rollbackOp struct {
	name  string
	event string // audit event; "" for CheckPersonalKey, which audits nothing
	run   func(ctx context.Context, e *rollbackEnv) (gotSomething bool, err error)
}

var rollbackOps = map[string]rollbackOp{
	"Unlock": {"Unlock", EventUnlock, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		u, up, err := e.v.Unlock(ctx, "u", e.old, pw1)
		defer u.Close()
		return u != nil || up != nil, err
	}},
	"UnlockInStore": {"UnlockInStore", EventUnlock, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		u, err := e.v.UnlockInStore(ctx, e.s, "u", pw1)
		defer u.Close()
		return u != nil, err
	}},
	"UnlockWithEscrow": {"UnlockWithEscrow", EventUnlockWithEscrow, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		u, err := e.v.UnlockWithEscrow(ctx, "u", e.old, e.escID, "ops", "CHG-1")
		defer u.Close()
		return u != nil, err
	}},
	"Recover": {"Recover", EventRecover, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		out, pk, err := e.v.Recover(ctx, "u", e.old, e.pk1, pw3)
		return out != nil || !pk.IsZero(), err
	}},
	"RecoverInStore": {"RecoverInStore", EventRecover, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		pk, err := e.v.RecoverInStore(ctx, e.s, "u", e.pk1, pw3)
		return !pk.IsZero(), err
	}},
	"RecoverWithEscrow": {"RecoverWithEscrow", EventEscrowRecover, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		out, pk, err := e.v.RecoverWithEscrow(ctx, "u", e.old, e.escID, pw3, "ops", "CHG-1")
		return out != nil || !pk.IsZero(), err
	}},
	"RecoverWithEscrowInStore": {"RecoverWithEscrowInStore", EventEscrowRecover, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		pk, err := e.v.RecoverWithEscrowInStore(ctx, e.s, "u", e.escID, pw3, "ops", "CHG-1")
		return !pk.IsZero(), err
	}},
	"ChangePassword": {"ChangePassword", EventChangePassword, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		out, err := e.v.ChangePassword(ctx, "u", e.old, pw1, pw3)
		return out != nil, err
	}},
	"ChangePasswordInStore": {"ChangePasswordInStore", EventChangePassword, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		err := e.v.ChangePasswordInStore(ctx, e.s, "u", pw1, pw3)
		return err == nil, err
	}},
	"ChangePasswordAndRotate": {"ChangePasswordAndRotate", EventRotate, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		out, pk, err := e.v.ChangePasswordAndRotate(ctx, "u", e.old, pw1, pw3)
		return out != nil || !pk.IsZero(), err
	}},
	"ChangePasswordAndRotateInStore": {"ChangePasswordAndRotateInStore", EventRotate, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		pk, err := e.v.ChangePasswordAndRotateInStore(ctx, e.s, "u", pw1, pw3)
		return !pk.IsZero(), err
	}},
	"RotateAccountKey": {"RotateAccountKey", EventRotate, func(ctx context.Context, e *rollbackEnv) (bool, error) {
		out, pk, u, err := e.v.RotateAccountKey(ctx, "u", e.old, pw1)
		defer u.Close()
		return out != nil || !pk.IsZero() || u != nil, err
	}},
	"CheckPersonalKey": {"CheckPersonalKey", "", func(ctx context.Context, e *rollbackEnv) (bool, error) {
		err := e.v.CheckPersonalKey(ctx, "u", e.old, e.pk1)
		return err == nil, err
	}},
}

// checkRollbackRefused runs each named operation on a rolled-back account
// twice: without a GenerationLog it succeeds (the old secrets open the old
// record: the attack works, so the check below can fail), and with one it
// gives ErrRolledBack, hands back nothing, writes nothing (the Store keeps
// the rolled-back record at its version, the log keeps its floor) and is
// audited as a failure of class rolled_back.
func checkRollbackRefused(t *testing.T, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		op, ok := rollbackOps[name]
		if !ok {
			t.Fatalf("no operation %q", name)
		}
		t.Run(name+"/without-log", func(t *testing.T) {
			e := newRollbackEnv(t, false)
			got, err := op.run(ctx, e)
			if err != nil || !got {
				t.Fatalf("without a GenerationLog the rolled-back record should still open with the old secret: got %v, err %v", got, err)
			}
		})
		t.Run(name+"/with-log", func(t *testing.T) {
			e := newRollbackEnv(t, true)
			before := len(auditEvents(t, e.audit.String()))
			got, err := op.run(ctx, e)
			if !errors.Is(err, ErrRolledBack) || got {
				t.Fatalf("rolled-back record: got %v, err %v; want nothing and ErrRolledBack", got, err)
			}
			stored, ver, gerr := e.s.Get(ctx, "u")
			if gerr != nil || ver != e.oldVer || !bytes.Equal(stored, e.old) {
				t.Fatalf("the store changed: version %d (was %d), same bytes %v, %v", ver, e.oldVer, bytes.Equal(stored, e.old), gerr)
			}
			if f, _ := e.log.Floor(ctx, "u"); f != 2 {
				t.Fatalf("log floor moved to %d", f)
			}
			evs := auditEvents(t, e.audit.String())[before:]
			if op.event == "" {
				if len(evs) != 0 {
					t.Fatalf("audit events %v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0]["event"] != op.event || evs[0]["outcome"] != OutcomeFailure || evs[0]["error"] != "rolled_back" {
				t.Fatalf("audit events %v, want one %s failure of class rolled_back", evs, op.event)
			}
		})
	}
}

func TestRolledBackAccountCannotRecoverWithTheOldPersonalKeyWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "Recover", "RecoverInStore", "RecoverWithEscrow", "RecoverWithEscrowInStore")
}

func TestRolledBackAccountCannotChangePasswordWithTheOldPasswordWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "ChangePassword", "ChangePasswordInStore", "ChangePasswordAndRotate", "ChangePasswordAndRotateInStore")
}

func TestRolledBackAccountFailsCheckPersonalKeyWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "CheckPersonalKey")
}

func TestRolledBackAccountCannotBeOpenedWithEscrowWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "UnlockWithEscrow")
}

func TestRolledBackAccountCannotBeRotatedWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "RotateAccountKey")
}

func TestRolledBackAccountCannotBeUnlockedWhenAGenerationLogIsSet(t *testing.T) {
	checkRollbackRefused(t, "Unlock", "UnlockInStore")
}

// TestEveryAccountOpeningOperationIsCoveredByTheRollbackTests keeps the
// table above complete: every operation that opens an account with a
// secret has a rollback case.
func TestEveryAccountOpeningOperationIsCoveredByTheRollbackTests(t *testing.T) {
	want := []string{"ChangePassword", "ChangePasswordAndRotate", "ChangePasswordAndRotateInStore", "ChangePasswordInStore",
		"CheckPersonalKey", "Recover", "RecoverInStore", "RecoverWithEscrow", "RecoverWithEscrowInStore",
		"RotateAccountKey", "Unlock", "UnlockInStore", "UnlockWithEscrow"}
	var got []string
	for name := range rollbackOps {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("rollback cases %v, want %v", got, want)
	}
	// Every exported method of *Vault is either a rollback case above or
	// named here with why it needs none, so a method added later fails
	// this test until someone decides which it is.
	notOpening := map[string]string{
		"Enroll":                   "writes a new account; opens none",
		"EnrollInStore":            "writes a new account; refuses a user id the log has a floor for (TestReenrollingAShreddedUserIDIsRefusedWhileTheLogHoldsItsFloor)",
		"EnrollUnlocked":           "writes a new account; opens none",
		"EnrollUnlockedInStore":    "as EnrollInStore",
		"EscrowEnabled":            "configuration only",
		"Policy":                   "configuration only",
		"ResealInStore":            "takes an opened handle; its account rewrite is checked (TestResealRefusesToRewriteARolledBackAccount)",
		"Shred":                    "clears bytes; opens nothing",
		"ShredInStore":             "deletes; opens nothing",
		"UnlockInStoreWithOptions": "UnlockInStore's code path (the Unlock cases)",
		"UnlockWithOptions":        "Unlock's code path (the Unlock cases)",
	}
	typ := reflect.TypeFor[*Vault]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		_, covered := rollbackOps[name]
		if _, exempt := notOpening[name]; covered == exempt {
			t.Errorf("(*Vault).%s: covered by a rollback case %v, named as opening no account %v: exactly one must hold", name, covered, exempt)
		}
	}
	for name := range notOpening {
		if _, ok := typ.MethodByName(name); !ok {
			t.Errorf("notOpening names %s, which *Vault no longer has", name)
		}
	}
}

// TestGenerationCheckUsesTheAuthenticatedGeneration: raising the
// generation in a rolled-back record's bytes to the log's floor does not
// get it past the check: the header MAC fails first (ErrCorrupt), for
// every secret.
func TestGenerationCheckUsesTheAuthenticatedGeneration(t *testing.T) {
	ctx := context.Background()
	e := newRollbackEnv(t, true)
	forged := bytes.Clone(e.old)
	forged[6+7] = 2 // low byte of the generation: now says 2, the floor
	if g, _ := AccountGeneration(forged); g != 2 {
		t.Fatalf("forged generation %d", g)
	}
	if _, _, err := e.v.Recover(ctx, "u", forged, e.pk1, pw3); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrRolledBack) {
		t.Fatalf("Recover of a forged generation: %v", err)
	}
	if err := e.v.CheckPersonalKey(ctx, "u", forged, e.pk1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("CheckPersonalKey of a forged generation: %v", err)
	}
	if _, err := e.v.ChangePassword(ctx, "u", forged, pw1, pw3); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ChangePassword of a forged generation: %v", err)
	}
	if _, err := e.v.UnlockWithEscrow(ctx, "u", forged, e.escID, "ops", "CHG-1"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("UnlockWithEscrow of a forged generation: %v", err)
	}
}

// flakyLog is a GenerationLog whose Floor or Raise fails on demand.
type flakyLog struct {
	MemGenerationLog
	mu                     sync.Mutex
	floorFails, raiseFails bool
	floors, raises         int
}

var errLogDown = errors.New("generation log unreachable")

func (f *flakyLog) Floor(ctx context.Context, userID string) (uint64, error) {
	f.mu.Lock()
	f.floors++
	fail := f.floorFails
	f.mu.Unlock()
	if fail {
		return 0, errLogDown
	}
	return f.MemGenerationLog.Floor(ctx, userID)
}

func (f *flakyLog) Raise(ctx context.Context, userID string, gen uint64) error {
	f.mu.Lock()
	f.raises++
	fail := f.raiseFails
	f.mu.Unlock()
	if fail {
		return errLogDown
	}
	return f.MemGenerationLog.Raise(ctx, userID, gen)
}

func (f *flakyLog) set(floorFails, raiseFails bool) {
	f.mu.Lock()
	f.floorFails, f.raiseFails = floorFails, raiseFails
	f.mu.Unlock()
}

// TestGenerationLogFloorErrorFailsClosed: when Floor fails, every
// account-opening operation fails with an error wrapping ErrGenerationLog
// and the log's own error, hands back nothing, writes nothing and is
// audited as generation_log, even on the current record with the right
// secret. A Raise of the generation seen that fails before anything is
// written fails closed the same way.
func TestGenerationLogFloorErrorFailsClosed(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"floor", "raise-before-write"} {
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range rollbackOps {
				if !yield(n) {
					return
				}
			}
		}) {
			t.Run(mode+"/"+name, func(t *testing.T) {
				op := rollbackOps[name]
				lg := &flakyLog{}
				escR, escID := newEscrow(t, "kms-1")
				v, audit := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escR; c.Generations = lg })
				s := NewMemStore()
				pk1, err := v.EnrollInStore(ctx, s, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				cur, ver, _ := s.Get(ctx, "u")
				e := &rollbackEnv{v: v, audit: audit, s: s, escID: escID, pk1: pk1, old: cur, oldVer: ver}
				if mode == "floor" {
					lg.set(true, false)
				} else {
					// A rewrite the log never heard of (a stateless change
					// to the same password, stored by the caller): the
					// floor (1) is below the generation seen (2), so the
					// operation must raise it before it trusts the record.
					next, err := v.ChangePassword(ctx, "u", cur, pw1, pw1)
					if err != nil {
						t.Fatal(err)
					}
					if ver, err = s.Put(ctx, "u", next, ver); err != nil {
						t.Fatal(err)
					}
					e.old, e.oldVer = next, ver
					if f, _ := lg.Floor(ctx, "u"); f != 1 {
						t.Fatalf("floor %d, want 1", f)
					}
					lg.set(false, true)
				}
				before := len(auditEvents(t, audit.String()))
				got, err := op.run(ctx, e)
				if !errors.Is(err, ErrGenerationLog) || !errors.Is(err, errLogDown) || got {
					t.Fatalf("got %v, err %v; want nothing and an error wrapping ErrGenerationLog and the log's error", got, err)
				}
				stored, sv, _ := s.Get(ctx, "u")
				if sv != e.oldVer || !bytes.Equal(stored, e.old) {
					t.Fatal("the store changed")
				}
				evs := auditEvents(t, audit.String())[before:]
				if op.event != "" && (len(evs) != 1 || evs[0]["outcome"] != OutcomeFailure || evs[0]["error"] != "generation_log") {
					t.Fatalf("audit events %v, want one failure of class generation_log", evs)
				}
			})
		}
	}
}

// TestGenerationLogIsNeverConsultedForAWrongSecretOrAnUnknownUser: the log
// is read only once a secret opened the account, so its latency tells a
// guesser nothing, and an unknown user costs no log call (as it costs no
// store read beyond the Get).
func TestGenerationLogIsNeverConsultedForAWrongSecretOrAnUnknownUser(t *testing.T) {
	ctx := context.Background()
	lg := &flakyLog{}
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Generations = lg })
	s := NewMemStore()
	if _, err := v.EnrollInStore(ctx, s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	account, _, _ := s.Get(ctx, "u")
	lg.set(true, true)
	lg.floors, lg.raises = 0, 0
	other, _ := newTestVault(t, testPolicy(t))
	_, wrongPK, _ := other.Enroll(ctx, "x", pw1)
	if _, err := v.UnlockInStore(ctx, s, "u", pw2); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := v.UnlockInStore(ctx, s, "nobody", pw1); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, _, err := v.Recover(ctx, "u", account, wrongPK, pw3); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("wrong personal key: %v", err)
	}
	if err := v.CheckPersonalKey(ctx, "u", account, wrongPK); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("CheckPersonalKey with a wrong key: %v", err)
	}
	if lg.floors != 0 || lg.raises != 0 {
		t.Fatalf("log consulted %d times, raised %d times for wrong secrets", lg.floors, lg.raises)
	}
}

// TestGenerationLogIsRaisedAfterEverySuccessfulRewrite: through the Store
// helpers, the log's floor equals the stored account's generation after
// every operation that rewrote it (enroll, an upgrade on unlock, password
// change, recovery by personal key and by escrow, rotation, reseal), so a
// rollback to any earlier record is refused. The stateless methods raise
// only the generation they opened (the caller stores their output, and
// the log must not get ahead of a record that may never be stored); the
// next open of the stored output raises the log to it.
func TestGenerationLogIsRaisedAfterEverySuccessfulRewrite(t *testing.T) {
	ctx := context.Background()
	prof := profiles(t)[0]
	lg := NewMemGenerationLog()
	escR, escID := newEscrow(t, "kms-1")
	v, _ := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escR; c.Generations = lg })
	strong, _ := newTestVault(t, prof.strong, func(c *Config) { c.Escrow = escR; c.Generations = lg })
	s, recs := NewMemStore(), NewMemRecordStore()
	var history [][]byte
	check := func(step string, wantGen uint64) {
		t.Helper()
		stored, _, err := s.Get(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		g, _ := AccountGeneration(stored)
		f, _ := lg.Floor(ctx, "u")
		if g != wantGen || f != g {
			t.Fatalf("after %s: stored generation %d (want %d), log floor %d", step, g, wantGen, f)
		}
		history = append(history, stored)
	}
	pk, err := v.EnrollInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	check("EnrollInStore", 1)
	u, err := strong.UnlockInStore(ctx, s, "u", pw1) // upgrades the parameters
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := u.Seal("pii", []byte("record"))
	_, _ = recs.PutRecord(ctx, "u", "pii", sealed, 0)
	u.Close()
	check("UnlockInStore with an upgrade", 2)
	if err := strong.ChangePasswordInStore(ctx, s, "u", pw1, pw2); err != nil {
		t.Fatal(err)
	}
	check("ChangePasswordInStore", 3)
	if pk, err = strong.RecoverInStore(ctx, s, "u", pk, pw3); err != nil {
		t.Fatal(err)
	}
	check("RecoverInStore", 4)
	if pk, err = strong.RecoverWithEscrowInStore(ctx, s, "u", escID, pw1, "ops", "CHG-1"); err != nil {
		t.Fatal(err)
	}
	check("RecoverWithEscrowInStore", 5)
	if pk, err = strong.ChangePasswordAndRotateInStore(ctx, s, "u", pw1, pw2); err != nil {
		t.Fatal(err)
	}
	check("ChangePasswordAndRotateInStore", 6)
	u, err = strong.UnlockInStore(ctx, s, "u", pw2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := strong.ResealInStore(ctx, u, recs, s, nil)
	u.Close()
	if err != nil || !st.DroppedOlderKeys {
		t.Fatalf("ResealInStore: %+v, %v", st, err)
	}
	check("ResealInStore", 7)
	// Every earlier record is now a rollback, whatever secret opens it.
	for i, old := range history[:len(history)-1] {
		for _, pw := range [][]byte{pw1, pw2, pw3} {
			if _, _, err := strong.Unlock(ctx, "u", old, pw); err == nil || (!errors.Is(err, ErrRolledBack) && !errors.Is(err, ErrWrongSecret)) {
				t.Fatalf("record %d with a password: %v", i+1, err)
			}
		}
	}
	if _, _, err := strong.Unlock(ctx, "u", history[5], pw2); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("record 6 with its password: %v", err)
	}

	// Stateless: the output is the caller's to store; the log stays at the
	// generation opened until then.
	cur, ver, _ := s.Get(ctx, "u")
	out, _, err := strong.Recover(ctx, "u", cur, pk, pw3)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := lg.Floor(ctx, "u"); f != 7 {
		t.Fatalf("stateless Recover raised the log to %d before its output was stored", f)
	}
	if _, err := s.Put(ctx, "u", out, ver); err != nil {
		t.Fatal(err)
	}
	u = mustUnlock(t, strong, "u", out, pw3)
	u.Close()
	if f, _ := lg.Floor(ctx, "u"); f != 8 {
		t.Fatalf("opening the stored output left the log at %d, want 8", f)
	}
}

// TestGenerationLogRaiseFailureAfterAWriteKeepsTheOperation: a Raise that
// fails after the Store confirmed the write cannot undo it: every Store
// helper that rewrites the account succeeds (a new personal key is
// returned: it may be the only one that opens the account), its one audit
// event is a success with generation_log=raise_failed, the log lags at
// the generation opened (never ahead), and the next open of the stored
// account raises it. An upgrade UnlockInStore writes back is the same,
// minus the attribute (the unlock's event is written before the upgrade
// is stored).
func TestGenerationLogRaiseFailureAfterAWriteKeepsTheOperation(t *testing.T) {
	ctx := context.Background()
	prof := profiles(t)[0]
	escR, escID := newEscrow(t, "kms-1")
	ops := []struct {
		name, event string
		run         func(v *Vault, s Store, recs RecordStore, pk PersonalKey) (PersonalKey, error)
	}{
		{"EnrollInStore", EventEnroll, func(v *Vault, s Store, _ RecordStore, _ PersonalKey) (PersonalKey, error) {
			return v.EnrollInStore(ctx, s, "u2", pw1)
		}},
		{"ChangePasswordInStore", EventChangePassword, func(v *Vault, s Store, _ RecordStore, _ PersonalKey) (PersonalKey, error) {
			return PersonalKey{}, v.ChangePasswordInStore(ctx, s, "u", pw1, pw2)
		}},
		{"RecoverInStore", EventRecover, func(v *Vault, s Store, _ RecordStore, pk PersonalKey) (PersonalKey, error) {
			return v.RecoverInStore(ctx, s, "u", pk, pw2)
		}},
		{"RecoverWithEscrowInStore", EventEscrowRecover, func(v *Vault, s Store, _ RecordStore, _ PersonalKey) (PersonalKey, error) {
			return v.RecoverWithEscrowInStore(ctx, s, "u", escID, pw2, "ops", "CHG-1")
		}},
		{"ChangePasswordAndRotateInStore", EventRotate, func(v *Vault, s Store, _ RecordStore, _ PersonalKey) (PersonalKey, error) {
			return v.ChangePasswordAndRotateInStore(ctx, s, "u", pw1, pw2)
		}},
		{"ResealInStore", EventReseal, func(v *Vault, s Store, recs RecordStore, _ PersonalKey) (PersonalKey, error) {
			u, err := v.UnlockInStore(ctx, s, "u", pw1)
			if err != nil {
				return PersonalKey{}, err
			}
			defer u.Close()
			st, err := v.ResealInStore(ctx, u, recs, s, nil)
			if err == nil && !st.DroppedOlderKeys {
				err = errors.New("older keys not dropped")
			}
			return PersonalKey{}, err
		}},
		{"UnlockInStore with an upgrade", EventUnlock, nil},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			lg := &flakyLog{}
			v, audit := newTestVault(t, prof.weak, func(c *Config) { c.Escrow = escR; c.Generations = lg })
			s, recs := NewMemStore(), NewMemRecordStore()
			pk, err := v.EnrollInStore(ctx, s, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			if op.name == "ResealInStore" {
				// A rotation leaves an older key for the reseal to drop.
				next, _, u, err := v.RotateAccountKey(ctx, "u", mustGet(t, s), pw1)
				if err != nil {
					t.Fatal(err)
				}
				u.Close()
				_, ver, _ := s.Get(ctx, "u")
				if _, err := s.Put(ctx, "u", next, ver); err != nil {
					t.Fatal(err)
				}
				if err := lg.Raise(ctx, "u", 2); err != nil {
					t.Fatal(err)
				}
			}
			userID := "u"
			if op.name == "EnrollInStore" {
				userID = "u2"
			}
			opened, _ := lg.Floor(ctx, userID) // the generation the operation opens
			// The floor equals the generation opened, so the only Raise is
			// the one after the write.
			lg.set(false, true)
			before := len(auditEvents(t, audit.String()))
			var newPK PersonalKey
			if op.run == nil {
				strong, _ := newTestVault(t, prof.strong, func(c *Config) { c.Escrow = escR; c.Generations = lg })
				var u *Unlocked
				if u, err = strong.UnlockInStore(ctx, s, "u", pw1); err == nil {
					u.Close()
				}
				before = len(auditEvents(t, audit.String())) // strong audits elsewhere
			} else {
				newPK, err = op.run(v, s, recs, pk)
			}
			if err != nil {
				t.Fatalf("%s with a failing Raise after the write: %v", op.name, err)
			}
			stored := mustGetUser(t, s, userID)
			storedGen, _ := AccountGeneration(stored)
			if storedGen != opened+1 {
				t.Fatalf("stored generation %d, want %d: the write did not happen", storedGen, opened+1)
			}
			if !newPK.IsZero() {
				if err := opensWithPK(t, userID, stored, newPK); err != nil {
					t.Fatalf("the new personal key does not open the stored account: %v", err)
				}
			}
			if op.run != nil {
				evs := auditEvents(t, audit.String())[before:]
				last := evs[len(evs)-1]
				if last["event"] != op.event || last["outcome"] != OutcomeSuccess || last[attrGenerationLog] != "raise_failed" {
					t.Fatalf("audit events %v, want a %s success with generation_log=raise_failed last", evs, op.event)
				}
			}
			if f, _ := lg.MemGenerationLog.Floor(ctx, userID); f != opened {
				t.Fatalf("floor %d, want the generation opened (%d)", f, opened)
			}
			lg.set(false, false)
			if u, err := v.UnlockInStore(ctx, s, userID, pwOf(op.name)); err != nil {
				t.Fatalf("the next open: %v", err)
			} else {
				u.Close()
			}
			if f, _ := lg.Floor(ctx, userID); f != storedGen {
				t.Fatalf("the next open left the floor at %d, want %d", f, storedGen)
			}
		})
	}
}

// pwOf is the password of the account after the named operation of
// TestGenerationLogRaiseFailureAfterAWriteKeepsTheOperation.
func pwOf(op string) []byte {
	switch op {
	case "ChangePasswordInStore", "RecoverInStore", "RecoverWithEscrowInStore", "ChangePasswordAndRotateInStore":
		return pw2
	}
	return pw1
}

func mustGet(t *testing.T, s Store) []byte { return mustGetUser(t, s, "u") }

func mustGetUser(t *testing.T, s Store, userID string) []byte {
	t.Helper()
	b, _, err := s.Get(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLostAcknowledgementKeepsThePersonalKeyAndTheGenerationLogConsistent
// fails the one write of every rewriting Store helper in every way a store
// can (see failModes) with a GenerationLog set. The log is never ahead of
// the stored record (so no secret that opens it is refused as a
// rollback); it equals the stored generation whenever the helper reported
// success; and after ErrOutcomeUnknown it stays at the generation opened
// until the caller settles the outcome with CheckPersonalKey, which
// raises it to the record that is really stored.
func TestLostAcknowledgementKeepsThePersonalKeyAndTheGenerationLogConsistent(t *testing.T) {
	ctx := context.Background()
	escR, escID := newEscrow(t, "kms-1")
	ops := []struct {
		name string
		run  func(v *Vault, s Store, oldPK PersonalKey) (PersonalKey, error)
	}{
		{"EnrollInStore", func(v *Vault, s Store, _ PersonalKey) (PersonalKey, error) {
			return v.EnrollInStore(ctx, s, "u", pw2)
		}},
		{"RecoverInStore", func(v *Vault, s Store, pk PersonalKey) (PersonalKey, error) {
			return v.RecoverInStore(ctx, s, "u", pk, pw2)
		}},
		{"RecoverWithEscrowInStore", func(v *Vault, s Store, _ PersonalKey) (PersonalKey, error) {
			return v.RecoverWithEscrowInStore(ctx, s, "u", escID, pw2, "agent", "ticket")
		}},
		{"ChangePasswordAndRotateInStore", func(v *Vault, s Store, _ PersonalKey) (PersonalKey, error) {
			return v.ChangePasswordAndRotateInStore(ctx, s, "u", pw1, pw2)
		}},
		{"ChangePasswordInStore", func(v *Vault, s Store, _ PersonalKey) (PersonalKey, error) {
			return PersonalKey{}, v.ChangePasswordInStore(ctx, s, "u", pw1, pw2)
		}},
	}
	for _, op := range ops {
		for _, m := range failModes {
			t.Run(op.name+"/"+m.name, func(t *testing.T) {
				lg := NewMemGenerationLog()
				v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Escrow = escR; c.Generations = lg })
				mem := NewMemStore()
				var oldPK PersonalKey
				var oldGen uint64
				if op.name != "EnrollInStore" {
					var err error
					if oldPK, err = v.EnrollInStore(ctx, mem, "u", pw1); err != nil {
						t.Fatal(err)
					}
					oldGen = 1
				}
				s := &failingStore{MemStore: mem, failAt: 1, afterWrite: m.afterWrite, getFailsAfter: m.getFails}
				pk, err := op.run(v, s, oldPK)
				if !s.failed {
					t.Fatal("no write failed")
				}
				floor, _ := lg.Floor(ctx, "u")
				stored, _, gerr := mem.Get(ctx, "u")
				var storedGen uint64
				if gerr == nil {
					storedGen, _ = AccountGeneration(stored)
				}
				if floor > storedGen {
					t.Fatalf("log floor %d ahead of the stored generation %d", floor, storedGen)
				}
				switch {
				case err == nil:
					if floor != storedGen {
						t.Fatalf("success, but the log floor %d is not the stored generation %d", floor, storedGen)
					}
				case errors.Is(err, ErrOutcomeUnknown):
					if floor != oldGen {
						t.Fatalf("outcome unknown, log floor %d, want the generation opened %d", floor, oldGen)
					}
				default:
					t.Fatalf("unexpected error %v", err)
				}
				if gerr != nil {
					return // enrollment that did not land: nothing to settle
				}
				// Settle as the documentation says: whichever personal key
				// opens the stored record passes CheckPersonalKey (it is not
				// refused as a rollback), and the log then equals the
				// stored generation.
				settled := false
				for _, k := range []PersonalKey{pk, oldPK} {
					if k.IsZero() {
						continue
					}
					switch cerr := v.CheckPersonalKey(ctx, "u", stored, k); {
					case cerr == nil:
						settled = true
					case !errors.Is(cerr, ErrWrongSecret):
						t.Fatalf("CheckPersonalKey: %v", cerr)
					}
				}
				if op.name == "ChangePasswordInStore" {
					for _, pw := range [][]byte{pw1, pw2} {
						if u, _, uerr := v.Unlock(ctx, "u", stored, pw); uerr == nil {
							u.Close()
							settled = true
						} else if !errors.Is(uerr, ErrWrongSecret) {
							t.Fatalf("Unlock: %v", uerr)
						}
					}
				}
				if !settled {
					t.Fatal("no secret the caller holds opens the stored account")
				}
				if f, _ := lg.Floor(ctx, "u"); f != storedGen {
					t.Fatalf("after settling, log floor %d, stored generation %d", f, storedGen)
				}
			})
		}
	}
}

// TestGenerationLogAndMinGenerationTheLargerFloorApplies: Unlock refuses
// a record below either floor, whichever is larger.
func TestGenerationLogAndMinGenerationTheLargerFloorApplies(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Generations = NewMemGenerationLog() })
	a1, _, err := v.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := v.ChangePassword(ctx, "u", a1, pw1, pw2) // generation 2
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		logFloor, minGen uint64
		ok               bool
	}{{0, 0, true}, {2, 0, true}, {0, 2, true}, {3, 0, false}, {0, 3, false}, {3, 1, false}, {1, 3, false}, {2, 2, true}} {
		lg := NewMemGenerationLog()
		_ = lg.Raise(ctx, "u", c.logFloor)
		v.genLog = lg
		u, _, err := v.UnlockWithOptions(ctx, "u", a2, pw2, UnlockOptions{MinGeneration: c.minGen})
		u.Close()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrRolledBack)) {
			t.Fatalf("log floor %d, MinGeneration %d: %v", c.logFloor, c.minGen, err)
		}
	}
}

// TestResealRefusesToRewriteARolledBackAccount: ResealInStore drops the
// older keys only from a stored account that is neither older than the
// account its handle was opened from (checked with or without a log) nor
// below the log's floor (a handle opened from the rolled-back record
// itself); a rolled-back account under the same key is left as it is.
func TestResealRefusesToRewriteARolledBackAccount(t *testing.T) {
	ctx := context.Background()
	for _, handleFromRolledBack := range []bool{false, true} {
		t.Run(fmt.Sprintf("handle_from_rolled_back_record_%v", handleFromRolledBack), func(t *testing.T) {
			lg := NewMemGenerationLog()
			v, _ := newTestVault(t, testPolicy(t), func(c *Config) {
				if handleFromRolledBack {
					c.Generations = lg
				}
			})
			s, recs := NewMemStore(), NewMemRecordStore()
			pk, err := v.EnrollInStore(ctx, s, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.RecoverInStore(ctx, s, "u", pk, pw2); err != nil { // rotates: one older key
				t.Fatal(err)
			}
			rotated, _, _ := s.Get(ctx, "u") // generation 2
			if err := v.ChangePasswordInStore(ctx, s, "u", pw2, pw3); err != nil {
				t.Fatal(err) // generation 3, same key
			}
			var u *Unlocked
			if handleFromRolledBack {
				// Opened from the old record by a Vault without the log
				// (another process): only the log tells.
				nolog, _ := newTestVault(t, testPolicy(t))
				u, _, err = nolog.Unlock(ctx, "u", rotated, pw2)
			} else {
				u, err = v.UnlockInStore(ctx, s, "u", pw3) // generation 3
			}
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			_, ver, _ := s.Get(ctx, "u")
			if ver, err = s.Put(ctx, "u", rotated, ver); err != nil { // roll back to generation 2
				t.Fatal(err)
			}
			if _, err = v.ResealInStore(ctx, u, recs, s, nil); !errors.Is(err, ErrRolledBack) {
				t.Fatalf("reseal over a rolled-back account: %v", err)
			}
			if stored, sv, _ := s.Get(ctx, "u"); sv != ver || !bytes.Equal(stored, rotated) {
				t.Fatal("the rolled-back account was rewritten")
			}
		})
	}
}

// TestMemGenerationLogRaiseIsMaxOnlyAndConcurrencySafe: concurrent Raises
// leave the highest value; a lower Raise changes nothing; users are
// independent; a cancelled context is refused.
func TestMemGenerationLogRaiseIsMaxOnlyAndConcurrencySafe(t *testing.T) {
	ctx := context.Background()
	var lg MemGenerationLog // the zero value works
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			_ = lg.Raise(ctx, "u", uint64(i))
			_, _ = lg.Floor(ctx, "u")
		})
	}
	wg.Wait()
	if f, _ := lg.Floor(ctx, "u"); f != 63 {
		t.Fatalf("floor %d, want 63", f)
	}
	_ = lg.Raise(ctx, "u", 5)
	if f, _ := lg.Floor(ctx, "u"); f != 63 {
		t.Fatalf("a lower Raise lowered the floor to %d", f)
	}
	if f, _ := lg.Floor(ctx, "other"); f != 0 {
		t.Fatalf("unknown user floor %d", f)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := lg.Raise(cctx, "u", 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("Raise with a cancelled context: %v", err)
	}
	if _, err := lg.Floor(cctx, "u"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Floor with a cancelled context: %v", err)
	}
}

// TestReenrollingAShreddedUserIDIsRefusedWhileTheLogHoldsItsFloor: after
// ShredInStore the log keeps the old account's floor, so a new account for
// the same user id (generation 1) would be refused as rolled back at every
// open: a lock-out handed out with a personal key that opens nothing.
// EnrollInStore and EnrollUnlockedInStore refuse it instead (ErrConflict,
// nothing written, no key, no handle); once the caller forgets the user in
// the log, the enrollment works and the account opens.
func TestReenrollingAShreddedUserIDIsRefusedWhileTheLogHoldsItsFloor(t *testing.T) {
	ctx := context.Background()
	log := NewMemGenerationLog()
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Generations = log })
	s := NewMemStore()
	if _, err := v.EnrollInStore(ctx, s, "u", pw1); err != nil {
		t.Fatal(err)
	}
	if err := v.ChangePasswordInStore(ctx, s, "u", pw1, pw2); err != nil {
		t.Fatal(err)
	}
	if err := v.ShredInStore(ctx, s, "u"); err != nil {
		t.Fatal(err)
	}
	pk, err := v.EnrollInStore(ctx, s, "u", pw3)
	if !errors.Is(err, ErrConflict) || !pk.IsZero() {
		t.Fatalf("EnrollInStore over the floor of a shredded account: pk set %v, err %v; want ErrConflict and nothing", !pk.IsZero(), err)
	}
	u, pk, err := v.EnrollUnlockedInStore(ctx, s, "u", pw3)
	if !errors.Is(err, ErrConflict) || !pk.IsZero() || u != nil {
		t.Fatalf("EnrollUnlockedInStore over the floor: err %v", err)
	}
	if _, _, err := s.Get(ctx, "u"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("something was stored: %v", err)
	}
	log.Forget("u")
	if _, err := v.EnrollInStore(ctx, s, "u", pw3); err != nil {
		t.Fatal(err)
	}
	u, err = v.UnlockInStore(ctx, s, "u", pw3)
	if err != nil {
		t.Fatalf("the account enrolled after Forget does not open: %v", err)
	}
	u.Close()
}

// cancellingLog cancels the operation while its Floor is in flight and
// fails with the context's error, as a log honouring its context does.
type cancellingLog struct {
	MemGenerationLog
	cancel context.CancelFunc
}

func (c *cancellingLog) Floor(ctx context.Context, _ string) (uint64, error) {
	c.cancel()
	return 0, ctx.Err()
}

// TestOperationCancelledDuringAFloorReadFailsAsCancelledNotAsALogFailure:
// a caller that gives up while the log is read gets its context's error
// and the audit class cancelled (the operation fails closed all the
// same): ErrGenerationLog and generation_log are for the log's own
// failures, where the operator must look.
func TestOperationCancelledDuringAFloorReadFailsAsCancelledNotAsALogFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := &cancellingLog{cancel: cancel}
	v, audit := newTestVault(t, testPolicy(t), func(c *Config) { c.Generations = lg })
	account, _, err := v.Enroll(context.Background(), "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := v.Unlock(ctx, "u", account, pw1)
	if u != nil || !errors.Is(err, context.Canceled) || errors.Is(err, ErrGenerationLog) {
		t.Fatalf("handle %v, err %v; want none and context.Canceled, not ErrGenerationLog", u != nil, err)
	}
	evs := auditEvents(t, audit.String())
	if last := evs[len(evs)-1]; last["event"] != EventUnlock || last["error"] != "cancelled" {
		t.Fatalf("audit event %v, want an unlock failure of class cancelled", last)
	}
}
