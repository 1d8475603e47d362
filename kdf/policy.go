package kdf

import "math/bits"

// Policy says which parameters new accounts get (New), below which an
// existing account is upgraded at its next unlock (floors), and above which
// parameters are refused before any memory is allocated (caps).
//
// A Policy is a plain value: compare, copy and change it freely. The
// numbers of [DefaultPolicy] and [FIPSPolicy] are explained on those
// functions.
type Policy struct {
	// New is the parameter set new accounts and upgrades get.
	New Params
	// Floors per algorithm; an algorithm with a zero floor is not allowed.
	// A floor must have its own Algorithm set (FloorScrypt.Algorithm ==
	// Scrypt, ...); a floor's fields are the minimum acceptable cost.
	FloorArgon2id, FloorScrypt, FloorPBKDF2 Params
	Caps                                    Caps
}

// Caps are hard limits checked before a derivation allocates anything. They
// protect the server from parameters read from storage or from the wire
// (a hostile or corrupted record asking for 4 TiB or 2^32 passes). A zero
// field cap refuses every parameter set of its algorithm with a non-zero
// value in that field, that is, all of them. MaxWorkMultiple is the
// exception: zero means DefaultWorkMultiple.
type Caps struct {
	MaxMemoryKiB        uint32 // Argon2id m
	MaxPasses           uint32 // Argon2id t
	MaxThreads          uint8  // Argon2id p
	MaxScryptNR         uint64 // scrypt N*r (memory is 128*N*r bytes)
	MaxScryptP          uint32
	MaxPBKDF2Iterations uint32

	// MaxWorkMultiple caps a derivation's total work (Params.Work: Argon2id
	// m*t, scrypt N*r*p, PBKDF2 iterations) at this many times the work of
	// the policy's reference parameters for the same algorithm: New when
	// New is of that algorithm, otherwise that algorithm's floor. The
	// field caps above bound each field alone; this bounds their product,
	// so a stored account cannot ask for the largest memory and the most
	// passes at once (Argon2id m=1 GiB, t=16 is 85 times the default
	// policy's work and every field is within DefaultCaps). Zero means
	// DefaultWorkMultiple.
	MaxWorkMultiple uint32
}

// DefaultWorkMultiple is Caps.MaxWorkMultiple's value when it is zero: a
// stored account may cost at most 4 times a new one. That leaves room to
// lower New (old accounts keep opening until they are upgraded) and for
// accounts written by a stronger policy, while a hostile or corrupted
// record can make one login cost a few new logins, not minutes.
const DefaultWorkMultiple = 4

// workMultiple returns the cap's multiple, with zero meaning the default.
func (c *Caps) workMultiple() uint64 {
	if c.MaxWorkMultiple == 0 {
		return DefaultWorkMultiple
	}
	return uint64(c.MaxWorkMultiple)
}

// MaxWork returns the most total work (Params.Work) a derivation of
// algorithm a may cost under pol, and false if a is not allowed. See
// Caps.MaxWorkMultiple.
func (pol Policy) MaxWork(a Algorithm) (uint64, bool) {
	ref, ok := pol.floor(a)
	if !ok {
		return 0, false
	}
	if pol.New.Algorithm == a {
		ref = pol.New
	}
	return satMul(ref.Work(), pol.Caps.workMultiple()), true
}

