package kdf

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/scrypt"
)

// SaltSize is the salt length new accounts get (128 bits, the minimum of
// NIST SP 800-132 section 5.1 and RFC 9106's recommendation).
const SaltSize = 16

// Salt lengths Derive accepts. Shorter salts are refused (SP 800-132 asks
// for at least 128 bits); longer ones are pointless and bounded so that a
// stored record cannot make Derive hash megabytes.
const (
	MinSaltSize = 16
	MaxSaltSize = 64
)

// DefaultMemoryBudget is the memory budget of a Deriver configured with
// MemoryBudget 0: 1 GiB, sixteen concurrent derivations at the default 64
// MiB. It bounds the memory that password derivations hold at once,
// whatever the number of concurrent logins; size it to what the process
// may spend on logins (peak memory then follows the budget, instead of
// growing with the number of requests).
const DefaultMemoryBudget int64 = 1 << 30

// MinPepperSize is the shortest pepper a Deriver accepts (256 bits).
const MinPepperSize = 32

// pepperLabel separates the pepper's HMAC from any other use of the key.
const pepperLabel = "piivault/kdf/v1/pepper"

// Config configures a Deriver.
type Config struct {
	Policy       Policy // zero value means DefaultPolicy()
	MemoryBudget int64  // bytes all concurrent derivations may hold; 0 means DefaultMemoryBudget
	// Pepper is an optional server secret of at least MinPepperSize bytes,
	// kept outside the database (KMS, HSM, secret store). See Deriver.
	Pepper []byte
	// ArenaIdleTimeout is how long the Argon2id engine keeps memory that
	// no derivation has used for reuse (see Deriver, Memory); 0 means
	// DefaultArenaIdleTimeout, a negative value keeps it until
	// ReleaseMemory.
	ArenaIdleTimeout time.Duration
	// MaxDerivationMemory is the most bytes one derivation may reserve: a
	// stored account asking for more is refused (ErrOverBudget) instead of
	// taking the whole budget while every other login waits. 0 means the
	// larger of MemoryBudget/4 and the policy's New params' memory; an
	// explicit value must be at least New's memory and at most the budget.
	MaxDerivationMemory int64
	// MaxConcurrent bounds the CPU work of concurrent derivations, in
	// slots: an Argon2id derivation takes one slot per lane (at most all
	// of them), scrypt and PBKDF2 one each; a derivation waits (first come,
	// first served) until its slots are free. The memory budget does not
	// bound PBKDF2, which reserves no memory; this does. 0 means
	// runtime.GOMAXPROCS(0) when New runs.
	MaxConcurrent int
}

// Deriver runs password derivations under a Policy and a memory budget.
// It is safe for concurrent use.
//
// # Pepper
//
// With a pepper, the master secret is
//
//	HMAC-SHA256(key = pepper, "piivault/kdf/v1/pepper" || KDF(password, salt, params))
//
// and without one it is the KDF output itself. Everything stored (wrapped
// keys, verifiers) depends on the master secret, so a database dump
// without the pepper cannot be attacked offline: each password guess
// would also need the 256-bit pepper. The pepper is applied after the
// memory-hard KDF, so it adds no cost to a login and keeps the KDF's
// output unchanged for known-answer tests.
//
// Changing or losing the pepper makes every account unopenable: there is
// no way back from a master secret to the KDF output. Rotating a pepper
// means rewrapping each account with a Deriver holding the new pepper at
// its next login, while the old one is still available; this package does
// not do that for you.
//
// # Memory
//
// Argon2id runs in piivault's own engine, which keeps each derivation's
// block matrix in an arena mapped outside the Go heap (mmap on unix; the
// Go heap elsewhere, where freed memory waits for the garbage collector)
// and reuses arenas across derivations. A derivation is admitted when its
// p.MemoryBytes() fit in the memory budget, and takes an arena then; the
// arenas in use and the idle ones kept for reuse never exceed the budget
// together (idle ones are unmapped first when a new one is needed), so
// the memory held for derivations is bounded by the budget plus small
// per-derivation buffers, whatever the garbage collector does. scrypt and
// PBKDF2 use the Go heap as before; idle arenas make room for an scrypt
// reservation too.
//
// One derivation may reserve at most MaxDerivationMemory (by default a
// quarter of the budget, or New's memory if that is more): a stored
// account that asks for more is refused at once, so it cannot hold the
// whole budget while every other login waits.
//
// # CPU
//
// Derivations also take CPU slots (MaxConcurrent, by default GOMAXPROCS):
// one per Argon2id lane, one for scrypt or PBKDF2. Running more
// derivations than cores at once only makes each slower, and PBKDF2
// reserves no memory, so without slots nothing would bound it.
//
// After each derivation the blocks it used are zeroed: leftover
// memory-hard state would let someone who can read the process's memory
// test password guesses cheaply (the wipe costs 8-14% of a warm
// derivation; see BENCHMARKS.md).
//
// Idle arenas stay mapped for reuse (RetainedMemory): after a burst, one
// per derivation that ran at once, so at most the budget, and with the
// default CPU slots about GOMAXPROCS/p of them. The most recently used is
// reused first, so under lighter traffic the others age out: each is
// unmapped once it has gone ArenaIdleTimeout without use, and all of them
// by ReleaseMemory. A Deriver that becomes unreachable unmaps its arenas
// when the garbage collector finds it.
type Deriver struct {
	policy Policy
	pepper []byte
	lim    *Limiter
	cpu    *Limiter // CPU slots (Config.MaxConcurrent)
	share  int64    // Config.MaxDerivationMemory, resolved
	argon  *argon2idRunner
	runs   atomic.Uint64 // scrypt and PBKDF2 runs; the engine counts Argon2id's
}

