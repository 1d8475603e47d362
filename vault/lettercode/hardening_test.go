package lettercode

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// yieldingStore is a MemoryStore that yields between reading a state and
// swapping it, so that concurrent Verify calls interleave as much as
// possible.
type yieldingStore struct{ *MemoryStore }

func (s yieldingStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.MemoryStore.Get(ctx, key)
	runtime.Gosched()
	return b, err
}

// TestConcurrentVerifyOnOneRecordChecksAtMostMaxAttempts: 100 concurrent
// wrong guesses on one record with MaxAttempts=1 examine exactly one code;
// the other 99 are refused with ErrTooManyAttempts before their code is
// looked at. (With caller-held attempt state, all 100 read the same empty
// state and all 100 were checked.)
func TestConcurrentVerifyOnOneRecordChecksAtMostMaxAttempts(t *testing.T) {
	is, err := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), MaxAttempts: 1,
		Attempts: yieldingStore{NewMemoryStore()}})
	if err != nil {
		t.Fatal(err)
	}
	_, rec, _ := is.Issue("u", t0)
	var examined, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch err := is.Verify(ctx, "u", rec, "00000-00000", t0); {
			case errors.Is(err, ErrMismatch):
				examined.Add(1)
			case errors.Is(err, ErrTooManyAttempts):
				refused.Add(1)
			default:
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if examined.Load() != 1 || refused.Load() != 99 {
		t.Fatalf("%d guesses examined, %d refused; want 1 and 99", examined.Load(), refused.Load())
	}
}

// TestSubjectLimitSpansAllOfTheSubjectsRecords: requesting more letters
// does not multiply the guesses: with 5 per record and 6 per subject, two
// wrong tries on each of three records use the subject's budget, and a
// fourth record's first try is refused; another subject is unaffected.
func TestSubjectLimitSpansAllOfTheSubjectsRecords(t *testing.T) {
	is, err := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), MaxAttemptsPerSubject: 6})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, rec, _ := is.Issue("u", t0)
		for range 2 {
			if err := is.Verify(ctx, "u", rec, "00000-00000", t0); !errors.Is(err, ErrMismatch) {
				t.Fatalf("wrong try: %v", err)
			}
		}
	}
	code, rec, _ := is.Issue("u", t0)
	if err := is.Verify(ctx, "u", rec, code, t0); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("7th try for the subject: %v, want ErrTooManyAttempts", err)
	}
	if err := is.Verify(ctx, "u", rec, code, t0.Add(DefaultWindow)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	code2, rec2, _ := is.Issue("v", t0)
	if err := is.Verify(ctx, "v", rec2, code2, t0); err != nil {
		t.Fatalf("another subject: %v", err)
	}
	if _, err := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), MaxAttemptsPerSubject: MaxAttemptsLimit + 1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("per-subject limit over MaxAttemptsLimit: %v", err)
	}
}

// TestIssueAfterKeyringCloseFails: a closed keyring issues nothing (it
// used to MAC new codes under an empty key, which anyone can recompute).
func TestIssueAfterKeyringCloseFails(t *testing.T) {
	kr := mustKeyring(t, testKey("k1", 0))
	is := newIssuer(t, kr)
	kr.Close()
	kr.Close() // twice is fine
	code, rec, err := is.Issue("u", t0)
	if !errors.Is(err, ErrKeyringClosed) || code != "" || rec != (Record{}) {
		t.Fatalf("Issue after Close = %q, %+v, %v; want ErrKeyringClosed", code, rec, err)
	}
	if _, err := New(Config{Keys: kr}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New with a closed keyring: %v", err)
	}
}

// TestKeyringCloseDuringVerifyIsSafe: Close racing Verify and Issue (a
// fatal concurrent map access before) is safe: every call either uses
// the key whole or reports ErrUnknownKey / ErrKeyringClosed. Run under
// -race in CI.
func TestKeyringCloseDuringVerifyIsSafe(t *testing.T) {
	kr := mustKeyring(t, testKey("k1", 0))
	is, err := New(Config{Keys: kr, MaxAttempts: MaxAttemptsLimit, MaxAttemptsPerSubject: MaxAttemptsLimit})
	if err != nil {
		t.Fatal(err)
	}
	code, rec, _ := is.Issue("u", t0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 8 {
				err := is.Verify(ctx, "u", rec, code, t0.Add(time.Duration(i*8+j)*time.Millisecond))
				if err != nil && !errors.Is(err, ErrUnknownKey) {
					t.Errorf("Verify during Close: %v", err)
				}
				if _, _, err := is.Issue("u", t0); err != nil && !errors.Is(err, ErrKeyringClosed) {
					t.Errorf("Issue during Close: %v", err)
				}
			}
		}()
	}
	kr.Close()
	wg.Wait()
	if err := is.Verify(ctx, "u", rec, code, t0); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after Close: %v, want ErrUnknownKey", err)
	}
}

// TestCodeBeforeIssuedAtIsNotValid: the doc says a code is valid for
// IssuedAt <= t < ExpiresAt; an hour (or a nanosecond) before IssuedAt it
// is refused, and not counted.
func TestCodeBeforeIssuedAtIsNotValid(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	code, rec, _ := is.Issue("u", t0)
	for _, at := range []time.Time{t0.Add(-time.Hour), t0.Add(-time.Nanosecond)} {
		if err := is.Verify(ctx, "u", rec, code, at); !errors.Is(err, ErrNotYetValid) {
			t.Errorf("at issue%v: %v, want ErrNotYetValid", at.Sub(t0), err)
		}
	}
	if n := recordAttempts(t, is, rec); n != 0 {
		t.Fatalf("not-yet-valid tries counted: %d", n)
	}
	if err := is.Verify(ctx, "u", rec, code, t0); err != nil {
		t.Fatalf("at IssuedAt: %v", err)
	}
}

// TestStoredSubjectIsBound: a record whose stored Subject was edited does
// not verify for the subject it was issued to (the MAC covers the stored
// Subject) nor for the new one (which must equal the caller's subject and
// is not what the MAC covers).
func TestStoredSubjectIsBound(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	code, rec, _ := is.Issue("user-1", t0)
	edited := rec
	edited.Subject = "user-2"
	for _, subject := range []string{"user-1", "user-2"} {
		if err := is.Verify(ctx, subject, edited, code, t0); !errors.Is(err, ErrMismatch) {
			t.Errorf("edited record for %s: %v, want ErrMismatch", subject, err)
		}
	}
	if err := is.Verify(ctx, "user-1", rec, code, t0); err != nil {
		t.Fatalf("untouched record: %v", err)
	}
}

type failingStore struct{ err error }

func (s failingStore) Get(context.Context, string) ([]byte, error) { return nil, s.err }
func (s failingStore) CompareAndSwap(context.Context, string, []byte, []byte) (bool, error) {
	return false, s.err
}

// TestAttemptStoreErrorsStopVerification: if the attempt cannot be
// recorded, the code is not checked and the store's error is returned.
func TestAttemptStoreErrorsStopVerification(t *testing.T) {
	boom := errors.New("store down")
	is, err := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), Attempts: failingStore{boom}})
	if err != nil {
		t.Fatal(err)
	}
	code, rec, _ := is.Issue("u", t0)
	if err := is.Verify(ctx, "u", rec, code, t0); !errors.Is(err, boom) {
		t.Fatalf("Verify with a failing store: %v, want the store's error", err)
	}
}
