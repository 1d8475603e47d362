package escrow

import "errors"

// Errors a caller can tell apart with errors.Is.
var (
	// ErrFingerprintMismatch: the escrow public key given is not the one
	// pinned in the configuration (a substituted key).
	ErrFingerprintMismatch = errors.New("escrow: public key does not match the pinned fingerprint")
	// ErrUnsupportedSuite: an HPKE KEM this package does not write or read.
	ErrUnsupportedSuite = errors.New("escrow: unsupported hpke suite")
	// ErrInvalidKey: a malformed key, key file or fingerprint.
	ErrInvalidKey = errors.New("escrow: invalid key")
	// ErrInvalidPurpose: an empty or over-long purpose.
	ErrInvalidPurpose = errors.New("escrow: invalid purpose")
	// ErrStanzaOpen: an escrow stanza for this key did not open: it was
	// altered, or moved to another user, label or purpose. It comes wrapped
	// together with envelope.ErrNoMatch.
	ErrStanzaOpen = errors.New("escrow: escrow stanza did not open")
	// ErrPayload: an AEAD escrow payload or wrapped pepper decrypted but is
	// not for this purpose or context (a backend that ignored the
	// associated data), or is malformed.
	ErrPayload = errors.New("escrow: wrapped payload names another purpose or context")
	// ErrInvalidPepper: a pepper shorter than MinPepperSize or longer than
	// MaxPepperSize.
	ErrInvalidPepper = errors.New("escrow: invalid pepper")
)
