package envelope

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
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
	body, err := appendHeaderBody(nil, h)
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
	body, err := appendHeaderBody(nil, h)
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

// verifyBound checks, in this order, that h is not nil (ErrMalformed), that
// b is a valid binding, and that h verifies under key and b (verify).
func (h *Header) verifyBound(key []byte, b Binding) error {
	if h == nil {
		return fmt.Errorf("envelope: nil header: %w", ErrMalformed)
	}
	if err := checkBinding(b); err != nil {
		return err
	}
	return h.verify(key, b)
}

// WrapKey wraps key for every recipient under b and returns a header
// committed to key and authenticated (HMAC) under a subkey of it, with b
// bound into the MAC. At least one recipient and at most MaxStanzas stanzas
// in all are required.
func WrapKey(ctx context.Context, key []byte, b Binding, recipients ...Recipient) (*Header, error) {
	return wrapInto(ctx, &Header{}, key, b, recipients)
}

// WrapKeyV3 is WrapKey writing a version-3 header (FORMAT.md section 2.9):
// generation 1, key generation 0, no older keys, at most one password
// stanza.
func WrapKeyV3(ctx context.Context, key []byte, b Binding, recipients ...Recipient) (*Header, error) {
	return wrapInto(ctx, &Header{version: Version3, generation: 1}, key, b, recipients)
}

// Version returns the header's format version (Version1 or Version3).
func (h *Header) Version() int {
	if h.version == 0 {
		return Version1
	}
	return int(h.version)
}

// Generation returns the header's generation counter: 0 for a version-1
// header; for a version-3 header, 1 when written by WrapKeyV3 and one more
// at each RewrapWith, Rewrap and Rotate. It is covered by the header MAC,
// so it is authentic only once UnwrapKey (or OlderKeys) succeeded on h:
// before that it is whatever the bytes say.
func (h *Header) Generation() uint64 { return h.generation }

// KeyGeneration returns the generation of the header's key: 0 for a
// version-1 header and for a version-3 header never rotated, one more at
// each Rotate. Authentic under the same condition as Generation.
func (h *Header) KeyGeneration() uint32 { return h.keyGen }

// OlderKeyGenerations returns the generations of the older keys h carries,
// newest first (unauthenticated until h is verified, as Generation).
func (h *Header) OlderKeyGenerations() []uint32 {
	out := make([]uint32, len(h.older))
	for i, o := range h.older {
		out[i] = o.gen
	}
	return out
}

// OlderKeys verifies h under key and b (ErrCommitment, ErrHeaderAuth) and
// returns the older keys it carries, newest first. The caller clears them.
func (h *Header) OlderKeys(key []byte, b Binding) ([]OlderKey, error) {
	if err := h.verifyBound(key, b); err != nil {
		return nil, err
	}
	out := make([]OlderKey, 0, len(h.older))
	for _, o := range h.older {
		k, err := openKey(key, labelOlderKey, olderKeyAD(o.gen, b), o.wrapped)
		if err != nil {
			for _, ok := range out {
				clear(ok.Key)
			}
			// The header MAC verified, so the writer held key: a wrap that
			// does not open was written wrong, not guessed at.
			return nil, fmt.Errorf("envelope: older key of generation %d: %w", o.gen, errors.Join(ErrHeaderAuth, err))
		}
		out = append(out, OlderKey{Generation: o.gen, Key: k})
	}
	return out, nil
}

// RewrapOptions says what RewrapWith keeps and adds.
type RewrapOptions struct {
	// Keep selects the stanzas of the old header to keep (nil: all).
	Keep func(*Stanza) bool
	// Add are recipients to wrap the key for, after the kept stanzas.
	Add []Recipient
	// KeepOlder selects the older keys to keep, by generation (nil: all).
	// Drop an older key only once no record sealed under it remains.
	KeepOlder func(generation uint32) bool
}

