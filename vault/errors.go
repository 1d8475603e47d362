package vault

import "errors"

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
	// field in the wrong format, missing actor or reason, ...).
	ErrInvalidInput = errors.New("vault: invalid input")
)