// DefaultCaps are the caps of DefaultPolicy and FIPSPolicy:
//
//   - Argon2id m <= 2 GiB: RFC 9106 section 4's first recommended option
//     (m=2 GiB, t=1, p=4) passes this field cap; 4 TiB does not.
//   - Argon2id t <= 16 and p <= 16: five times the default passes, and more
//     lanes than a server gives one login.
//   - scrypt N*r <= 2^24 (2 GiB of V) and p <= 16: N=2^20, r=8 (RFC 7914's
//     largest example, 1 GiB) fits.
//   - PBKDF2 iterations <= 10,000,000: about 16 times OWASP's 600,000.
//   - Total work at most DefaultWorkMultiple (4) times the policy's
//     reference (MaxWorkMultiple 0). Under DefaultPolicy that is Argon2id
//     m*t <= 786,432 KiB-passes (64 MiB, t=3, four times over: 256 MiB at
//     t=3, or 768 MiB at t=1; RFC 9106's 2 GiB at t=1 is refused unless New
//     or the multiple is raised), scrypt N*r*p <= 2^22 (four times the
//     N=2^17, r=8, p=1 floor) and PBKDF2 <= 2,400,000 iterations (four
//     times the 600,000 floor); under FIPSPolicy PBKDF2 <= 2,400,000.
//
// The field caps bound what can be parsed and allocated at all; the work
// cap bounds what one stored account can make a login cost: a few new
// logins, not the 18 s of Argon2id m=1 GiB, t=16, p=16, which every field
// cap allows.
func DefaultCaps() Caps {
	return Caps{
		MaxMemoryKiB:        2 * 1024 * 1024,
		MaxPasses:           16,
		MaxThreads:          16,
		MaxScryptNR:         1 << 24,
		MaxScryptP:          16,
		MaxPBKDF2Iterations: 10_000_000,
	}
}

// DefaultPolicy is the policy of a Deriver configured with a zero Policy.
//
//   - New: Argon2id m=64 MiB, t=3, p=4, the second recommended option of
//     RFC 9106 section 4 ("if much less memory is available": 64 MiB, t=3,
//     p=4). It costs about 0.2 s on one core of a 2024 server.
//   - FloorArgon2id: m=19 MiB, t=2, p=1, the smallest of the OWASP Password
//     Storage Cheat Sheet's equivalent Argon2id settings.
//   - FloorScrypt: N=2^17, r=8, p=1, OWASP's minimum for scrypt. Login.gov's
//     N=2^16, r=8, p=1 is below it: such accounts still derive, and
//     NeedsUpgrade reports them.
//   - FloorPBKDF2: 600,000 iterations of HMAC-SHA256, OWASP's figure
//     (NIST SP 800-132 only says "as large as feasible", at least 1,000).
//   - Caps: DefaultCaps.
func DefaultPolicy() Policy {
	return Policy{
		New:           Params{Algorithm: Argon2id, MemoryKiB: 64 * 1024, Passes: 3, Threads: 4},
		FloorArgon2id: Params{Algorithm: Argon2id, MemoryKiB: 19 * 1024, Passes: 2, Threads: 1},
		FloorScrypt:   Params{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 1},
		FloorPBKDF2:   Params{Algorithm: PBKDF2SHA256, Iterations: 600_000},
		Caps:          DefaultCaps(),
	}
}

// FIPSPolicy is a policy for deployments that must use FIPS 140-approved
// algorithms only: PBKDF2-HMAC-SHA256 (NIST SP 800-132) with 600,000
// iterations for new accounts and as the floor (OWASP's figure for
// PBKDF2-HMAC-SHA256, which also meets SP 800-63B's "cost factor as high as
// practical"). Argon2id and scrypt are not approved, so their floors are
// zero: Derive refuses them with ErrParamsNotAllowed. Salts are at least
// 128 bits (MinSaltSize), as SP 800-132 section 5.1 requires.
func FIPSPolicy() Policy {
	return Policy{
		New:         Params{Algorithm: PBKDF2SHA256, Iterations: 600_000},
		FloorPBKDF2: Params{Algorithm: PBKDF2SHA256, Iterations: 600_000},
		Caps:        DefaultCaps(),
	}
}

// floor returns the policy's floor for a, and whether a is allowed.
func (pol *Policy) floor(a Algorithm) (Params, bool) {
	var f Params
	switch a {
	case Argon2id:
		f = pol.FloorArgon2id
	case Scrypt:
		f = pol.FloorScrypt
	case PBKDF2SHA256:
		f = pol.FloorPBKDF2
	}
	return f, f != (Params{})
}

