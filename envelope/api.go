// Package envelope is the sealed format of piivault: a random 256-bit key
// wrapped for one or more recipients (a header), and records sealed under
// keys derived from it. See FORMAT.md for every byte.
//
// CONTRACT NOTE (remove when implemented): the exported names and
// signatures in this file are what vault/ and escrow/ code against. The
// implementation may move them to other files and add to them, but must not
// change them without updating every caller.
package envelope

import (
	"context"
	"errors"
	"io"

	"github.com/piivault/piivault/kdf"
	"github.com/tink-crypto/tink-go/v2/tink"
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
	Type  string // recipient type, e.g. TypePassword
	KeyID []byte // recipient-defined, may be empty
	Body  []byte
}

// Stanza types written by this package.
const (
	TypePassword = "password"
	TypeRecovery = "recovery"
	TypeAEAD     = "aead"
)

// Recipient wraps a key for one party.
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
)

var errTODO = errors.New("envelope: not implemented yet")

// Header is a key wrapped for recipients, committed to that key and bound to
// a Binding.
type Header struct {
	Stanzas []*Stanza
}

// NewKey returns a fresh random KeySize-byte key (crypto/rand when r is nil).
func NewKey(r io.Reader) ([]byte, error) { return nil, errTODO }

// WrapKey wraps key for every recipient under b.
func WrapKey(ctx context.Context, key []byte, b Binding, recipients ...Recipient) (*Header, error) {
	return nil, errTODO
}

// ParseHeader parses a header strictly (canonical encoding only), checking
// every length against limits before allocating.
func ParseHeader(data []byte) (*Header, error) { return nil, errTODO }

// MarshalBinary returns the canonical encoding of h.
func (h *Header) MarshalBinary() ([]byte, error) { return nil, errTODO }

// UnwrapKey tries identities in order and returns the key once the header's
// commitment and MAC verify under it.
func UnwrapKey(ctx context.Context, h *Header, b Binding, identities ...Identity) ([]byte, error) {
	return nil, errTODO
}

// Rewrap returns a new header for the same key: the stanzas of h for which
// keep returns true, plus new ones for add. key must be h's key (checked).
func (h *Header) Rewrap(ctx context.Context, key []byte, b Binding, keep func(*Stanza) bool, add ...Recipient) (*Header, error) {
	return nil, errTODO
}

// RecordKey seals and opens records under subkeys derived from a key.
type RecordKey struct{}

// NewRecordKey prepares key for sealing records; r supplies per-record salts
// and nonces (crypto/rand when nil).
func NewRecordKey(key []byte, r io.Reader) (*RecordKey, error) { return nil, errTODO }

// Seal appends the sealed record of plaintext, bound to b, to dst.
func (k *RecordKey) Seal(dst []byte, b Binding, plaintext []byte) ([]byte, error) {
	return nil, errTODO
}

// Open appends the plaintext of record to dst, or returns an error and
// nothing (no unauthenticated plaintext).
func (k *RecordKey) Open(dst []byte, b Binding, record []byte) ([]byte, error) {
	return nil, errTODO
}

// Destroy clears the key material.
func (k *RecordKey) Destroy() {}

// PasswordRecipient wraps with a key derived from a password (one KDF run).
type PasswordRecipient struct{}

func NewPasswordRecipient(d *kdf.Deriver, password []byte, p kdf.Params, r io.Reader) (*PasswordRecipient, error) {
	return nil, errTODO
}

// PasswordIdentity unwraps password stanzas; caps are enforced before deriving.
type PasswordIdentity struct{}

func NewPasswordIdentity(d *kdf.Deriver, password []byte) (*PasswordIdentity, error) {
	return nil, errTODO
}

// PasswordParams returns the KDF parameters recorded in a password stanza.
func PasswordParams(s *Stanza) (kdf.Params, error) { return kdf.Params{}, errTODO }

// RecoveryKeySize is the minimum size of a recovery (personal) key.
const RecoveryKeySize = 16

// RecoveryRecipient wraps for a high-entropy recovery key (fast KDF).
type RecoveryRecipient struct{}

func NewRecoveryRecipient(recoveryKey []byte, r io.Reader) (*RecoveryRecipient, error) {
	return nil, errTODO
}

// RecoveryIdentity unwraps recovery stanzas.
type RecoveryIdentity struct{}

func NewRecoveryIdentity(recoveryKey []byte) (*RecoveryIdentity, error) { return nil, errTODO }

// AEADRecipient wraps through any tink.AEAD (a KMS- or HSM-held key). It is
// both a Recipient and an Identity.
type AEADRecipient struct{}

func NewAEADRecipient(a tink.AEAD, keyID string, r io.Reader) (*AEADRecipient, error) {
	return nil, errTODO
}
