// Command unlock-load runs many concurrent unlocks (default: 100 at
// Argon2id m=64 MiB, t=3, p=4) under a vault memory budget (default
// 512 MiB) and prints the process's peak resident memory (VmHWM from
// /proc/self/status, Linux only) and whether every unlock completed.
// Compare -budget 512 with -budget 0 (no practical limit: every
// derivation runs at once).
//
// The budget bounds the memory derivations hold at once; what the process
// keeps also depends on how fast the garbage collector returns finished
// derivations' memory. So by default the program also sets a soft memory
// limit (runtime/debug.SetMemoryLimit, the same as GOMEMLIMIT) of the
// budget plus 88 MiB (600 MiB for the default 512), as a deployment
// should; -memlimit 0 turns it off to show the difference.
//
//	go run ./examples/unlock-load -n 100 -budget 512
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

func main() {
	n := flag.Int("n", 100, "concurrent unlocks")
	budgetMiB := flag.Int64("budget", 512, "vault memory budget in MiB (0: no practical limit)")
	memMiB := flag.Uint("m", 64, "Argon2id memory per derivation, MiB")
	limitMiB := flag.Int64("memlimit", -1, "soft memory limit in MiB (GOMEMLIMIT); -1: budget+88 MiB when there is a budget; 0: none")
	flag.Parse()
	if *limitMiB < 0 {
		*limitMiB = 0
		if *budgetMiB > 0 {
			*limitMiB = *budgetMiB + 88
		}
	}
	if *limitMiB > 0 {
		debug.SetMemoryLimit(*limitMiB << 20)
	}
	fmt.Printf("soft memory limit: %s\n", limitString(*limitMiB))
	if err := run(*n, *budgetMiB, uint32(*memMiB)); err != nil {
		log.Fatal(err)
	}
}

func run(n int, budgetMiB int64, memMiB uint32) error {
	ctx := context.Background()
	pol := kdf.DefaultPolicy()
	pol.New.MemoryKiB = memMiB * 1024
	budget := budgetMiB << 20
	if budgetMiB == 0 {
		budget = 1 << 40 // 1 TiB: admission never waits
	}
	v, err := vault.New(vault.Config{Policy: pol, MemoryBudget: budget})
	if err != nil {
		return err
	}
	password := []byte("correct horse battery staple")
	account, _, err := v.Enroll(ctx, "load-user", password)
	if err != nil {
		return err
	}
	runtime.GC()
	before := readStatus("VmHWM")

	fmt.Printf("%d concurrent unlocks, Argon2id m=%d MiB t=%d p=%d, budget %s, GOMAXPROCS %d\n",
		n, memMiB, pol.New.Passes, pol.New.Threads, budgetString(budgetMiB), runtime.GOMAXPROCS(0))
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, _, err := v.Unlock(ctx, "load-user", account, password)
			if err != nil {
				failed.Add(1)
				log.Printf("unlock: %v", err)
				return
			}
			u.Close()
			ok.Add(1)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("completed %d/%d unlocks (%d failed) in %v (%v per unlock)\n",
		ok.Load(), n, failed.Load(), elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Millisecond))
	fmt.Printf("peak RSS (VmHWM): %s (after enrollment: %s)\n", readStatus("VmHWM"), before)
	if ok.Load() != int64(n) {
		return fmt.Errorf("%d unlocks did not complete", int64(n)-ok.Load())
	}
	return nil
}

func limitString(mib int64) string {
	if mib == 0 {
		return "none (runtime default)"
	}
	return fmt.Sprintf("%d MiB", mib)
}

func budgetString(mib int64) string {
	if mib == 0 {
		return "unbounded"
	}
	return fmt.Sprintf("%d MiB", mib)
}

// readStatus returns a field of /proc/self/status, such as "VmHWM", or
// "unknown" where there is none (not Linux).
func readStatus(field string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, val, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strings.TrimSpace(val)
		}
	}
	return "unknown"
}
