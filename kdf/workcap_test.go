package kdf

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
)

// TestOneDerivationCannotTakeTheWholeBudget: a stored account whose
// parameters pass every cap but need more than one derivation's share of
// the memory budget (default: a quarter) is refused at once with
// ErrOverBudget, reserving nothing and running nothing, instead of taking
// the whole budget while every other login waits. A Deriver configured
// with a share of the whole budget runs it.
func TestOneDerivationCannotTakeTheWholeBudget(t *testing.T) {
	const budget = 1 << 20
	pol := DefaultPolicy()
	pol.New, pol.FloorArgon2id = tinyArgon2id, tinyArgon2id
	pol.Caps.MaxWorkMultiple = math.MaxUint32                                 // the share is the point here
	big := Params{Algorithm: Argon2id, MemoryKiB: 512, Passes: 1, Threads: 1} // half the budget
	d := newTestDeriver(t, Config{Policy: pol, MemoryBudget: budget})
	if got := d.MaxDerivationMemory(); got != budget/4 {
		t.Fatalf("default MaxDerivationMemory = %d, want budget/4 = %d", got, budget/4)
	}
	s, err := d.Derive(context.Background(), []byte("pw"), testSalt, big)
	if s != nil || !errors.Is(err, ErrOverBudget) {
		t.Fatalf("Derive(%v) = %v, %v; want ErrOverBudget", big, s, err)
	}
	if d.PeakMemory() != 0 || d.Derivations() != 0 {
		t.Fatalf("refused derivation reserved %d bytes, ran %d times", d.PeakMemory(), d.Derivations())
	}
	whole := newTestDeriver(t, Config{Policy: pol, MemoryBudget: budget, MaxDerivationMemory: budget})
	derive(t, whole, "pw", testSalt, big)

	// The share never drops below what the policy's own New params need.
	small := newTestDeriver(t, Config{Policy: pol, MemoryBudget: tinyArgon2id.MemoryBytes()})
	if got := small.MaxDerivationMemory(); got != tinyArgon2id.MemoryBytes() {
		t.Errorf("share %d under a budget for one New derivation", got)
	}
	for _, share := range []int64{-1, tinyArgon2id.MemoryBytes() - 1, budget + 1} {
		if _, err := New(Config{Policy: pol, MemoryBudget: budget, MaxDerivationMemory: share}); err == nil {
			t.Errorf("MaxDerivationMemory %d accepted", share)
		}
	}
}

// TestPBKDF2DerivationsWaitForACPUSlot: PBKDF2 reserves no memory, so the
// memory budget never stopped it; with every CPU slot taken a PBKDF2
// derivation waits (and gives up with its context) instead of running.
func TestPBKDF2DerivationsWaitForACPUSlot(t *testing.T) {
	d := newTestDeriver(t, Config{MaxConcurrent: 1})
	if err := d.cpu.Acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Derive(ctx, []byte("pw"), testSalt, tinyPBKDF2)
		errc <- err
	}()
	waitFor(func() bool { return d.Waiting() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("PBKDF2 Derive with no free CPU slot: %v, want context.Canceled", err)
	}
	if n := d.Derivations(); n != 0 {
		t.Fatalf("ran %d derivations without a CPU slot", n)
	}
	d.cpu.Release(1)
	derive(t, d, "pw", testSalt, tinyPBKDF2)
}

// TestConcurrentDerivationsNeverExceedCPUSlots: 24 concurrent derivations
// of every algorithm (Argon2id with 4 lanes takes both slots) under
// MaxConcurrent 2 all succeed, and the slots held at once never exceed 2.
func TestConcurrentDerivationsNeverExceedCPUSlots(t *testing.T) {
	d := newTestDeriver(t, Config{MaxConcurrent: 2})
	lanes := Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 4}
	var wg sync.WaitGroup
	for i := range 24 {
		p := []Params{tinyArgon2id, tinyScrypt, tinyPBKDF2, lanes}[i%4]
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := d.Derive(context.Background(), []byte("pw"), testSalt, p)
			if err != nil {
				t.Error(err)
				return
			}
			s.Destroy()
		}()
	}
	wg.Wait()
	if d.cpu.Peak() > 2 || d.cpu.InUse() != 0 {
		t.Errorf("CPU slots: peak %d of 2, in use %d after all done", d.cpu.Peak(), d.cpu.InUse())
	}
	if got := d.cpuSlots(lanes); got != 2 {
		t.Errorf("4-lane Argon2id takes %d slots of 2", got)
	}
	if def := newTestDeriver(t, Config{}); def.MaxConcurrent() != runtime.GOMAXPROCS(0) {
		t.Errorf("default MaxConcurrent %d, want GOMAXPROCS %d", def.MaxConcurrent(), runtime.GOMAXPROCS(0))
	}
	if _, err := New(Config{MaxConcurrent: -1}); err == nil {
		t.Error("negative MaxConcurrent accepted")
	}
}