// New returns a Deriver, or an error if cfg is invalid: a negative memory
// budget, a pepper shorter than MinPepperSize, a floor that is not a valid
// parameter set of its algorithm, New params that fail the policy's own
// Check or are below its floor (ErrMalformedParams, ErrParamsNotAllowed,
// ErrParamsTooCostly), or New params larger than the memory budget
// (ErrOverBudget).
func New(cfg Config) (*Deriver, error) {
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy()
	}
	if err := cfg.Policy.validate(); err != nil {
		return nil, fmt.Errorf("kdf: invalid policy: %w", err)
	}
	if cfg.Pepper != nil && len(cfg.Pepper) < MinPepperSize {
		return nil, fmt.Errorf("kdf: pepper must be at least %d bytes", MinPepperSize)
	}
	switch {
	case cfg.MemoryBudget < 0:
		return nil, fmt.Errorf("kdf: negative memory budget")
	case cfg.MemoryBudget == 0:
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	if n := cfg.Policy.New.MemoryBytes(); n > cfg.MemoryBudget {
		return nil, fmt.Errorf("%w: policy's new params need %d bytes, budget is %d",
			ErrOverBudget, n, cfg.MemoryBudget)
	}
	newMem := cfg.Policy.New.MemoryBytes()
	switch {
	case cfg.MaxDerivationMemory == 0:
		cfg.MaxDerivationMemory = max(cfg.MemoryBudget/4, newMem)
	case cfg.MaxDerivationMemory < newMem || cfg.MaxDerivationMemory > cfg.MemoryBudget:
		return nil, fmt.Errorf("kdf: MaxDerivationMemory %d not in %d (new params) .. %d (budget)",
			cfg.MaxDerivationMemory, newMem, cfg.MemoryBudget)
	}
	switch {
	case cfg.MaxConcurrent < 0:
		return nil, fmt.Errorf("kdf: negative MaxConcurrent")
	case cfg.MaxConcurrent == 0:
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.ArenaIdleTimeout == 0 {
		cfg.ArenaIdleTimeout = DefaultArenaIdleTimeout
	}
	lim := NewLimiter(cfg.MemoryBudget)
	d := &Deriver{
		policy: cfg.Policy,
		lim:    lim,
		cpu:    NewLimiter(int64(cfg.MaxConcurrent)),
		share:  cfg.MaxDerivationMemory,
		argon:  newArgon2idRunnerWith(cfg.MemoryBudget, cfg.ArenaIdleTimeout, lim.InUse),
	}
	if cfg.Pepper != nil {
		d.pepper = append([]byte(nil), cfg.Pepper...)
	}
	return d, nil
}

// Policy returns the Deriver's policy.
func (d *Deriver) Policy() Policy { return d.policy }

// MemoryBudget returns the budget, in bytes, that concurrent derivations
// share.
func (d *Deriver) MemoryBudget() int64 { return d.lim.Size() }

// MemoryInUse returns the bytes reserved by derivations running now.
func (d *Deriver) MemoryInUse() int64 { return d.lim.InUse() }

// PeakMemory returns the most bytes ever reserved at once; it never
// exceeds MemoryBudget.
func (d *Deriver) PeakMemory() int64 { return d.lim.Peak() }

// Waiting returns the number of derivations waiting for memory or for CPU
// slots now.
func (d *Deriver) Waiting() int { return d.lim.Waiting() + d.cpu.Waiting() }

// MaxDerivationMemory returns the most bytes one derivation may reserve.
func (d *Deriver) MaxDerivationMemory() int64 { return d.share }

// MaxConcurrent returns the number of CPU slots concurrent derivations
// share.
func (d *Deriver) MaxConcurrent() int { return int(d.cpu.Size()) }

// cpuSlots is the number of CPU slots a derivation with p takes: one per
// Argon2id lane (the engine runs lanes on their own goroutines), capped at
// all of them; one for scrypt (x/crypto runs its p ROMix calls in turn)
// and PBKDF2.
func (d *Deriver) cpuSlots(p Params) int64 {
	if p.Algorithm == Argon2id {
		return min(int64(p.Threads), d.cpu.Size())
	}
	return 1
}

// ReleaseMemory gives back memory the Argon2id engine keeps between
// derivations (for example after a burst of logins): every idle arena is
// unmapped. Derivations running concurrently are not affected; their
// arenas become idle when they end.
func (d *Deriver) ReleaseMemory() { d.argon.release() }

// RetainedMemory returns the bytes the Argon2id engine keeps mapped for
// reuse while no derivation uses them: at most the memory budget, until
// ArenaIdleTimeout passes without use or ReleaseMemory is called.
func (d *Deriver) RetainedMemory() int64 { return d.argon.retained() }

// Derivations returns the number of KDF runs this Deriver has completed:
// each Argon2id run is counted by the engine itself once it has filled
// the last block, each scrypt and PBKDF2 run once it returns. A login
// costs one (tests use it to prove no path derives twice).
func (d *Deriver) Derivations() uint64 { return d.argon.runs() + d.runs.Load() }

// NewSalt reads SaltSize bytes from r (crypto/rand.Reader when r is nil).
func NewSalt(r io.Reader) ([]byte, error) { return newSalt(r) }

// Derive runs one derivation of password with salt and p and returns the
// master secret; the caller should Destroy it when done. In order:
//
//  1. p is checked against the policy (Check): ErrMalformedParams,
//     ErrParamsNotAllowed or ErrParamsTooCostly, before anything else.
//  2. The password is normalized (NormalizePassword): ErrPasswordRejected.
//  3. The salt must be MinSaltSize..MaxSaltSize bytes: ErrSaltRejected.
//  4. p.MemoryBytes() is reserved from the memory budget: ErrOverBudget at
//     once if it exceeds one derivation's share (MaxDerivationMemory), else
//     Derive waits for room (first come, first served) and returns the
//     context's error, wrapped, if ctx ends first. PBKDF2 needs no memory
//     and reserves nothing.
//     4b. The derivation's CPU slots (one per Argon2id lane, one for scrypt
//     and PBKDF2) are taken from MaxConcurrent the same way, so CPU-bound
//     derivations (PBKDF2 above all) cannot all run at once.
//  5. The KDF runs (Argon2id, scrypt or PBKDF2-HMAC-SHA256, 32 bytes of
//     output) and the pepper, if any, is mixed in.
//
// Params below the floor are derived: check NeedsUpgrade after a
// successful unlock. Once the KDF has started it runs to completion; ctx
// is not consulted again.
func (d *Deriver) Derive(ctx context.Context, password, salt []byte, p Params) (*Secret, error) {
	if err := d.policy.Check(p); err != nil {
		return nil, err
	}
	pw, err := NormalizePassword(password)
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	if len(salt) < MinSaltSize || len(salt) > MaxSaltSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d..%d", ErrSaltRejected, len(salt), MinSaltSize, MaxSaltSize)
	}
	if n := p.MemoryBytes(); n > d.share {
		return nil, fmt.Errorf("%w: needs %d bytes, one derivation may reserve %d of the %d budget",
			ErrOverBudget, n, d.share, d.lim.Size())
	} else if n > 0 {
		if err := d.lim.Acquire(ctx, n); err != nil {
			return nil, err
		}
		defer d.lim.Release(n)
		if p.Algorithm != Argon2id {
			d.argon.trim() // idle arenas make room for scrypt's heap memory
		}
	}
	slots := d.cpuSlots(p)
	if err := d.cpu.Acquire(ctx, slots); err != nil {
		return nil, err
	}
	defer d.cpu.Release(slots)

	s := &Secret{}
	if err := d.run(pw, salt, p, s.b[:]); err != nil {
		return nil, err
	}
	if d.pepper != nil {
		mac := hmac.New(sha256.New, d.pepper)
		mac.Write([]byte(pepperLabel))
		mac.Write(s.b[:])
		mac.Sum(s.b[:0]) // s.b has room for the 32-byte tag: written in place
	}
	return s, nil
}

// run computes the raw KDF output into out. p has passed Check and memory
// has been reserved. It takes any password bytes, any salt and any output
// length, so known-answer tests can drive it with the RFC vectors.
func (d *Deriver) run(password, salt []byte, p Params, out []byte) error {
	switch p.Algorithm {
	case Argon2id:
		return d.argon.key(password, salt, p, out)
	case Scrypt:
		k, err := scrypt.Key(password, salt, 1<<p.LogN, int(p.BlockSize), int(p.Parallelism), len(out))
		if err != nil {
			return fmt.Errorf("kdf: scrypt: %w", err)
		}
		copy(out, k)
		clear(k)
		d.runs.Add(1)
		return nil
	case PBKDF2SHA256:
		// crypto/pbkdf2 takes the password as a string: that copy cannot
		// be cleared (see the package's Security section).
		k, err := pbkdf2.Key(sha256.New, string(password), salt, int(p.Iterations), len(out))
		if err != nil {
			return fmt.Errorf("kdf: pbkdf2: %w", err)
		}
		copy(out, k)
		clear(k)
		d.runs.Add(1)
		return nil
	}
	return errUnknownAlgorithm
}
