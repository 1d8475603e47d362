package kdf

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
)

// SaltSize is the salt length new accounts get.
const SaltSize = 16

// Config configures a Deriver.
type Config struct {
	Policy       Policy // zero value means DefaultPolicy()
	MemoryBudget int64  // bytes all concurrent derivations may hold; 0 means a default
	Pepper       []byte // optional server secret, at least 32 bytes
}

// Deriver runs password derivations under a Policy and a memory budget.
// It is safe for concurrent use.
type Deriver struct {
	policy Policy
	pepper []byte
}

// New returns a Deriver, or an error if cfg is invalid.
func New(cfg Config) (*Deriver, error) {
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy()
	}
	if cfg.Pepper != nil && len(cfg.Pepper) < 32 {
		return nil, fmt.Errorf("kdf: pepper must be at least 32 bytes")
	}
	return &Deriver{policy: cfg.Policy, pepper: append([]byte(nil), cfg.Pepper...)}, nil
}

// Policy returns the Deriver's policy.
func (d *Deriver) Policy() Policy { return d.policy }

// NewSalt reads SaltSize bytes from r (crypto/rand.Reader when r is nil).
func NewSalt(r io.Reader) ([]byte, error) { return newSalt(r) }

// Derive runs one derivation of password with salt and p. p is checked
// against the policy's caps before any memory is taken; the derivation
// waits for room in the memory budget, honouring ctx.
func (d *Deriver) Derive(ctx context.Context, password, salt []byte, p Params) (*Secret, error) {
	if err := d.policy.Check(p); err != nil {
		return nil, err
	}
	pw, err := NormalizePassword(password)
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kdf: %w", err)
	}
	var out []byte
	switch p.Algorithm {
	case Argon2id:
		out = argon2.IDKey(pw, salt, p.Passes, p.MemoryKiB, p.Threads, SecretSize)
	case Scrypt:
		out, err = scrypt.Key(pw, salt, 1<<p.LogN, int(p.BlockSize), int(p.Parallelism), SecretSize)
	case PBKDF2SHA256:
		out, err = pbkdf2.Key(sha256.New, string(pw), salt, int(p.Iterations), SecretSize)
	}
	if err != nil {
		return nil, fmt.Errorf("kdf: %w", err)
	}
	s := &Secret{}
	copy(s.b[:], out)
	clear(out)
	return s, nil
}