// Check reports whether a derivation with p may run under pol, in this
// order, without allocating:
//
//  1. ErrMalformedParams: p is not a valid parameter set (unknown
//     algorithm; fields of another algorithm set; Argon2id with t=0, p=0 or
//     m < 8*p; scrypt with ln outside 1..62, r=0, p=0 or r*p >= 2^30;
//     PBKDF2 with zero iterations).
//  2. ErrParamsNotAllowed: the policy's floor for p's algorithm is zero.
//  3. ErrParamsTooCostly: a field is above pol.Caps, or p's total work
//     (Params.Work) is above pol.MaxWork for its algorithm.
//
// Being below the floor is not an error: such accounts must still open so
// that they can be upgraded (see NeedsUpgrade). The returned error wraps
// one of the three sentinels and says which rule failed.
func (pol Policy) Check(p Params) error {
	if err := p.validate(); err != nil {
		return err
	}
	if _, ok := pol.floor(p.Algorithm); !ok {
		return errNotAllowed
	}
	c := &pol.Caps
	switch p.Algorithm {
	case Argon2id:
		switch {
		case p.MemoryKiB > c.MaxMemoryKiB:
			return errCapMemory
		case p.Passes > c.MaxPasses:
			return errCapPasses
		case p.Threads > c.MaxThreads:
			return errCapThreads
		}
	case Scrypt:
		// LogN <= 62 and r < 2^32 after validate: N*r fits in 128 bits.
		if hi, lo := bits.Mul64(uint64(1)<<p.LogN, uint64(p.BlockSize)); hi != 0 || lo > c.MaxScryptNR {
			return errCapScryptNR
		}
		if p.Parallelism > c.MaxScryptP {
			return errCapScryptP
		}
	case PBKDF2SHA256:
		if p.Iterations > c.MaxPBKDF2Iterations {
			return errCapPBKDF2Iterations
		}
	}
	if max, _ := pol.MaxWork(p.Algorithm); p.Work() > max {
		return errCapWork
	}
	return nil
}

// NeedsUpgrade reports whether an account stored with p should be
// re-derived with pol.New (new salt, rewrapped keys) at its next
// successful unlock. It is true when any of these holds:
//
//   - p fails Check as malformed or not allowed (the account cannot be
//     derived under pol at all; upgrading is the only way forward once the
//     password is known by other means);
//   - p's algorithm is not pol.New's algorithm: a policy that moves to a
//     new algorithm (scrypt to Argon2id, or anything to PBKDF2 for FIPS)
//     migrates every account at its next login, whatever its cost, because
//     running two algorithms forever doubles what must be maintained and
//     audited;
//   - p is below its algorithm's floor on any cost field (Argon2id m or t
//     or p; scrypt ln, r or p; PBKDF2 iterations). The comparison is per
//     field: 12 MiB with t=3 is below a 19 MiB, t=2 floor even though OWASP
//     lists it as equivalent, because memory is what resists GPUs.
//
// Params of New's algorithm at or above the floor but below New are not
// upgraded: raising New changes new accounts only; raise the floor to move
// existing ones. Params above the caps report false (Derive refuses them
// anyway). NeedsUpgrade never allocates.
func (pol Policy) NeedsUpgrade(p Params) bool {
	if err := pol.Check(p); err != nil {
		e, _ := err.(paramError)
		return e.Unwrap() != ErrParamsTooCostly
	}
	if p.Algorithm != pol.New.Algorithm {
		return true
	}
	f, _ := pol.floor(p.Algorithm)
	switch p.Algorithm {
	case Argon2id:
		return p.MemoryKiB < f.MemoryKiB || p.Passes < f.Passes || p.Threads < f.Threads
	case Scrypt:
		return p.LogN < f.LogN || p.BlockSize < f.BlockSize || p.Parallelism < f.Parallelism
	default:
		return p.Iterations < f.Iterations
	}
}

// validate checks that pol is usable: each non-zero floor is a valid
// parameter set of its own algorithm, New passes Check under pol, and New
// does not itself need an upgrade (a New below its own floor would
// re-derive every account at every login).
func (pol Policy) validate() error {
	for _, f := range [...]struct {
		p Params
		a Algorithm
	}{{pol.FloorArgon2id, Argon2id}, {pol.FloorScrypt, Scrypt}, {pol.FloorPBKDF2, PBKDF2SHA256}} {
		if f.p == (Params{}) {
			continue
		}
		if f.p.Algorithm != f.a {
			return errUnknownAlgorithm
		}
		if err := f.p.validate(); err != nil {
			return err
		}
	}
	if err := pol.Check(pol.New); err != nil {
		return err
	}
	if pol.NeedsUpgrade(pol.New) {
		return errNewBelowFloor
	}
	return nil
}
