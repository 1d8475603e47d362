package envelope

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// RecoveryKeySize is the minimum size of a recovery (personal) key: 128
// bits, drawn from a CSPRNG.
const RecoveryKeySize = 16

// MaxRecoveryKeySize is the largest recovery key accepted.
const MaxRecoveryKeySize = 64

const recoverySaltSize = 32

// recoveryKEK is HKDF-SHA256(IKM = recovery key, salt = stanza salt,
// info = "piivault/envelope/v1/recovery", 32). No stretching: a recovery key
// has at least 128 bits of entropy, so guessing it is infeasible however
// fast one guess is (see FORMAT.md).
func recoveryKEK(rk, salt []byte) []byte {
	k, err := hkdf.Key(sha256.New, rk, salt, labelRecovery, KeySize)
	if err != nil {
		panic("envelope: hkdf: " + err.Error())
	}
	return k
}

func checkRecoveryKey(rk []byte) error {
	if len(rk) < RecoveryKeySize || len(rk) > MaxRecoveryKeySize {
		return fmt.Errorf("envelope: recovery key of %d bytes, want %d..%d: %w", len(rk), RecoveryKeySize, MaxRecoveryKeySize, ErrInvalidKey)
	}
	return nil
}

// RecoveryRecipient wraps for a high-entropy recovery key (the user's
// printed personal key) with a fast KDF. The stanza is "recovery", with an
// empty key id and the body salt (32) || commitment (32) || nonce (12) ||
// AES-256-GCM(key) (48).
type RecoveryRecipient struct {
	rk   []byte
	rand io.Reader
}

// NewRecoveryRecipient returns a recipient for recoveryKey, which must be
// RecoveryKeySize..MaxRecoveryKeySize bytes drawn from a CSPRNG (the caller
// may print it in any encoding; pass the raw bytes). r supplies salts
// (crypto/rand when nil). The key is copied; Destroy clears the copy.
func NewRecoveryRecipient(recoveryKey []byte, r io.Reader) (*RecoveryRecipient, error) {
	if err := checkRecoveryKey(recoveryKey); err != nil {
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	return &RecoveryRecipient{rk: append([]byte(nil), recoveryKey...), rand: r}, nil
}

// Destroy clears the recipient's copy of the recovery key.
func (rr *RecoveryRecipient) Destroy() { clear(rr.rk) }

// Wrap returns one recovery stanza wrapping key, bound to b.
func (rr *RecoveryRecipient) Wrap(ctx context.Context, key []byte, b Binding) ([]*Stanza, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	salt := make([]byte, recoverySaltSize)
	if _, err := io.ReadFull(rr.rand, salt); err != nil {
		return nil, fmt.Errorf("envelope: reading salt: %w", err)
	}
	var st *Stanza
	var err error
	secretDo(func() {
		kek := recoveryKEK(rr.rk, salt)
		st, err = wrapStanza(TypeRecovery, salt, kek, key, b, rr.rand)
		clear(kek)
	})
	if err != nil {
		return nil, err
	}
	return []*Stanza{st}, nil
}

// RecoveryIdentity unwraps recovery stanzas (one HKDF per stanza tried).
// A wrong recovery key returns an error wrapping ErrNoMatch.
type RecoveryIdentity struct {
	rk []byte
}

// NewRecoveryIdentity returns an identity for recoveryKey (copied; Destroy
// clears the copy).
func NewRecoveryIdentity(recoveryKey []byte) (*RecoveryIdentity, error) {
	if err := checkRecoveryKey(recoveryKey); err != nil {
		return nil, err
	}
	return &RecoveryIdentity{rk: append([]byte(nil), recoveryKey...)}, nil
}

// Destroy clears the identity's copy of the recovery key.
func (ri *RecoveryIdentity) Destroy() { clear(ri.rk) }

// Unwrap implements Identity.
func (ri *RecoveryIdentity) Unwrap(ctx context.Context, stanzas []*Stanza, b Binding) ([]byte, error) {
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	key := make([]byte, KeySize)
	for _, s := range stanzas {
		if s == nil || s.Type != TypeRecovery {
			continue
		}
		if len(s.KeyID) != 0 || len(s.Body) != recoverySaltSize+wrappedSize {
			return nil, fmt.Errorf("envelope: recovery stanza of %d bytes: %w", len(s.Body), ErrMalformed)
		}
		salt := s.Body[:recoverySaltSize:recoverySaltSize]
		var err error
		secretDo(func() {
			kek := recoveryKEK(ri.rk, salt)
			err = unwrapStanza(TypeRecovery, salt, s.Body[recoverySaltSize:], kek, b, key)
			clear(kek)
		})
		if errors.Is(err, ErrNoMatch) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return key, nil
	}
	return nil, fmt.Errorf("envelope: wrong recovery key or no recovery stanza: %w", ErrNoMatch)
}
