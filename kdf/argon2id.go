package kdf

import (
	"fmt"
	"time"

	"github.com/piivault/piivault/kdf/internal/argon2"
)

// DefaultArenaIdleTimeout is how long the Argon2id engine keeps an arena
// (one derivation's block matrix) that no derivation has used, when
// Config.ArenaIdleTimeout is 0.
const DefaultArenaIdleTimeout = 30 * time.Second

// argon2idRunner runs Argon2id for one Deriver. It is the seam between the
// kdf package and the Argon2id engine (kdf/internal/argon2): the Deriver
// creates one with its memory budget, calls key for every Argon2id
// derivation (after reserving p.MemoryBytes() from the budget), and
// release to give retained memory back.
//
// The engine keeps the block matrices in arenas mapped outside the Go
// heap and reuses them; together with the Limiter's reservations they
// stay within the budget (see argon2.Pool).
type argon2idRunner struct {
	pool *argon2.Pool
}

// newArgon2idRunner returns a runner holding at most budget bytes of
// arenas, with the default idle timeout, for use without a Limiter (the
// arenas it hands out count as the reservations).
func newArgon2idRunner(budget int64) *argon2idRunner {
	return newArgon2idRunnerWith(budget, DefaultArenaIdleTimeout, nil)
}

// newArgon2idRunnerWith returns a runner whose owner reserves memory from
// the same budget: reserved reports the bytes reserved now.
func newArgon2idRunnerWith(budget int64, idle time.Duration, reserved func() int64) *argon2idRunner {
	return &argon2idRunner{pool: argon2.NewPool(budget, idle, reserved)}
}

// key fills out with Argon2id(password, salt, p). p has passed Policy.Check.
// It fails only if the arena cannot be mapped (the system is out of
// memory).
func (r *argon2idRunner) key(password, salt []byte, p Params, out []byte) error {
	if err := r.pool.Key(out, password, salt, nil, nil, p.Passes, p.MemoryKiB, p.Threads); err != nil {
		return fmt.Errorf("kdf: argon2id: %w", err)
	}
	return nil
}

// keyWithSecret is key with RFC 9106's secret key K and associated data X,
// which Derive does not use; the known-answer tests run the RFC's vector
// through it. It panics if the arena cannot be mapped.
func (r *argon2idRunner) keyWithSecret(password, salt, secret, ad []byte, p Params, out []byte) {
	if err := r.pool.Key(out, password, salt, secret, ad, p.Passes, p.MemoryKiB, p.Threads); err != nil {
		panic(err)
	}
}

// runs returns the number of Argon2id derivations the engine completed.
func (r *argon2idRunner) runs() uint64 { return r.pool.Runs() }

// retained returns the bytes of idle arenas kept for reuse.
func (r *argon2idRunner) retained() int64 { return r.pool.Retained() }

// trim unmaps idle arenas that no longer fit beside the reservations.
func (r *argon2idRunner) trim() { r.pool.Trim() }

// release frees any memory the runner retains between derivations.
func (r *argon2idRunner) release() { r.pool.Release() }
