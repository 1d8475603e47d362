package kdf

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitForDeadline bounds waitFor. It is far above any real wait (the
// conditions waited on hold within microseconds) and far below go test's
// ten-minute -timeout, so a broken limiter fails its test instead of
// hanging CI. It is not a timed assertion: it only turns a hang into a
// failure.
const waitForDeadline = 30 * time.Second

// waitFor polls cond until it holds. It exists to order goroutines in
// tests (wait until a waiter is queued), not to time anything. If cond has
// not held after waitForDeadline it panics, which fails the running test
// at once with the stack of the wait that never ended.
func waitFor(cond func() bool) {
	if !pollUntil(waitForDeadline, cond) {
		panic("waitFor: condition not reached within " + waitForDeadline.String() + " (a waiter never queued or never woke)")
	}
}

// pollUntil polls cond until it holds (true) or d has passed (false).
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}

// TestWaitForHasDeadlineInsteadOfHanging: the helper the limiter tests use
// to order goroutines gives up on a condition that never holds (so a
// broken limiter fails its test rather than hanging CI), and still returns
// as soon as a condition holds.
func TestWaitForHasDeadlineInsteadOfHanging(t *testing.T) {
	done := make(chan bool, 1)
	go func() { done <- pollUntil(20*time.Millisecond, func() bool { return false }) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("pollUntil reported a never-true condition as reached")
		}
	case <-time.After(time.Minute):
		t.Fatal("pollUntil did not give up on a never-true condition")
	}
	if !pollUntil(time.Hour, func() bool { return true }) {
		t.Fatal("pollUntil missed a condition that holds")
	}
}

// TestLimiterNeverExceedsBudget runs N goroutines through a limiter with
// room for k of them, counts how many are inside at once with an atomic
// counter, and checks that the count never passes k, that every goroutine
// finishes, and that all bytes come back.
func TestLimiterNeverExceedsBudget(t *testing.T) {
	const n, k, unit = 64, 3, 1000
	l := NewLimiter(k * unit)
	var inside, maxInside atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Acquire(context.Background(), unit); err != nil {
				t.Error(err)
				return
			}
			now := inside.Add(1)
			for {
				m := maxInside.Load()
				if now <= m || maxInside.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(50 * time.Microsecond) // let others pile up
			inside.Add(-1)
			l.Release(unit)
		}()
	}
	wg.Wait()
	if m := maxInside.Load(); m > k || m < 1 {
		t.Errorf("%d holders at once, budget allows %d", m, k)
	}
	if l.InUse() != 0 || l.Waiting() != 0 {
		t.Errorf("after all released: in use %d, waiting %d", l.InUse(), l.Waiting())
	}
	if l.Peak() > l.Size() {
		t.Errorf("peak %d over size %d", l.Peak(), l.Size())
	}
}

// TestLimiterMixedWeightsStayWithinBudget: requests of different sizes;
// the bytes held at once (instrumented) never exceed the budget.
func TestLimiterMixedWeightsStayWithinBudget(t *testing.T) {
	const size = 100
	l := NewLimiter(size)
	var held, maxHeld atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		w := int64(1 + i*37%size) // 1..100, deterministic spread
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Acquire(context.Background(), w); err != nil {
				t.Error(err)
				return
			}
			now := held.Add(w)
			for {
				m := maxHeld.Load()
				if now <= m || maxHeld.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(20 * time.Microsecond)
			held.Add(-w)
			l.Release(w)
		}()
	}
	wg.Wait()
	if m := maxHeld.Load(); m > size {
		t.Errorf("%d bytes held at once, budget %d", m, size)
	}
	if l.InUse() != 0 {
		t.Errorf("in use %d after all released", l.InUse())
	}
}

