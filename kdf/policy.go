package kdf

// Policy says which parameters new accounts get (New), below which an
// existing account is upgraded at its next unlock (floors), and above which
// parameters are refused before any memory is allocated (caps).
type Policy struct {
	New Params
	// Floors per algorithm; an algorithm with a zero floor is not allowed.
	FloorArgon2id, FloorScrypt, FloorPBKDF2 Params
	Caps                                    Caps
}

// Caps are hard limits checked before a derivation allocates anything.
type Caps struct {
	MaxMemoryKiB        uint32 // Argon2id m
	MaxPasses           uint32 // Argon2id t
	MaxThreads          uint8  // Argon2id p
	MaxScryptNR         uint64 // scrypt N*r
	MaxScryptP          uint32
	MaxPBKDF2Iterations uint32
}

// DefaultPolicy: Argon2id m=64 MiB, t=3, p=4 (RFC 9106 section 4, second
// recommended option) for new accounts; OWASP floors.
func DefaultPolicy() Policy {
	return Policy{
		New:           Params{Algorithm: Argon2id, MemoryKiB: 64 * 1024, Passes: 3, Threads: 4},
		FloorArgon2id: Params{Algorithm: Argon2id, MemoryKiB: 19 * 1024, Passes: 2, Threads: 1},
		FloorScrypt:   Params{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 1},
		FloorPBKDF2:   Params{Algorithm: PBKDF2SHA256, Iterations: 600_000},
		Caps: Caps{
			MaxMemoryKiB: 4 * 1024 * 1024, MaxPasses: 64, MaxThreads: 16,
			MaxScryptNR: 1 << 24, MaxScryptP: 16, MaxPBKDF2Iterations: 10_000_000,
		},
	}
}

// Check reports ErrMalformedParams, ErrParamsNotAllowed or
// ErrParamsTooCostly for p, without allocating.
func (pol Policy) Check(p Params) error {
	return nil // TODO(kdf issue): real checks
}

// NeedsUpgrade reports whether an account with p should be re-derived with
// pol.New at its next successful unlock.
func (pol Policy) NeedsUpgrade(p Params) bool {
	return false // TODO(kdf issue)
}
