package disclosure

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// Limits of a Consent.
const (
	MaxPartnerIDLength = 255
	MaxNonceLength     = 255
	MaxSubjectLength   = 255
	MaxPurposeLength   = 1024
	MaxAttributes      = 32
	MaxNameLength      = 64
	MaxValueLength     = 1024 // bytes of one attribute value in a package
)

// Errors a caller can tell apart with errors.Is.
var (
	ErrMalformed          = errors.New("disclosure: malformed encoding")
	ErrUnsupportedVersion = errors.New("disclosure: unsupported format version (version-1 packages are unsigned and refused)")
	ErrInvalidConsent     = errors.New("disclosure: invalid consent")
	ErrUnknownAttribute   = errors.New("disclosure: unknown attribute name")
	ErrWrongPartner       = errors.New("disclosure: package is for another partner or partner key")
	ErrUnsupportedSuite   = errors.New("disclosure: unsupported suite")
	ErrInvalidKey         = errors.New("disclosure: invalid key")
	ErrWrongSigner        = errors.New("disclosure: package not signed by a pinned provider key")
	ErrForged             = errors.New("disclosure: provider signature does not verify")
	ErrNonce              = errors.New("disclosure: package answers another request (nonce)")
	ErrNotYetValid        = errors.New("disclosure: package not yet in force")
	ErrExpired            = errors.New("disclosure: package or consent expired")
	ErrReplay             = errors.New("disclosure: package already opened (replay)")
	ErrReplayCacheFull    = errors.New("disclosure: replay cache full")
	ErrDecrypt            = errors.New("disclosure: package decryption failed")
	ErrTooLarge           = errors.New("disclosure: over size limits")
	ErrAttributesInvalid  = errors.New("disclosure: attribute values invalid")

	// ErrConsentExpired is ErrExpired (the name of version 1).
	ErrConsentExpired = ErrExpired
)

const (
	consentMagic   = "PVCN"
	consentVersion = 2
)

// Consent is what a user agreed to: release the named attributes to one
// partner, for a purpose, from GivenAt until ExpiresAt (excluded), in answer
// to one request of the partner (Nonce).
type Consent struct {
	PartnerID  string      // the partner's identifier, printable ASCII
	PartnerKey Fingerprint // the partner key sealed to; Disclose fills it from the partner's key
	Nonce      string      // the partner's request nonce (OIDC nonce, SAML request ID), 1..255 bytes
	Subject    string      // how the partner knows the user: a pairwise id (see Pairwise)
	Attributes []string    // attribute names (vault.AttrXxx), any order, no duplicates
	Purpose    string      // shown to the user when asking, UTF-8
	GivenAt    time.Time   // when the user agreed
	ExpiresAt  time.Time   // when the consent lapses
}

// ValidAt reports whether the consent is in force at t: GivenAt <= t <
// ExpiresAt.
func (c Consent) ValidAt(t time.Time) bool {
	return !t.Before(c.GivenAt) && t.Before(c.ExpiresAt)
}

// MarshalBinary returns the canonical encoding of c (FORMAT.md, section
// 4), with the attribute names sorted. Equal consents give equal bytes. It
// fails with ErrInvalidConsent if c breaks a limit, has no nonce, lists no
// attribute or the same attribute twice, or expires before it is given.
func (c Consent) MarshalBinary() ([]byte, error) {
	names, err := c.check()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 96+len(c.PartnerID)+len(c.Nonce)+len(c.Subject)+len(c.Purpose)+len(names)*16)
	b = append(b, consentMagic...)
	b = append(b, consentVersion, byte(len(c.PartnerID)))
	b = append(b, c.PartnerID...)
	b = append(b, c.PartnerKey[:]...)
	b = append(b, byte(len(c.Nonce)))
	b = append(b, c.Nonce...)
	b = append(b, byte(len(c.Subject)))
	b = append(b, c.Subject...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Purpose)))
	b = append(b, c.Purpose...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.GivenAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.ExpiresAt.UnixNano()))
	b = append(b, byte(len(names)))
	for _, n := range names {
		b = append(b, byte(len(n)))
		b = append(b, n...)
	}
	return b, nil
}

