package envelope

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/tink"
)

// aeadPlaintextMagic starts what an AEADRecipient hands to its tink.AEAD:
// the key and the binding, so that the binding is checked even by a KMS
// that ignores associated data.
const aeadPlaintextMagic = "piivault/envelope/v1/aead"

// AEADRecipient wraps through any tink.AEAD (a KMS- or HSM-held key). It is
// both a Recipient and an Identity.
//
// Its stanza is "aead" with key id keyID and, as body, the tink.AEAD's
// ciphertext of
//
//	"piivault/envelope/v1/aead" || key (32) || binding
//
// under associated data that binds the version, suite, type, key id and
// binding. Unwrap checks the binding inside the plaintext as well, so a
// backend that ignores associated data still cannot be used to move a stanza
// to another user or label. The tink.AEAD's key is not guessable, so this
// wrap needs no key commitment of its own; the header commitment still makes
// every recipient see the same key.
type AEADRecipient struct {
	a     tink.AEAD
	keyID []byte
}

// NewAEADRecipient returns a recipient and identity for a, whose stanzas
// carry keyID (1..MaxKeyID bytes; it names the key, e.g. a KMS key URI,
// and selects the stanzas Unwrap tries). r is unused: the tink.AEAD
// draws its own nonces; it is accepted for symmetry with the other
// constructors and may be nil.
func NewAEADRecipient(a tink.AEAD, keyID string, r io.Reader) (*AEADRecipient, error) {
	if a == nil {
		return nil, fmt.Errorf("envelope: nil tink.AEAD: %w", ErrInvalidRecipient)
	}
	if len(keyID) == 0 || len(keyID) > MaxKeyID {
		return nil, fmt.Errorf("envelope: aead key id must be 1..%d bytes: %w", MaxKeyID, ErrInvalidRecipient)
	}
	return &AEADRecipient{a: a, keyID: []byte(keyID)}, nil
}

func (ar *AEADRecipient) plaintext(key []byte, b Binding) []byte {
	pt := make([]byte, 0, len(aeadPlaintextMagic)+KeySize+2+len(b.UserID)+len(b.Label))
	pt = append(pt, aeadPlaintextMagic...)
	pt = append(pt, key...)
	return appendBinding(pt, b)
}

// Wrap implements Recipient: one call to the tink.AEAD's Encrypt.
func (ar *AEADRecipient) Wrap(ctx context.Context, key []byte, b Binding) ([]*Stanza, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("envelope: aead recipient: %w", err)
	}
	pt := ar.plaintext(key, b)
	defer clear(pt)
	ct, err := ar.a.Encrypt(pt, stanzaAD(TypeAEAD, ar.keyID, nil, b))
	if err != nil {
		return nil, fmt.Errorf("envelope: aead recipient %q: encrypt: %w", ar.keyID, err)
	}
	if len(ct) == 0 || len(ct) > MaxStanzaBody {
		return nil, fmt.Errorf("envelope: aead recipient %q: ciphertext of %d bytes: %w", ar.keyID, len(ct), ErrTooLarge)
	}
	return []*Stanza{{Type: TypeAEAD, KeyID: append([]byte(nil), ar.keyID...), Body: ct}}, nil
}

// Unwrap implements Identity: it tries each "aead" stanza whose key id is
// its own. When none decrypts (another key under the same id, a stanza
// moved to another binding, or a backend failure: a tink.AEAD does not say
// which) the error wraps ErrNoMatch and the last tink.AEAD error. A stanza
// that decrypts but whose plaintext is not this format's or names another
// binding (a backend that ignored the associated data) is a final error
// wrapping ErrHeaderAuth. Check ctx before calling: a cancelled ctx is
// returned as such.
func (ar *AEADRecipient) Unwrap(ctx context.Context, stanzas []*Stanza, b Binding) ([]byte, error) {
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	want := ar.plaintext(make([]byte, KeySize), b)
	var lastErr error
	for _, s := range stanzas {
		if s == nil || s.Type != TypeAEAD || !bytes.Equal(s.KeyID, ar.keyID) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("envelope: aead identity: %w", err)
		}
		pt, err := ar.a.Decrypt(s.Body, stanzaAD(TypeAEAD, ar.keyID, nil, b))
		if err != nil {
			lastErr = err
			continue
		}
		m := len(aeadPlaintextMagic)
		ok := len(pt) == len(want) &&
			subtle.ConstantTimeCompare(pt[:m], want[:m]) == 1 &&
			subtle.ConstantTimeCompare(pt[m+KeySize:], want[m+KeySize:]) == 1
		if !ok {
			clear(pt)
			return nil, fmt.Errorf("envelope: aead identity %q: wrapped plaintext names another binding: %w", ar.keyID, ErrHeaderAuth)
		}
		key := append(make([]byte, 0, KeySize), pt[m:m+KeySize]...)
		clear(pt)
		return key, nil
	}
	if lastErr != nil {
		// Another key under the same key id, a stanza moved to another
		// binding (AD mismatch), or the backend failed: the tink.AEAD
		// does not say which. Its error stays reachable with errors.As.
		return nil, fmt.Errorf("envelope: aead identity %q could not decrypt its stanza: %w", ar.keyID, errors.Join(ErrNoMatch, lastErr))
	}
	return nil, fmt.Errorf("envelope: no aead stanza for key id %q: %w", ar.keyID, ErrNoMatch)
}
