package envelope

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// NewKey returns a fresh random KeySize-byte key (crypto/rand when r is nil).
func NewKey(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(r, key); err != nil {
		return nil, fmt.Errorf("envelope: reading random key: %w", err)
	}
	return key, nil
}

func checkKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("envelope: key of %d bytes, want %d: %w", len(key), KeySize, ErrInvalidKey)
	}
	return nil
}

// seal computes the commitment and MAC of h under key and b.
func (h *Header) seal(key []byte, b Binding) error {
	body, err := appendHeaderBody(nil, h.Stanzas)
	if err != nil {
		return err
	}
	commitment, macKey := headerKeys(key)
	defer clear(macKey)
	copy(h.commitment[:], commitment)
	body = append(body, commitment...)
	copy(h.mac[:], headerMAC(macKey, b, body))
	h.sealed = true
	return nil
}

// verify checks that key is the key h was sealed with (commitment, constant
// time) and that h is unaltered and bound to b (MAC, constant time).
func (h *Header) verify(key []byte, b Binding) error {
	if !h.sealed {
		return fmt.Errorf("envelope: header was not made by WrapKey or ParseHeader: %w", ErrMalformed)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	body, err := appendHeaderBody(nil, h.Stanzas)
	if err != nil {
		return err
	}
	commitment, macKey := headerKeys(key)
	defer clear(macKey)
	if subtle.ConstantTimeCompare(commitment, h.commitment[:]) != 1 {
		return ErrCommitment
	}
	body = append(body, h.commitment[:]...)
	if !hmac.Equal(headerMAC(macKey, b, body), h.mac[:]) {
		return ErrHeaderAuth
	}
	return nil
}

// WrapKey wraps key for every recipient under b and returns a header
// committed to key and authenticated (HMAC) under a subkey of it, with b
// bound into the MAC. At least one recipient and at most MaxStanzas stanzas
// in all are required.
func WrapKey(ctx context.Context, key []byte, b Binding, recipients ...Recipient) (*Header, error) {
	return wrapInto(ctx, &Header{}, key, b, recipients)
}

func wrapInto(ctx context.Context, h *Header, key []byte, b Binding, recipients []Recipient) (*Header, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	for _, r := range recipients {
		if r == nil {
			return nil, fmt.Errorf("envelope: nil recipient: %w", ErrInvalidRecipient)
		}
		ss, err := r.Wrap(ctx, key, b)
		if err != nil {
			return nil, fmt.Errorf("envelope: wrapping for a recipient: %w", err)
		}
		h.Stanzas = append(h.Stanzas, ss...)
		if len(h.Stanzas) > MaxStanzas {
			return nil, fmt.Errorf("envelope: more than %d stanzas: %w", MaxStanzas, ErrTooLarge)
		}
	}
	if len(h.Stanzas) == 0 {
		return nil, fmt.Errorf("envelope: no recipients: %w", ErrInvalidRecipient)
	}
	if err := h.seal(key, b); err != nil {
		return nil, err
	}
	return h, nil
}

// ParseHeader parses a header strictly (canonical encoding only), checking
// every length against limits before allocating. It authenticates nothing:
// UnwrapKey does. MarshalBinary of the result returns data byte for byte.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) > MaxHeaderSize {
		return nil, fmt.Errorf("envelope: header of %d bytes, limit %d: %w", len(data), MaxHeaderSize, ErrTooLarge)
	}
	h, n, err := parseHeaderPrefix(data)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("envelope: %d trailing bytes after header: %w", len(data)-n, ErrMalformed)
	}
	return h, nil
}

// MarshalBinary returns the canonical encoding of h. h must come from
// WrapKey, Rewrap or ParseHeader; a header whose stanzas were edited since
// marshals, but no longer unwraps (its MAC covers the stanzas).
func (h *Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(nil)
}

// AppendBinary appends the canonical encoding of h to b
// (encoding.BinaryAppender).
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	if !h.sealed {
		return b, fmt.Errorf("envelope: header was not made by WrapKey or ParseHeader: %w", ErrMalformed)
	}
	out, err := appendHeaderBody(b, h.Stanzas)
	if err != nil {
		return b, err
	}
	out = append(out, h.commitment[:]...)
	return append(out, h.mac[:]...), nil
}

// UnwrapKey tries identities in order and returns the key once the header's
// commitment and MAC verify under it and b. An identity that reports
// ErrNoMatch is skipped; if all do, the error wraps ErrNoMatch. A key whose
// commitment does not match returns ErrCommitment, a header altered or moved
// to another binding returns ErrHeaderAuth; both are final.
func UnwrapKey(ctx context.Context, h *Header, b Binding, identities ...Identity) ([]byte, error) {
	if h == nil || !h.sealed {
		return nil, fmt.Errorf("envelope: header was not made by WrapKey or ParseHeader: %w", ErrMalformed)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if len(identities) == 0 {
		return nil, fmt.Errorf("envelope: no identities: %w", ErrNoMatch)
	}
	for _, id := range identities {
		if id == nil {
			return nil, fmt.Errorf("envelope: nil identity: %w", ErrInvalidRecipient)
		}
		key, err := id.Unwrap(ctx, h.Stanzas, b)
		if errors.Is(err, ErrNoMatch) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := h.verify(key, b); err != nil {
			clear(key)
			return nil, err
		}
		return key, nil
	}
	return nil, fmt.Errorf("envelope: none of %d identities matched a stanza: %w", len(identities), ErrNoMatch)
}

// Rewrap returns a new header for the same key: the stanzas of h for which
// keep returns true (all of them when keep is nil), plus new ones for add.
// key must be h's key and h must be bound to b (both checked: ErrCommitment,
// ErrHeaderAuth). h is not modified.
func (h *Header) Rewrap(ctx context.Context, key []byte, b Binding, keep func(*Stanza) bool, add ...Recipient) (*Header, error) {
	if h == nil {
		return nil, fmt.Errorf("envelope: nil header: %w", ErrMalformed)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if err := h.verify(key, b); err != nil {
		return nil, err
	}
	nh := &Header{}
	for _, s := range h.Stanzas {
		if keep == nil || keep(s) {
			nh.Stanzas = append(nh.Stanzas, s.clone())
		}
	}
	return wrapInto(ctx, nh, key, b, add)
}

func (s *Stanza) clone() *Stanza {
	c := &Stanza{Type: s.Type, Body: append([]byte(nil), s.Body...)}
	if len(s.KeyID) > 0 {
		c.KeyID = append([]byte(nil), s.KeyID...)
	}
	return c
}
