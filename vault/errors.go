package vault

import (
	"errors"
	"fmt"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// Errors a caller can tell apart with errors.Is. Errors from the envelope
// and kdf packages (envelope.ErrHeaderAuth, kdf.ErrParamsTooCostly, ...)
// are wrapped, so errors.Is finds them too.
var (
	// ErrWrongSecret: the password, personal key or escrow identity given
	// does not open the account. The account may still open with another
	// secret. For the password it is the error a front end shows as "wrong
	// password"; it wraps envelope.ErrNoMatch.
	ErrWrongSecret = errors.New("vault: secret does not open the account")

	// ErrUnrecoverable: no secret the caller could still hold can open the
	// account. It is returned when the account record holds no stanza of the
	// kind asked for (for example RecoverWithEscrow on an account enrolled
	// with escrow off) and when the record has been shredded. By design,
	// a user who has lost both the password and the personal key, on a
	// deployment without escrow, has lost the data: the operator holds
	// nothing that opens it (see the package documentation).
	ErrUnrecoverable = errors.New("vault: account cannot be recovered with this kind of secret")

	// ErrConflict: a Store compare-and-swap lost: the account changed (or
	// was created or deleted) since it was read. Nothing was written; read
	// it again and retry if the operation still makes sense.
	ErrConflict = errors.New("vault: account changed concurrently")

	// ErrNotFound: a Store holds no account for the user id.
	ErrNotFound = errors.New("vault: account not found")

	// ErrClosed: an Unlocked handle was used after Close.
	ErrClosed = errors.New("vault: unlocked handle is closed")

	// ErrInvalidInput: an argument is malformed (empty or overlong user id
	// or label, reserved label, personal key that does not parse, identity
	// field in the wrong format, missing actor or reason, a password that
	// is empty, too long or not UTF-8 (also kdf.ErrPasswordRejected), a nil
	// Vault, context, identity or handle, ...).
	ErrInvalidInput = errors.New("vault: invalid input")

	// ErrRolledBack: the account's authenticated generation is lower than
	// the one the caller says it has seen (UnlockOptions.MinGeneration) or
	// the floor of Config.Generations: an older copy of the account record
	// was put back. Nothing is returned (no handle, no new record) and
	// nothing is written.
	ErrRolledBack = errors.New("vault: account record was rolled back")

	// ErrGenerationLog: Config.Generations failed (Floor, or Raise before
	// anything was written) and the operation failed closed: no handle, no
	// new record, nothing written. The log's own error is wrapped too.
	ErrGenerationLog = errors.New("vault: generation log failed")

	// ErrOutcomeUnknown: a Store write returned an error and re-reading
	// could not tell whether it landed (a timeout, a lost acknowledgement).
	// Operations that issue a personal key return it WITH this error: the
	// new key may be the only one that opens the account, so show it to
	// the user (and keep accepting the old secret too) until a later read
	// settles which record is stored (Vault.CheckPersonalKey on the account
	// read back).
	ErrOutcomeUnknown = errors.New("vault: store write outcome unknown")

	// ErrCorrupt: the account record or a sealed record is structurally
	// invalid (does not parse, unsupported version, over the size limits)
	// or fails authentication after a secret matched (header commitment or
	// MAC, a stanza tag after its commitment matched, a record tag): the
	// bytes were altered or damaged, not the secret mistyped. See the
	// package documentation ("Errors") for which corruptions are by design
	// indistinguishable from a wrong secret.
	ErrCorrupt = errors.New("vault: corrupt account or record")

	errNilVault = fmt.Errorf("%w: nil or zero Vault (use New)", ErrInvalidInput)
)

// classify adds the vault's classification to an error from the envelope
// or kdf package: structural and authentication failures become ErrCorrupt,
// a rejected password ErrInvalidInput. The original error stays visible to
// errors.Is.
func classify(err error) error {
	switch {
	case err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalidInput):
		return err
	case errors.Is(err, kdf.ErrPasswordRejected):
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	case errors.Is(err, envelope.ErrMalformed), errors.Is(err, envelope.ErrTooLarge),
		errors.Is(err, envelope.ErrVersion), errors.Is(err, envelope.ErrHeaderAuth),
		errors.Is(err, envelope.ErrCommitment), errors.Is(err, envelope.ErrPayloadAuth),
		errors.Is(err, kdf.ErrMalformedParams):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}