// RewrapWith returns a new version-3 header for the same key: the stanzas
// and older keys opts keeps, plus stanzas for opts.Add. Its generation is
// h's plus one (a version-1 header counts as generation 0), its key
// generation is h's. key must be h's key and h must be bound to b (both
// checked: ErrCommitment, ErrHeaderAuth). At most one password stanza may
// result (ErrMalformed). h is not modified.
func (h *Header) RewrapWith(ctx context.Context, key []byte, b Binding, opts RewrapOptions) (*Header, error) {
	if err := h.verifyBound(key, b); err != nil {
		return nil, err
	}
	if h.generation == math.MaxUint64 {
		return nil, fmt.Errorf("envelope: header generation exhausted: %w", ErrTooLarge)
	}
	nh := &Header{version: Version3, generation: h.generation + 1, keyGen: h.keyGen}
	for _, s := range h.Stanzas {
		if opts.Keep == nil || opts.Keep(s) {
			nh.Stanzas = append(nh.Stanzas, s.clone())
		}
	}
	for _, o := range h.older {
		if opts.KeepOlder == nil || opts.KeepOlder(o.gen) {
			nh.older = append(nh.older, olderKey{gen: o.gen, wrapped: append([]byte(nil), o.wrapped...)})
		}
	}
	return wrapInto(ctx, nh, key, b, opts.Add)
}

// Rotate returns a version-3 header for newKey that replaces h (whose key
// is oldKey; checked, ErrCommitment, ErrHeaderAuth): newKey wrapped for add
// only (h's stanzas wrap oldKey and are not kept), generation h's plus
// one, key generation h's plus one, and as older keys oldKey (at h's key
// generation) followed by h's older keys, all wrapped under newKey. No
// older header and no secret that opens one yields newKey. More than
// MaxOlderKeys older keys give ErrTooLarge: reseal the records and drop
// older keys (RewrapWith) first. r supplies nonces (crypto/rand when nil).
func (h *Header) Rotate(ctx context.Context, oldKey, newKey []byte, b Binding, r io.Reader, add ...Recipient) (*Header, error) {
	if h == nil {
		return nil, fmt.Errorf("envelope: nil header: %w", ErrMalformed)
	}
	if err := checkKey(newKey); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(oldKey, newKey) == 1 {
		return nil, fmt.Errorf("envelope: rotating to the same key: %w", ErrInvalidKey)
	}
	older, err := h.OlderKeys(oldKey, b)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, o := range older {
			clear(o.Key)
		}
	}()
	switch {
	case h.generation == math.MaxUint64 || h.keyGen == math.MaxUint32:
		return nil, fmt.Errorf("envelope: header generation exhausted: %w", ErrTooLarge)
	case len(older)+1 > MaxOlderKeys:
		return nil, fmt.Errorf("envelope: rotation would carry %d older keys, limit %d: %w", len(older)+1, MaxOlderKeys, ErrTooLarge)
	}
	if r == nil {
		r = rand.Reader
	}
	nh := &Header{version: Version3, generation: h.generation + 1, keyGen: h.keyGen + 1}
	all := append([]OlderKey{{Generation: h.keyGen, Key: oldKey}}, older...)
	for _, o := range all {
		w, err := sealKey(newKey, labelOlderKey, olderKeyAD(o.Generation, b), o.Key, r)
		if err != nil {
			return nil, err
		}
		nh.older = append(nh.older, olderKey{gen: o.Generation, wrapped: w})
	}
	return wrapInto(ctx, nh, newKey, b, add)
}

// olderKeyAD is the associated data of an older key's wrap:
// "PVEH" || 02 || 01 || u8 len || "older-key" || u32 generation || binding.
func olderKeyAD(gen uint32, b Binding) []byte {
	ad := make([]byte, 0, headerPrefixSize+1+len(olderKeyTag)+4+2+len(b.UserID)+len(b.Label))
	ad = append(ad, headerMagic...)
	ad = append(ad, Version3, SuiteAES256GCM, byte(len(olderKeyTag)))
	ad = append(ad, olderKeyTag...)
	ad = binary.BigEndian.AppendUint32(ad, gen)
	return appendBinding(ad, b)
}

const olderKeyTag = "older-key"

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
	if len(data) > MaxHeaderSizeV1 && len(data) > 4 && data[4] == Version1 {
		return nil, fmt.Errorf("envelope: version-1 header of %d bytes, limit %d: %w", len(data), MaxHeaderSizeV1, ErrTooLarge)
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
	out, err := appendHeaderBody(b, h)
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
// ErrHeaderAuth). h is not modified. The new header has h's version; a
// version-3 header keeps its key generation and older keys and gets
// generation h's plus one (RewrapWith with Keep and Add).
func (h *Header) Rewrap(ctx context.Context, key []byte, b Binding, keep func(*Stanza) bool, add ...Recipient) (*Header, error) {
	if h != nil && h.Version() == Version3 {
		return h.RewrapWith(ctx, key, b, RewrapOptions{Keep: keep, Add: add})
	}
	if err := h.verifyBound(key, b); err != nil {
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