// TestLimiterCancelledWaiterReturnsAtOnce: a waiter whose context is
// cancelled returns context.Canceled while the budget is still full (no
// Release happened), and afterwards holds nothing.
func TestLimiterCancelledWaiterReturnsAtOnce(t *testing.T) {
	l := NewLimiter(10)
	if err := l.Acquire(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Acquire(ctx, 5) }()
	waitFor(func() bool { return l.Waiting() == 1 })
	cancel()
	err := <-errc // the budget is still full: only cancellation can end this
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	if l.Waiting() != 0 || l.InUse() != 10 {
		t.Errorf("after cancel: waiting %d, in use %d", l.Waiting(), l.InUse())
	}
	l.Release(10)
	if l.InUse() != 0 {
		t.Errorf("in use %d", l.InUse())
	}
}

func TestLimiterDeadlineWhileWaiting(t *testing.T) {
	l := NewLimiter(10)
	_ = l.Acquire(context.Background(), 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := l.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestLimiterRefusesWithDoneContextEvenWithRoom(t *testing.T) {
	l := NewLimiter(10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if l.InUse() != 0 {
		t.Errorf("in use %d", l.InUse())
	}
}

// TestLimiterOverBudgetFailsImmediately: a request larger than the whole
// budget fails with ErrOverBudget without waiting, even when the budget is
// busy and the context never ends.
func TestLimiterOverBudgetFailsImmediately(t *testing.T) {
	l := NewLimiter(10)
	_ = l.Acquire(context.Background(), 4)
	err := l.Acquire(context.Background(), 11)
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("got %v, want ErrOverBudget", err)
	}
	if l.Waiting() != 0 || l.InUse() != 4 {
		t.Errorf("waiting %d, in use %d", l.Waiting(), l.InUse())
	}
}

// TestLimiterIsFirstComeFirstServed: a large request at the head of the
// queue is not overtaken by a small one that would fit, so it cannot be
// starved by a stream of small ones.
func TestLimiterIsFirstComeFirstServed(t *testing.T) {
	l := NewLimiter(10)
	_ = l.Acquire(context.Background(), 6)
	order := make(chan string, 2)
	go func() {
		_ = l.Acquire(context.Background(), 10)
		order <- "big"
		l.Release(10)
	}()
	waitFor(func() bool { return l.Waiting() == 1 })
	if l.TryAcquire(1) {
		t.Fatal("TryAcquire jumped the queue")
	}
	go func() {
		_ = l.Acquire(context.Background(), 1) // 4 bytes are free, but big is first
		order <- "small"
		l.Release(1)
	}()
	waitFor(func() bool { return l.Waiting() == 2 })
	l.Release(6)
	if first, second := <-order, <-order; first != "big" || second != "small" {
		t.Errorf("served %s then %s, want big then small", first, second)
	}
}

// TestLimiterCancelledHeadUnblocksQueue: when the waiter at the head of the
// queue gives up, those behind it that fit are served.
func TestLimiterCancelledHeadUnblocksQueue(t *testing.T) {
	l := NewLimiter(10)
	_ = l.Acquire(context.Background(), 6)
	ctx, cancel := context.WithCancel(context.Background())
	bigErr := make(chan error, 1)
	go func() { bigErr <- l.Acquire(ctx, 10) }()
	waitFor(func() bool { return l.Waiting() == 1 })
	small := make(chan error, 1)
	go func() { small <- l.Acquire(context.Background(), 3) }()
	waitFor(func() bool { return l.Waiting() == 2 })
	cancel()
	if err := <-bigErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("head waiter: %v", err)
	}
	if err := <-small; err != nil { // served without any Release
		t.Fatalf("small waiter: %v", err)
	}
	if l.InUse() != 9 {
		t.Errorf("in use %d, want 9", l.InUse())
	}
}

func TestLimiterPanicsOnMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"zero size":        func() { NewLimiter(0) },
		"negative acquire": func() { _ = NewLimiter(1).Acquire(context.Background(), -1) },
		"over-release":     func() { NewLimiter(1).Release(1) },
		"negative release": func() { NewLimiter(1).Release(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
