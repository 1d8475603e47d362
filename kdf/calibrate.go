package kdf

import (
	"context"
	"fmt"
	"time"
)

// CalibrationSample is one timed Argon2id run of Calibrate.
type CalibrationSample struct {
	Passes   uint32
	Duration time.Duration
}

// CalibrationReport says what Calibrate measured on this machine.
type CalibrationReport struct {
	Target time.Duration
	// Samples are the timed runs in order: a warm-up at t=1, then t=1 and
	// t=2 to separate the per-pass cost from the fixed cost, then one run
	// of Chosen.
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
	measure := func(t uint32) (time.Duration, error) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("kdf: calibration: %w", err)
		}
		q := p
		q.Passes = t
		start := time.Now()
		r.key(password, salt, q, out[:])
		d := time.Since(start)
		rep.Samples = append(rep.Samples, CalibrationSample{Passes: t, Duration: d})
		return d, nil
	}

	if _, err := measure(1); err != nil { // warm-up: page faults, caches
		return Params{}, rep, err
	}
	d1, err := measure(1)
	if err != nil {
		return Params{}, rep, err
	}
	d2, err := measure(2)
	if err != nil {
		return Params{}, rep, err
	}
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
	if rep.Measured, err = measure(p.Passes); err != nil {
		return Params{}, rep, err
	}
	clear(out[:])
	return p, rep, nil
}
