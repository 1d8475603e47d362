package kdf

import (
	"context"
	"fmt"
	"math"
	"time"
)

// calibrationRepeats is how many runs at t=1 and at t=2 Calibrate times;
// it keeps the fastest of each.
const calibrationRepeats = 3

// CalibrationSample is one timed Argon2id run of Calibrate.
type CalibrationSample struct {
	Passes   uint32
	Duration time.Duration
}

// CalibrationReport says what Calibrate measured on this machine.
type CalibrationReport struct {
	Target time.Duration
	// Samples are, in order: a warm-up run at t=1; the fastest of
	// calibrationRepeats (3) interleaved runs at t=1 and the fastest at t=2,
	// which separate the per-pass cost from the fixed cost; one run of
	// Chosen.
	Samples []CalibrationSample
	// PerPass and Fixed are the estimated cost of one pass over the memory
	// and of everything else (allocation, first and last hashing).
	PerPass, Fixed time.Duration
	// Chosen is the returned parameter set; Measured is one run of it.
	Chosen   Params
	Measured time.Duration
	// Clamped is true when the target asked for fewer than 1 or more than
	// DefaultCaps().MaxPasses passes and the number was clamped.
	Clamped bool
}

// Calibrate picks the number of Argon2id passes that makes one derivation
// with memoryKiB KiB and threads lanes take about target on this machine,
// and reports what it measured. Run it on the production hardware, under
// representative load, and store the result in the Policy; do not run it
// at every start-up (params must not drift between servers).
//
// Memory is the parameter that resists GPUs, so Calibrate never lowers it:
// if one pass already exceeds target, it returns t=1 with Clamped set and
// the caller should lower memoryKiB or accept the time. Passes are clamped
// to DefaultCaps().MaxPasses. memoryKiB and threads must form valid
// parameters within DefaultCaps (ErrMalformedParams, ErrParamsTooCostly).
// Calibrate allocates memoryKiB KiB outside any Deriver's budget and
// honours ctx between runs (not during one).
func Calibrate(ctx context.Context, target time.Duration, memoryKiB uint32, threads uint8) (Params, CalibrationReport, error) {
	rep := CalibrationReport{Target: target}
	if target <= 0 {
		return Params{}, rep, fmt.Errorf("kdf: calibration target must be positive")
	}
	p := Params{Algorithm: Argon2id, MemoryKiB: memoryKiB, Passes: 1, Threads: threads}
	caps := DefaultCaps()
	pol := Policy{FloorArgon2id: p, Caps: caps}
	if err := pol.Check(p); err != nil {
		return Params{}, rep, err
	}
	r := newArgon2idRunner(p.MemoryBytes())
	defer r.release()

	password := []byte("piivault calibration password")
	salt := []byte("piivault/kdf/calibration-salt/v1")
	var out [SecretSize]byte
	// run times one derivation with t passes.
	run := func(t uint32) (time.Duration, error) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("kdf: calibration: %w", err)
		}
		q := p
		q.Passes = t
		start := time.Now()
		if err := r.key(password, salt, q, out[:]); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	measure := func(t uint32) (time.Duration, error) {
		d, err := run(t)
		if err == nil {
			rep.Samples = append(rep.Samples, CalibrationSample{Passes: t, Duration: d})
		}
		return d, err
	}

	if _, err := measure(1); err != nil { // warm-up: page faults, caches
		return Params{}, rep, err
	}
	// The fastest of a few interleaved runs at t=1 and t=2: on a shared
	// machine a single run can take several times as long, and a burst of
	// load elsewhere then inflates only one of the two estimates.
	d1, d2 := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range calibrationRepeats {
		for _, t := range []uint32{1, 2} {
			d, err := run(t)
			if err != nil {
				return Params{}, rep, err
			}
			if t == 1 {
				d1 = min(d1, d)
			} else {
				d2 = min(d2, d)
			}
		}
	}
	rep.Samples = append(rep.Samples, CalibrationSample{Passes: 1, Duration: d1}, CalibrationSample{Passes: 2, Duration: d2})
	rep.PerPass = d2 - d1
	if rep.PerPass <= 0 { // timer noise on tiny memory sizes
		rep.PerPass = max(d1, 1)
	}
	rep.Fixed = max(d1-rep.PerPass, 0)

	t := int64((target - rep.Fixed) / rep.PerPass)
	switch {
	case t < 1:
		t, rep.Clamped = 1, true
	case t > int64(caps.MaxPasses):
		t, rep.Clamped = int64(caps.MaxPasses), true
	}
	p.Passes = uint32(t)
	rep.Chosen = p
	var err error
	if rep.Measured, err = measure(p.Passes); err != nil {
		return Params{}, rep, err
	}
	clear(out[:])
	return p, rep, nil
}
