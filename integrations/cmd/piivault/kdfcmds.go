package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// parseMemory parses a memory size: a number with KiB, MiB or GiB (no
// unit: KiB), returned in KiB.
func parseMemory(s string) (uint32, error) {
	mult := uint64(1)
	num := s
	for _, u := range []struct {
		suffix string
		m      uint64
	}{{"GiB", 1 << 20}, {"MiB", 1 << 10}, {"KiB", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 || n*mult > 1<<32-1 {
		return 0, usagef("memory %q: want a positive size such as 65536KiB, 64MiB or 1GiB", s)
	}
	return uint32(n * mult), nil
}

func runCalibrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "calibrate", "[-target 500ms] [-memory 64MiB] [-threads 4]",
		"Calibrate times Argon2id on this machine and prints, on stdout, the parameters\n"+
			"(PHC text, for kdf.ParseParams) that make one derivation take about -target\n"+
			"with -memory. Memory is never lowered: if one pass already exceeds the target\n"+
			"it says so. Run it on the production hardware, under representative load.")
	target := fs.Duration("target", 500*time.Millisecond, "target time of one derivation")
	mem := fs.String("memory", "64MiB", "memory of one derivation (KiB, MiB, GiB)")
	threads := fs.Uint("threads", 4, "Argon2id lanes (1..255)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	m, err := parseMemory(*mem)
	if err != nil {
		return err
	}
	if *threads < 1 || *threads > 255 {
		return usagef("-threads %d: want 1..255", *threads)
	}
	if *target <= 0 {
		return usagef("-target must be positive")
	}
	p, rep, err := kdf.Calibrate(ctx, *target, m, uint8(*threads))
	if err != nil {
		return err
	}
	for _, s := range rep.Samples {
		fmt.Fprintf(e.stderr, "t=%d: %v\n", s.Passes, s.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(e.stderr, "per pass %v, fixed %v; chosen %v measured %v (target %v)\n",
		rep.PerPass.Round(time.Millisecond), rep.Fixed.Round(time.Millisecond), p, rep.Measured.Round(time.Millisecond), *target)
	if rep.Clamped {
		fmt.Fprintln(e.stderr, "note: the pass count was clamped (one pass exceeds the target, or the target needs more passes than the caps allow); consider another -memory")
	}
	fmt.Fprintln(e.stdout, p.String())
	return nil
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "[-params TEXT] [-long]",
		"Bench times, on this machine: one KDF derivation, one account unlock (a\n"+
			"derivation and an unwrap) and the sealing of 1 KiB records, with the\n"+
			"given parameters (default: the default policy's). Short by default (a few\n"+
			"runs each); -long runs more for steadier figures. Other load on the machine\n"+
			"shows in the figures: compare runs taken side by side.")
	params := fs.String("params", kdf.DefaultPolicy().New.String(), "KDF parameters (PHC text)")
	long := fs.Bool("long", false, "more runs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	p, err := kdf.ParseParams(*params)
	if err != nil {
		return usagef("-params: %v", err)
	}
	runs, sealFor := 3, 200*time.Millisecond
	if *long {
		runs, sealFor = 15, 2*time.Second
	}
	pol := kdf.Policy{New: p, Caps: kdf.DefaultCaps()}
	switch p.Algorithm {
	case kdf.Argon2id:
		pol.FloorArgon2id = p
	case kdf.Scrypt:
		pol.FloorScrypt = p
	case kdf.PBKDF2SHA256:
		pol.FloorPBKDF2 = p
	}
	pol.Caps.MaxWorkMultiple = 1 << 20
	d, err := kdf.New(kdf.Config{Policy: pol})
	if err != nil {
		return err
	}
	v, err := vault.New(vault.Config{Policy: pol})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "params %v, %d runs\n", p, runs)
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	pw := []byte("benchmark password, not a secret")
	kdfT, err := timeRuns(ctx, runs, func() error {
		s, err := d.Derive(ctx, pw, salt, p)
		if err == nil {
			s.Destroy()
		}
		return err
	})
	if err != nil {
		return err
	}
	report(e, "kdf derive", kdfT)
	const uid = "bench-user"
	account, pk, err := v.Enroll(ctx, uid, pw)
	if err != nil {
		return err
	}
	pk.Destroy()
	var u *vault.Unlocked
	unlockT, err := timeRuns(ctx, runs, func() error {
		if u != nil {
			u.Close()
		}
		var err error
		u, _, err = v.Unlock(ctx, uid, account, pw)
		return err
	})
	if err != nil {
		return err
	}
	defer u.Close()
	report(e, "unlock", unlockT)
	pt := make([]byte, 1024)
	n, start := 0, time.Now()
	for time.Since(start) < sealFor {
		if _, err := u.Seal("bench", pt); err != nil {
			return err
		}
		n++
	}
	el := time.Since(start)
	fmt.Fprintf(e.stdout, "%-12s %d records in %v: %.1f µs each, %.1f MB/s\n", "seal 1 KiB", n, el.Round(time.Millisecond),
		float64(el.Microseconds())/float64(n), float64(n)*1024/el.Seconds()/1e6)
	return nil
}

func timeRuns(ctx context.Context, n int, f func() error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
	}
	return out, nil
}

func report(e *env, name string, ds []time.Duration) {
	lo, hi, sum := ds[0], ds[0], time.Duration(0)
	for _, d := range ds {
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	fmt.Fprintf(e.stdout, "%-12s min %v  mean %v  max %v\n", name, lo.Round(time.Microsecond*100),
		(sum / time.Duration(len(ds))).Round(time.Microsecond*100), hi.Round(time.Microsecond*100))
}
