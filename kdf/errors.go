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
	// ErrOverBudget: a single derivation costs more memory than one
	// derivation may reserve (Config.MaxDerivationMemory, at most the
	// whole budget), so it is refused at once instead of waiting.
	ErrOverBudget = errors.New("kdf: derivation larger than memory budget")

	// ErrPasswordEmpty: the password has no bytes. errors.Is(err,
	// ErrPasswordRejected) is also true.
	ErrPasswordEmpty error = &wrapError{"kdf: password rejected: empty", ErrPasswordRejected}
	// ErrPasswordTooLong: the password is longer than MaxPasswordBytes. It
	// is refused, never truncated. errors.Is(err, ErrPasswordRejected) is
	// also true.
	ErrPasswordTooLong error = &wrapError{"kdf: password rejected: longer than 4096 bytes", ErrPasswordRejected}
	// ErrPasswordNotUTF8: the password is not valid UTF-8, so it has no
	// Unicode normalization. errors.Is(err, ErrPasswordRejected) is also
	// true.
	ErrPasswordNotUTF8 error = &wrapError{"kdf: password rejected: not valid UTF-8", ErrPasswordRejected}
	// ErrSaltRejected: a salt shorter than MinSaltSize or longer than
	// MaxSaltSize bytes.
	ErrSaltRejected = errors.New("kdf: salt length out of range")
)

type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// paramError is a precise reason for ErrMalformedParams,
// ErrParamsNotAllowed or ErrParamsTooCostly. It is a one-byte value, so
// returning it as an error does not allocate: Policy.Check and the parsers
// stay allocation-free on every path.
type paramError uint8

const (
	_ paramError = iota
	errUnknownAlgorithm
	errStrayFields
	errArgon2Version
	errArgon2Threads
	errArgon2Passes
	errArgon2Memory
	errScryptLogN
	errScryptR
	errScryptP
	errScryptRP
	errPBKDF2Iterations
	errTextTooLong
	errTextSyntax
	errTextMissingKey
	errTextUnexpectedKey
	errTextDuplicateKey
	errTextLeadingZero
	errTextRange
	errTextTrailing
	errBinaryLength
	errNewBelowFloor
	errNotAllowed
	errCapMemory
	errCapPasses
	errCapThreads
	errCapScryptNR
	errCapScryptP
	errCapPBKDF2Iterations
	errCapWork
)

func (e paramError) Error() string {
	var d string
	switch e {
	case errUnknownAlgorithm:
		d = "unknown algorithm"
	case errStrayFields:
		d = "field of another algorithm is set"
	case errArgon2Version:
		d = "argon2id version is not 19"
	case errArgon2Threads:
		d = "argon2id p is zero"
	case errArgon2Passes:
		d = "argon2id t is zero"
	case errArgon2Memory:
		d = "argon2id m is below 8*p"
	case errScryptLogN:
		d = "scrypt ln is not in 1..62"
	case errScryptR:
		d = "scrypt r is zero"
	case errScryptP:
		d = "scrypt p is zero"
	case errScryptRP:
		d = "scrypt r*p is not below 2^30"
	case errPBKDF2Iterations:
		d = "pbkdf2 iterations is zero"
	case errTextTooLong:
		d = "text too long"
	case errTextSyntax:
		d = "syntax error"
	case errTextMissingKey:
		d = "missing key"
	case errTextUnexpectedKey:
		d = "unknown or out-of-order key"
	case errTextDuplicateKey:
		d = "duplicate key"
	case errTextLeadingZero:
		d = "number with a leading zero"
	case errTextRange:
		d = "number out of range"
	case errTextTrailing:
		d = "trailing bytes"
	case errBinaryLength:
		d = "wrong length for the algorithm"
	case errNewBelowFloor:
		d = "policy's new params are below its own floor"
	case errNotAllowed:
		return ErrParamsNotAllowed.Error()
	case errCapMemory:
		d = "argon2id memory above cap"
	case errCapPasses:
		d = "argon2id passes above cap"
	case errCapThreads:
		d = "argon2id threads above cap"
	case errCapScryptNR:
		d = "scrypt N*r above cap"
	case errCapScryptP:
		d = "scrypt p above cap"
	case errCapPBKDF2Iterations:
		d = "pbkdf2 iterations above cap"
	case errCapWork:
		d = "total work above the cap (a multiple of the policy's reference params)"
	default:
		d = "unknown reason"
	}
	return e.Unwrap().Error() + ": " + d
}

func (e paramError) Unwrap() error {
	switch {
	case e == errNotAllowed:
		return ErrParamsNotAllowed
	case e >= errCapMemory:
		return ErrParamsTooCostly
	default:
		return ErrMalformedParams
	}
}
