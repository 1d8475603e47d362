package vault

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// AccountLabel is the envelope.Binding label of every account record: an
// account record is exactly an envelope header bound to
// envelope.Binding{UserID: userID, Label: AccountLabel}. Record labels may
// not use it.
const AccountLabel = "account"

// MaxUserIDLen and MaxLabelLen bound user ids and record labels, in bytes
// (the envelope format's limit).
const (
	MaxUserIDLen = 255
	MaxLabelLen  = 255
)

// Config configures a Vault. The zero Config is valid: Argon2id at
// kdf.DefaultPolicy, escrow off, audit events discarded, crypto/rand, the
// system clock.
type Config struct {
	// Policy says which KDF parameters new and upgraded accounts get, which
	// stored parameters are acceptable, and which trigger an upgrade at the
	// next unlock. Zero: kdf.DefaultPolicy().
	Policy kdf.Policy
	// MemoryBudget bounds the memory all concurrent KDF runs of this Vault
	// may hold, in bytes; runs beyond it wait (honouring their context).
	// 0: the kdf package's default.
	MemoryBudget int64
	// MaxDerivationMemory, MaxConcurrentDerivations and ArenaIdleTimeout
	// go to the Vault's kdf.Deriver as kdf.Config's MaxDerivationMemory,
	// MaxConcurrent and ArenaIdleTimeout: the most memory one login may
	// take, the CPU slots concurrent logins share, and how long idle
	// Argon2id memory is kept for reuse. 0: the kdf package's defaults.
	MaxDerivationMemory      int64
	MaxConcurrentDerivations int
	ArenaIdleTimeout         time.Duration
	// Pepper is an optional server secret (at least 32 bytes) mixed into
	// every password derivation. Losing it makes every password fail.
	Pepper []byte
	// Escrow, when not nil, receives a wrapped copy of every account key
	// (an escrow stanza) at enrollment and at every rotation. Other
	// rewrites keep the account's one stanza of it when Escrow can tell
	// its own stanzas (an Owns(*envelope.Stanza) bool method, as the escrow
	// package's recipients have) and wrap afresh otherwise. nil: escrow is
	// OFF: no escrow stanza is ever written, and every rewrite drops the
	// escrow stanzas an account has.
	Escrow envelope.Recipient
	// KeepKeyOnRecover turns off the account-key rotation Recover and
	// RecoverWithEscrow do by default. Leave it false: a personal key in
	// use may mean a compromise, and only a rotation makes records sealed
	// afterwards unreadable with an older account record.
	KeepKeyOnRecover bool
	// Generations, when not nil, is the caller's record of the highest
	// account generation seen per user, kept outside the accounts table:
	// every operation that opens an account refuses one below it
	// (ErrRolledBack), and the vault raises it as it opens and rewrites
	// accounts (see GenerationLog and "Rollback" in the package
	// documentation). nil: only UnlockOptions.MinGeneration is checked.
	Generations GenerationLog
	// Audit receives one event per security-relevant operation (see the
	// package documentation for the fields). nil: events are discarded.
	Audit *slog.Logger
	// Rand supplies keys, salts and nonces. nil: crypto/rand. It must be
	// safe for concurrent use if the Vault is used concurrently.
	Rand io.Reader
	// Now stamps audit events. nil: time.Now.
	Now func() time.Time
}

// FIPSConfig returns a Config using only FIPS 140-approved algorithms from
// the standard library: PBKDF2-HMAC-SHA256 (kdf.FIPSPolicy: 600,000
// iterations, floor and new) for passwords, and the envelope's AES-256-GCM
// and HKDF-SHA256 for everything else. Argon2id and scrypt accounts are
// refused under it (kdf.ErrParamsNotAllowed).
//
// Under GODEBUG=fips140=only, Go's HMAC refuses keys shorter than 112 bits,
// so PBKDF2 refuses passwords shorter than 14 bytes: require at least 14
// bytes at the front end (NIST SP 800-63B asks for at least 15 characters
// for single-factor passwords).
func FIPSConfig() Config {
	return Config{Policy: kdf.FIPSPolicy()}
}

