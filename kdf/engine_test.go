package kdf

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/kdf/internal/argon2"
	xargon2 "golang.org/x/crypto/argon2"
)

// Tests of the Argon2id engine as the Deriver uses it: arenas, budget,
// idle memory. The engine's own tests (differential against x/crypto,
// per-pass dump, fuzz target) are in kdf/internal/argon2.

// waitUntil polls cond until it holds or a generous deadline passes (a
// guard against hanging, not a timing assertion).
func waitUntil(t *testing.T, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// vmRSS returns the process's resident set in bytes (Linux), or -1.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// TestDeriveMatchesXCryptoThroughReusedArenas: one Deriver, many
// derivations at random sizes (arenas reused, dirty, trimmed and
// remapped), each equal to x/crypto's output through the whole Derive
// path.
func TestDeriveMatchesXCryptoThroughReusedArenas(t *testing.T) {
	pol := DefaultPolicy()
	pol.New = tinyArgon2id
	pol.FloorArgon2id = Params{Algorithm: Argon2id, MemoryKiB: 8, Passes: 1, Threads: 1}
	pol.Caps.MaxWorkMultiple = 1 << 16 // sizes far above the tiny New: no work cap here
	d := newTestDeriver(t, Config{Policy: pol, MemoryBudget: 1 << 20, MaxDerivationMemory: 1 << 20})
	r := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		p := Params{Algorithm: Argon2id, Threads: uint8(1 + r.IntN(8)), Passes: uint32(1 + r.IntN(3))}
		p.MemoryKiB = 8*uint32(p.Threads) + uint32(r.IntN(1024-64))
		pw := []byte(strings.Repeat("x", r.IntN(100)+1))
		if got, want := derive(t, d, string(pw), testSalt, p), xargon2.IDKey(pw, testSalt, p.Passes, p.MemoryKiB, p.Threads, 32); !bytes.Equal(got, want) {
			t.Fatalf("%v: got %x, want %x", p, got, want)
		}
	}
}

// TestArenasNeverExceedBudgetUnderMixedLoad: concurrent derivations of
// mixed sizes and lane counts under a small budget: every result is
// right (race detector on in CI: no two share an arena), and the arenas
// mapped at once (in use plus idle) never exceed the budget.
func TestArenasNeverExceedBudgetUnderMixedLoad(t *testing.T) {
	const budget = 1 << 20
	pol := DefaultPolicy()
	pol.New = tinyArgon2id
	pol.FloorArgon2id = Params{Algorithm: Argon2id, MemoryKiB: 8, Passes: 1, Threads: 1}
	pol.Caps.MaxWorkMultiple = 1 << 16 // sizes far above the tiny New: no work cap here
	d := newTestDeriver(t, Config{Policy: pol, MemoryBudget: budget, MaxDerivationMemory: budget})
	sizes := []Params{
		{Algorithm: Argon2id, MemoryKiB: 128, Passes: 1, Threads: 1},
		{Algorithm: Argon2id, MemoryKiB: 256, Passes: 2, Threads: 4},
		{Algorithm: Argon2id, MemoryKiB: 384, Passes: 1, Threads: 3},
		{Algorithm: Argon2id, MemoryKiB: 1024, Passes: 1, Threads: 2},
	}
	want := make([][]byte, len(sizes))
	for i, p := range sizes {
		want[i] = xargon2.IDKey([]byte("pw"), testSalt, p.Passes, p.MemoryKiB, p.Threads, 32)
	}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 4 {
				i := (g + k) % len(sizes)
				s, err := d.Derive(context.Background(), []byte("pw"), testSalt, sizes[i])
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(s.b[:], want[i]) {
					t.Errorf("%v: wrong result under contention", sizes[i])
				}
				s.Destroy()
			}
		}()
	}
	wg.Wait()
	if peak := d.argon.pool.Peak(); peak > budget || peak == 0 {
		t.Fatalf("arenas peaked at %d bytes, budget %d", peak, budget)
	}
	if d.RetainedMemory() > budget {
		t.Fatalf("retained %d > budget", d.RetainedMemory())
	}
}

