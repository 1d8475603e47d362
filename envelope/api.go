package envelope

import (
	"context"
	"errors"
)

// KeySize is the size of an account (file) key.
const KeySize = 32

// Binding is the caller's context, bound into every stanza and every record:
// a stanza or record moved to another user or label fails to open.
type Binding struct {
	UserID string // opaque, non-empty, at most 255 bytes
	Label  string // e.g. "account", "pii", "ssn"; non-empty, at most 255 bytes
}

// Stanza is one recipient's wrapped copy of the key.
type Stanza struct {
	Type  string // recipient type, e.g. TypePassword; 1..32 bytes of [a-z0-9._-]
	KeyID []byte // recipient-defined, may be empty; at most MaxKeyID bytes
	Body  []byte // 1..MaxStanzaBody bytes
}

// Stanza types written by this package.
const (
	TypePassword = "password"
	TypeRecovery = "recovery"
	TypeAEAD     = "aead"
)

// Recipient wraps a key for one party. Wrap must bind b into what it
// returns, so that a stanza moved to another Binding does not unwrap.
type Recipient interface {
	Wrap(ctx context.Context, key []byte, b Binding) ([]*Stanza, error)
}

// Identity unwraps a key from the stanzas meant for it. It returns an error
// wrapping ErrNoMatch when no stanza is for it (try the next identity); any
// other error is final.
type Identity interface {
	Unwrap(ctx context.Context, stanzas []*Stanza, b Binding) ([]byte, error)
}

// Errors a caller can tell apart with errors.Is.
var (
	ErrNoMatch     = errors.New("envelope: no stanza matched the identity") // wrong password/key, or none for it
	ErrMalformed   = errors.New("envelope: malformed encoding")
	ErrTooLarge    = errors.New("envelope: over size limits")
	ErrHeaderAuth  = errors.New("envelope: header authentication failed")
	ErrCommitment  = errors.New("envelope: key commitment check failed")
	ErrPayloadAuth = errors.New("envelope: payload authentication failed")
	ErrVersion     = errors.New("envelope: unsupported version or suite")

	// ErrInvalidBinding: a Binding with an empty or over-long field
	// (a caller's mistake, reported before any work).
	ErrInvalidBinding = errors.New("envelope: invalid binding")
	// ErrInvalidKey: a key of the wrong size, or a recovery key too short.
	ErrInvalidKey = errors.New("envelope: invalid key")
	// ErrInvalidRecipient: a nil or misconfigured recipient or identity,
	// or no recipient at all.
	ErrInvalidRecipient = errors.New("envelope: invalid recipient")
)

// Header is a key wrapped for recipients, committed to that key and bound to
// a Binding. Build one with WrapKey, WrapKeyV3 or ParseHeader.
//
// A version-3 header also carries an authenticated generation counter
// (raised by every rewrap), the generation of its key (raised by every
// rotation), and the keys of earlier generations wrapped under its key
// (FORMAT.md section 2.9). A version-1 header reads as generation 0, key
// generation 0, with no older keys.
type Header struct {
	Stanzas []*Stanza

	version    byte // 0 (unset: Version1) or Version1 or Version3
	generation uint64
	keyGen     uint32
	older      []olderKey // generations strictly decreasing, below keyGen
	commitment [CommitmentSize]byte
	mac        [MACSize]byte
	sealed     bool // commitment and mac are set
}

// olderKey is a key of an earlier generation wrapped under the header's key.
type olderKey struct {
	gen     uint32
	wrapped []byte // wrappedSize bytes: commitment || nonce || GCM(key) || tag
}

// OlderKey is a key of an earlier generation, unwrapped by Header.OlderKeys.
type OlderKey struct {
	Generation uint32
	Key        []byte // KeySize bytes; the caller clears it
}