// Vault runs the account lifecycle: enroll, unlock, change password,
// recover, shred. It is stateless (account records go in and come out as
// bytes; the Store helpers add compare-and-swap persistence) and safe for
// concurrent use.
type Vault struct {
	deriver *kdf.Deriver
	policy  kdf.Policy
	escrow  envelope.Recipient
	audit   *slog.Logger
	genLog  GenerationLog // nil: no log

	keepKeyOnRecover bool
	decoyState                 // the account UnlockInStore runs an unknown user against
	rand             io.Reader // nil: crypto/rand
	now              func() time.Time

	// kdfRuns counts password derivations started through this Vault: the
	// password stanzas handed to a password identity plus the password
	// recipients built. Tests read it to prove Unlock costs one run.
	kdfRuns atomic.Int64
}

// New returns a Vault for cfg, or an error if cfg is invalid (a pepper
// shorter than 32 bytes, a policy whose New parameters it would itself
// refuse or upgrade, a negative budget).
func New(cfg Config) (*Vault, error) {
	if cfg.Policy == (kdf.Policy{}) {
		cfg.Policy = kdf.DefaultPolicy()
	}
	if cfg.MemoryBudget < 0 {
		return nil, fmt.Errorf("%w: negative memory budget", ErrInvalidInput)
	}
	if err := cfg.Policy.Check(cfg.Policy.New); err != nil {
		return nil, fmt.Errorf("vault: policy refuses its own new parameters: %w", err)
	}
	if cfg.Policy.NeedsUpgrade(cfg.Policy.New) {
		return nil, fmt.Errorf("%w: policy's new parameters are below its own floor", ErrInvalidInput)
	}
	d, err := kdf.New(kdf.Config{
		Policy: cfg.Policy, MemoryBudget: cfg.MemoryBudget, Pepper: cfg.Pepper,
		MaxDerivationMemory: cfg.MaxDerivationMemory, MaxConcurrent: cfg.MaxConcurrentDerivations,
		ArenaIdleTimeout: cfg.ArenaIdleTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	v := &Vault{
		deriver: d,
		policy:  cfg.Policy,
		escrow:  cfg.Escrow,
		genLog:  cfg.Generations,

		keepKeyOnRecover: cfg.KeepKeyOnRecover,
		audit:            cfg.Audit,
		rand:             cfg.Rand,
		now:              cfg.Now,
	}
	if v.audit == nil {
		v.audit = slog.New(slog.DiscardHandler)
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Policy returns the KDF policy the Vault applies (the zero Policy for a
// nil or zero Vault).
func (v *Vault) Policy() kdf.Policy {
	if v.invalid() {
		return kdf.Policy{}
	}
	return v.policy
}

// EscrowEnabled reports whether the Vault writes escrow stanzas.
func (v *Vault) EscrowEnabled() bool { return !v.invalid() && v.escrow != nil }

// invalid reports a nil Vault or one not made by New (the zero Vault):
// every method then returns an error wrapping ErrInvalidInput.
func (v *Vault) invalid() bool { return v == nil || v.deriver == nil || v.audit == nil }

func accountBinding(userID string) envelope.Binding {
	return envelope.Binding{UserID: userID, Label: AccountLabel}
}

func checkUserID(userID string) error {
	if userID == "" || len(userID) > MaxUserIDLen {
		return fmt.Errorf("%w: user id must be 1 to %d bytes", ErrInvalidInput, MaxUserIDLen)
	}
	return nil
}

func checkLabel(label string) error {
	switch {
	case label == "" || len(label) > MaxLabelLen:
		return fmt.Errorf("%w: label must be 1 to %d bytes", ErrInvalidInput, MaxLabelLen)
	case label == AccountLabel:
		return fmt.Errorf("%w: label %q is reserved for account records", ErrInvalidInput, AccountLabel)
	}
	return nil
}

// ctxErr reports a cancelled context before starting expensive work.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrInvalidInput)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}
