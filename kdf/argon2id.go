package kdf

import "golang.org/x/crypto/argon2"

// argon2idRunner runs Argon2id for one Deriver. It is the seam between the
// kdf package and the Argon2id engine: the Deriver creates one with its
// memory budget, calls key for every Argon2id derivation (after reserving
// p.MemoryBytes() from the budget), and release to give retained memory
// back.
type argon2idRunner struct{}

func newArgon2idRunner(budget int64) *argon2idRunner { return &argon2idRunner{} }

// key fills out with Argon2id(password, salt, p). p has passed Policy.Check.
func (r *argon2idRunner) key(password, salt []byte, p Params, out []byte) {
	k := argon2.IDKey(password, salt, p.Passes, p.MemoryKiB, p.Threads, uint32(len(out)))
	copy(out, k)
	clear(k)
}

// release frees any memory the runner retains between derivations.
func (r *argon2idRunner) release() {}