// check validates c and returns its attribute names sorted.
func (c Consent) check() ([]string, error) {
	bad := func(why string) ([]string, error) { return nil, fmt.Errorf("%w: %s", ErrInvalidConsent, why) }
	if len(c.PartnerID) == 0 || len(c.PartnerID) > MaxPartnerIDLength || !printable(c.PartnerID) {
		return bad("partner id must be 1 to 255 bytes of printable ASCII")
	}
	if len(c.Nonce) == 0 || len(c.Nonce) > MaxNonceLength {
		return bad("nonce must be 1 to 255 bytes")
	}
	if len(c.Subject) > MaxSubjectLength || !utf8.ValidString(c.Subject) {
		return bad("subject must be at most 255 bytes of UTF-8")
	}
	if len(c.Purpose) == 0 || len(c.Purpose) > MaxPurposeLength || !utf8.ValidString(c.Purpose) {
		return bad("purpose must be 1 to 1024 bytes of UTF-8")
	}
	if !representable(c.GivenAt) || !representable(c.ExpiresAt) || !c.ExpiresAt.After(c.GivenAt) {
		return bad("expiry must follow the time consent was given")
	}
	if len(c.Attributes) == 0 || len(c.Attributes) > MaxAttributes {
		return bad("1 to 32 attributes")
	}
	names := slices.Clone(c.Attributes)
	slices.Sort(names)
	for i, n := range names {
		if !validName(n) {
			return bad("attribute names are 1 to 64 bytes of [a-z0-9_]")
		}
		if i > 0 && names[i-1] == n {
			return bad("an attribute is listed twice")
		}
	}
	return names, nil
}

func representable(t time.Time) bool {
	n := t.UnixNano()
	return n != math.MinInt64 && t.Equal(time.Unix(0, n))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if len(n) == 0 || len(n) > MaxNameLength {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// reader is a strict cursor over an encoding.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || n > len(r.b) {
		r.err = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}
func (r *reader) u8() int {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}
func (r *reader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}
func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// ParseConsent parses the canonical encoding of a Consent strictly: any
// byte string that MarshalBinary would not produce is ErrMalformed.
func ParseConsent(b []byte) (Consent, error) {
	c, rest, err := parseConsentPrefix(b)
	if err != nil {
		return Consent{}, err
	}
	if len(rest) != 0 {
		return Consent{}, fmt.Errorf("%w: trailing bytes after consent", ErrMalformed)
	}
	return c, nil
}

func parseConsentPrefix(b []byte) (Consent, []byte, error) {
	var c Consent
	r := &reader{b: b}
	if string(r.take(4)) != consentMagic {
		return c, nil, fmt.Errorf("%w: consent magic", ErrMalformed)
	}
	if v := r.u8(); v != consentVersion {
		return c, nil, fmt.Errorf("%w: consent version %d", ErrUnsupportedVersion, v)
	}
	c.PartnerID = string(r.take(r.u8()))
	copy(c.PartnerKey[:], r.take(len(c.PartnerKey)))
	c.Nonce = string(r.take(r.u8()))
	c.Subject = string(r.take(r.u8()))
	c.Purpose = string(r.take(r.u16()))
	c.GivenAt = time.Unix(0, int64(r.u64())).UTC()
	c.ExpiresAt = time.Unix(0, int64(r.u64())).UTC()
	n := r.u8()
	if r.err || n > MaxAttributes {
		return Consent{}, nil, fmt.Errorf("%w: truncated consent", ErrMalformed)
	}
	c.Attributes = make([]string, 0, n)
	for range n {
		c.Attributes = append(c.Attributes, string(r.take(r.u8())))
	}
	if r.err {
		return Consent{}, nil, fmt.Errorf("%w: truncated consent", ErrMalformed)
	}
	sorted, err := c.check()
	if err != nil {
		return Consent{}, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !slices.Equal(sorted, c.Attributes) {
		return Consent{}, nil, fmt.Errorf("%w: attribute names not in canonical order", ErrMalformed)
	}
	// Belt and braces: the canonical form is unique.
	if enc, _ := c.MarshalBinary(); !bytes.Equal(enc, b[:len(b)-len(r.b)]) {
		return Consent{}, nil, fmt.Errorf("%w: consent not canonical", ErrMalformed)
	}
	return c, r.b, nil
}