// TestIdleArenasMakeRoomForScrypt: an idle 1 MiB arena filling the budget
// is unmapped when scrypt reserves memory, so that idle arenas and
// scrypt's heap never exceed the budget together.
func TestIdleArenasMakeRoomForScrypt(t *testing.T) {
	pol := DefaultPolicy()
	pol.New = Params{Algorithm: Argon2id, MemoryKiB: 1024, Passes: 1, Threads: 1}
	pol.FloorArgon2id = pol.New
	d := newTestDeriver(t, Config{Policy: pol, MemoryBudget: 1 << 20, MaxDerivationMemory: 1 << 20})
	derive(t, d, "pw", testSalt, pol.New)
	if got := d.RetainedMemory(); got != 1<<20 {
		t.Fatalf("retained %d after one derivation, want %d", got, 1<<20)
	}
	derive(t, d, "pw", testSalt, Params{Algorithm: Scrypt, LogN: 8, BlockSize: 8, Parallelism: 1})
	if got := d.RetainedMemory(); got != 0 {
		t.Fatalf("retained %d beside an scrypt reservation, want 0", got)
	}
}

// TestReleaseMemoryReturnsArenas: after a derivation the arena is kept
// (RetainedMemory); ReleaseMemory unmaps it, and on Linux the process's
// resident memory drops by about its size.
func TestReleaseMemoryReturnsArenas(t *testing.T) {
	const mKiB = 16 << 10
	pol := DefaultPolicy()
	pol.New = Params{Algorithm: Argon2id, MemoryKiB: mKiB, Passes: 1, Threads: 1}
	pol.FloorArgon2id = pol.New
	d := newTestDeriver(t, Config{Policy: pol, MemoryBudget: 64 << 20, ArenaIdleTimeout: -1})
	derive(t, d, "pw", testSalt, pol.New)
	if got := d.RetainedMemory(); got != mKiB<<10 {
		t.Fatalf("retained %d, want %d", got, mKiB<<10)
	}
	before := vmRSS()
	d.ReleaseMemory()
	after := vmRSS()
	if got := d.RetainedMemory(); got != 0 {
		t.Fatalf("retained %d after ReleaseMemory", got)
	}
	// Only mmap'd arenas go back at once (not under -race, whose builds
	// keep arenas on the Go heap).
	if runtime.GOOS == "linux" && argon2.OutsideHeap && before-after < mKiB<<10*3/4 {
		t.Fatalf("resident memory went from %d to %d bytes: the %d-byte arena was not returned", before, after, mKiB<<10)
	}
	// The Deriver still works after releasing.
	if got, want := derive(t, d, "pw", testSalt, pol.New), xargon2.IDKey([]byte("pw"), testSalt, 1, mKiB, 1, 32); !bytes.Equal(got, want) {
		t.Fatal("derivation after ReleaseMemory disagrees")
	}
}

// TestIdleArenasReturnedAfterTimeout: with ArenaIdleTimeout set, an arena
// nobody uses is unmapped by itself; a negative timeout keeps it.
func TestIdleArenasReturnedAfterTimeout(t *testing.T) {
	p := Params{Algorithm: Argon2id, MemoryKiB: 256, Passes: 1, Threads: 1}
	pol := DefaultPolicy()
	pol.New, pol.FloorArgon2id = p, p
	d := newTestDeriver(t, Config{Policy: pol, ArenaIdleTimeout: 20 * time.Millisecond})
	keep := newTestDeriver(t, Config{Policy: pol, ArenaIdleTimeout: -1})
	derive(t, d, "pw", testSalt, p)
	derive(t, keep, "pw", testSalt, p)
	if !waitUntil(t, func() bool { return d.RetainedMemory() == 0 }) {
		t.Fatalf("arena still retained (%d bytes) long after the idle timeout", d.RetainedMemory())
	}
	time.Sleep(50 * time.Millisecond)
	if got := keep.RetainedMemory(); got != 256<<10 {
		t.Fatalf("negative timeout: retained %d, want %d", got, 256<<10)
	}
}

// TestDerivationsCountsRuns: Derivations counts each completed KDF run of
// every algorithm, and nothing for refused input.
func TestDerivationsCountsRuns(t *testing.T) {
	d := newTestDeriver(t, Config{})
	derive(t, d, "pw", testSalt, tinyArgon2id)
	derive(t, d, "pw", testSalt, tinyScrypt)
	derive(t, d, "pw", testSalt, tinyPBKDF2)
	if _, err := d.Derive(context.Background(), []byte("pw"), []byte("short"), tinyArgon2id); err == nil {
		t.Fatal("short salt accepted")
	}
	if got := d.Derivations(); got != 3 {
		t.Fatalf("Derivations() = %d, want 3", got)
	}
}
