package escrow

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/piivault/piivault/envelope"
)

// purposeMagic starts the plaintext an AEADRecipient hands to its backend
// (inside envelope's own "piivault/envelope/v1/aead" payload).
const purposeMagic = "piivault/escrow/v1/aead"

// purposeAEAD binds a purpose inside the plaintext and into the associated
// data of every call to an inner tink.AEAD, so a backend that ignores
// associated data still refuses a payload written for another purpose.
type purposeAEAD struct {
	inner  tink.AEAD
	prefix []byte // u8 len magic || magic || u8 len purpose || purpose
}

func newPurposeAEAD(inner tink.AEAD, magic, purpose string) *purposeAEAD {
	p := append([]byte{byte(len(magic))}, magic...)
	p = append(p, byte(len(purpose)))
	p = append(p, purpose...)
	return &purposeAEAD{inner: inner, prefix: p}
}

func (p *purposeAEAD) ad(ad []byte) []byte {
	out := make([]byte, 0, len(p.prefix)+len(ad))
	return append(append(out, p.prefix...), ad...)
}

// Encrypt implements tink.AEAD.
func (p *purposeAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	pt := make([]byte, 0, len(p.prefix)+len(plaintext))
	pt = append(append(pt, p.prefix...), plaintext...)
	defer clear(pt)
	return p.inner.Encrypt(pt, p.ad(associatedData))
}

// Decrypt implements tink.AEAD. A plaintext without this purpose's prefix
// is refused with ErrPayload and cleared.
func (p *purposeAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := p.inner.Decrypt(ciphertext, p.ad(associatedData))
	if err != nil {
		return nil, err
	}
	n := len(p.prefix)
	if len(pt) < n || subtle.ConstantTimeCompare(pt[:n], p.prefix) != 1 {
		clear(pt)
		return nil, fmt.Errorf("escrow: %w", ErrPayload)
	}
	out := append([]byte(nil), pt[n:]...)
	clear(pt)
	return out, nil
}

// AEADRecipient is an AEAD escrow: the account key wrapped through any
// tink.AEAD (a key in AWS KMS, GCP KMS, HashiCorp Vault through Tink's KMS
// client modules, or an HSM). It is envelope.AEADRecipient (which binds the
// user id and label inside the wrapped payload as well as in the associated
// data) over a layer that binds the purpose the same two ways. Each Wrap
// and Unwrap is one call to the backend. It implements envelope.Recipient
// and envelope.Identity.
type AEADRecipient struct {
	*envelope.AEADRecipient
	keyID []byte
}

// NewAEADRecipient returns an AEAD escrow through a, whose stanzas carry
// keyID (1..255 bytes; e.g. the KMS key URI) and bind purpose (1..255 bytes).
func NewAEADRecipient(a tink.AEAD, keyID, purpose string) (*AEADRecipient, error) {
	if a == nil {
		return nil, fmt.Errorf("escrow: nil tink.AEAD: %w", envelope.ErrInvalidRecipient)
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	ar, err := envelope.NewAEADRecipient(newPurposeAEAD(a, purposeMagic, purpose), keyID, nil)
	if err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	return &AEADRecipient{AEADRecipient: ar, keyID: []byte(keyID)}, nil
}

// Owns reports whether s is a stanza this recipient writes (type and key id).
func (r *AEADRecipient) Owns(s *envelope.Stanza) bool {
	return s != nil && s.Type == envelope.TypeAEAD && bytes.Equal(s.KeyID, r.keyID)
}

// Pepper sizes accepted by WrapPepper and UnwrapPepper.
const (
	MinPepperSize = 32
	MaxPepperSize = 64
)

const pepperMagic = "piivault/escrow/v1/pepper"

// WrapPepper encrypts pepper through a (a KMS key), binding associatedData
// (e.g. the deployment name) both as associated data and inside the
// payload. Run it once, when the pepper is created; store the result in
// the deployment's configuration.
func WrapPepper(ctx context.Context, a tink.AEAD, pepper, associatedData []byte) ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("escrow: nil tink.AEAD: %w", envelope.ErrInvalidRecipient)
	}
	if len(pepper) < MinPepperSize || len(pepper) > MaxPepperSize {
		return nil, fmt.Errorf("escrow: pepper of %d bytes, want %d..%d: %w", len(pepper), MinPepperSize, MaxPepperSize, ErrInvalidPepper)
	}
	if len(associatedData) > 255 {
		return nil, fmt.Errorf("escrow: pepper associated data over 255 bytes: %w", ErrInvalidPepper)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	pa := newPurposeAEAD(a, pepperMagic, string(associatedData))
	pt := append([]byte{byte(len(pepper))}, pepper...)
	defer clear(pt)
	ct, err := pa.Encrypt(pt, nil)
	if err != nil {
		return nil, fmt.Errorf("escrow: wrapping pepper: %w", err)
	}
	return ct, nil
}

// UnwrapPepper decrypts what WrapPepper returned, with one call to a.
// Call it ONCE at start-up and hand the pepper to vault.Config.Pepper: an
// attacker holding the database then needs the KMS to test password
// guesses, and no login calls the KMS. The pepper is the caller's to clear.
func UnwrapPepper(ctx context.Context, a tink.AEAD, wrapped, associatedData []byte) ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("escrow: nil tink.AEAD: %w", envelope.ErrInvalidRecipient)
	}
	if len(associatedData) > 255 {
		return nil, fmt.Errorf("escrow: pepper associated data over 255 bytes: %w", ErrPayload)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	pa := newPurposeAEAD(a, pepperMagic, string(associatedData))
	pt, err := pa.Decrypt(wrapped, nil)
	if err != nil {
		return nil, fmt.Errorf("escrow: unwrapping pepper: %w", err)
	}
	defer clear(pt)
	if len(pt) < 1 || int(pt[0]) != len(pt)-1 || len(pt)-1 < MinPepperSize || len(pt)-1 > MaxPepperSize {
		return nil, fmt.Errorf("escrow: wrapped pepper: %w", ErrPayload)
	}
	return append([]byte(nil), pt[1:]...), nil
}
