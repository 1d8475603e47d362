package kdf

import "errors"

// Errors a caller can tell apart with errors.Is. Context cancellation is
// reported as the context's own error (context.Canceled or
// context.DeadlineExceeded), wrapped.
var (
	// ErrMalformedParams: an encoding of Params that is not canonical or
	// does not describe a valid parameter set.
	ErrMalformedParams = errors.New("kdf: malformed parameters")
	// ErrParamsTooCostly: parameters above the policy's hard caps. Returned
	// before any memory is allocated.
	ErrParamsTooCostly = errors.New("kdf: parameters exceed policy caps")
	// ErrParamsNotAllowed: an algorithm the policy does not permit (for
	// example Argon2id under the FIPS policy).
	ErrParamsNotAllowed = errors.New("kdf: algorithm not allowed by policy")
	// ErrPasswordRejected: the password is empty, too long, or not valid
	// UTF-8. Wrapped by ErrPasswordEmpty and ErrPasswordTooLong.
	ErrPasswordRejected = errors.New("kdf: password rejected")
	// ErrOverBudget: a single derivation costs more memory than the whole
	// budget of the Deriver, so it could never be admitted.
	ErrOverBudget = errors.New("kdf: derivation larger than memory budget")
)
