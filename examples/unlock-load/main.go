// Command unlock-load runs many concurrent unlocks (default: 100 at
// Argon2id m=64 MiB, t=3, p=4) under a vault memory budget (default
// 512 MiB) and prints the process's peak resident memory (VmHWM from
// /proc/self/status, Linux only) and whether every unlock completed.
// Compare -budget 512 with -budget 0 (no practical limit: every
// derivation runs at once).
//
// The budget bounds the memory derivations hold at once. piivault's
// Argon2id engine keeps the block matrices in arenas mapped outside the Go
// heap and reused across derivations, so peak memory follows the budget
// without a soft memory limit (GOMEMLIMIT): no garbage has to be
// collected for the next derivation to get memory. -memlimit sets one
// anyway, to compare.
//
// The Deriver also bounds concurrent derivations by CPU slots (one per
// lane, GOMAXPROCS of them), so on a small machine fewer derivations run
// at once than the budget admits, and peak memory stays well under it.
// -procs raises GOMAXPROCS to show a large server, where the budget is
// what binds: with -procs 64 and p=4, 16 derivations could run by CPU
// and 8 by memory.
//
// With -check the program exits with status 1 when the peak resident
// memory exceeds the budget plus -overhead MiB (the Go runtime, the
// binary, the goroutines and per-unlock buffers), or when an unlock
// fails. CI runs a smaller form with the same ratio of users to budget:
//
//	go run ./examples/unlock-load -n 100 -budget 512 -procs 64          # the full load
//	go run ./examples/unlock-load -n 100 -m 8 -budget 64 -procs 64 -check
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
	"strconv"
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
	limitMiB := flag.Int64("memlimit", 0, "soft memory limit in MiB (as GOMEMLIMIT); 0: none (the environment's GOMEMLIMIT, if any, still applies)")
	check := flag.Bool("check", false, "exit 1 if peak RSS exceeds the budget plus -overhead")
	overheadMiB := flag.Int64("overhead", 40, "fixed overhead in MiB allowed above the budget by -check")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: unchanged); the vault's CPU slots follow it")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *limitMiB > 0 {
		debug.SetMemoryLimit(*limitMiB << 20)
	}
	fmt.Printf("soft memory limit: %s\n", limitString(debug.SetMemoryLimit(-1)>>20))
	if err := run(*n, *budgetMiB, uint32(*memMiB)); err != nil {
		log.Fatal(err)
	}
	if *check {
		peak := readKiB("VmHWM")
		limit := (*budgetMiB + *overheadMiB) << 10
		switch {
		case *budgetMiB == 0:
			log.Fatal("-check needs a budget")
		case peak < 0:
			log.Fatal("-check: no VmHWM in /proc/self/status (not Linux?)")
		case peak > limit:
			log.Fatalf("FAIL: peak RSS %d KiB exceeds budget %d MiB + overhead %d MiB = %d KiB", peak, *budgetMiB, *overheadMiB, limit)
		}
		fmt.Printf("OK: peak RSS %d KiB <= budget %d MiB + overhead %d MiB\n", peak, *budgetMiB, *overheadMiB)
	}
}

func run(n int, budgetMiB int64, memMiB uint32) error {
	ctx := context.Background()
	pol := kdf.DefaultPolicy()
	pol.New.MemoryKiB = memMiB * 1024
	if pol.New.MemoryKiB < pol.FloorArgon2id.MemoryKiB {
		pol.FloorArgon2id = pol.New // the small CI form runs below the OWASP floor
	}
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
	if mib >= 1<<40-1 {
		return "none"
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

// readKiB returns a "kB" field of /proc/self/status, or -1.
func readKiB(field string) int64 {
	v, ok := strings.CutSuffix(readStatus(field), " kB")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
