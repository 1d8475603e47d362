package serverkey

import "errors"

// Errors a caller can tell apart with errors.Is. Errors of the envelope
// package (envelope.ErrCommitment, envelope.ErrPayloadAuth, ...) stay
// visible through ErrDecrypt.
var (
	// ErrMalformed: a ciphertext that does not parse (bad magic, a key id
	// length running past the end, a record too short).
	ErrMalformed = errors.New("serverkey: malformed ciphertext")
	// ErrTooLarge: an input over a documented limit, refused before any
	// allocation.
	ErrTooLarge = errors.New("serverkey: over size limits")
	// ErrVersion: a format version this package does not know.
	ErrVersion = errors.New("serverkey: unsupported version")
	// ErrUnknownKey: the ciphertext or fingerprint names a key id that is
	// not in the keyring (dropped from the queue, or another deployment's).
	ErrUnknownKey = errors.New("serverkey: key id not in the keyring")
	// ErrDecrypt: the ciphertext does not open under its key for this user
	// id and attribute (moved to another user or attribute, altered, or
	// sealed under another key with the same id). It wraps the envelope
	// error (envelope.ErrCommitment or envelope.ErrPayloadAuth).
	ErrDecrypt = errors.New("serverkey: ciphertext does not open for this user and attribute")
	// ErrKMS: the key-encryption key (KMS, HSM) failed to unwrap a data key,
	// or returned a plaintext that is not this format's data key for the
	// expected key id. The backend's error is wrapped.
	ErrKMS = errors.New("serverkey: data key unwrap failed")
	// ErrInvalidInput: a caller's mistake (empty or over-long user id,
	// attribute name or key id, duplicate key ids, nil key-encryption key).
	ErrInvalidInput = errors.New("serverkey: invalid input")
	// ErrInvalidValue: an e-mail address or phone number that does not
	// normalize.
	ErrInvalidValue = errors.New("serverkey: value does not normalize")
	// ErrConflict: an AttributeStore compare-and-swap lost (the value
	// changed since it was read).
	ErrConflict = errors.New("serverkey: attribute changed concurrently")
	// ErrClosed: the keyring was closed.
	ErrClosed = errors.New("serverkey: keyring closed")
)
