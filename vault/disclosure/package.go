package disclosure

import (
	"bytes"
	"crypto/hpke"
	"encoding/binary"
	"fmt"
	"time"
)

// Suite identifiers (RFC 9180 and draft-ietf-hpke-pq registries).
const (
	KEMX25519         uint16 = 0x0020 // DHKEM(X25519, HKDF-SHA256)
	KEMMLKEM768X25519 uint16 = 0x647a // MLKEM768-X25519 (X-Wing)
	KEMP256           uint16 = 0x0010 // DHKEM(P-256, HKDF-SHA256): FIPS, HSM-held keys
	KEMMLKEM768P256   uint16 = 0x0050 // MLKEM768-P256: FIPS, post-quantum hybrid
	KDFHKDFSHA256     uint16 = 0x0001
	AEADAES256GCM     uint16 = 0x0002
)

// MaxPackageSize bounds a package; larger input is refused before any work.
const MaxPackageSize = 64 << 10

const (
	packageMagic   = "PVDS"
	plaintextMagic = "PVDP"
	infoDomain     = "piivault/disclosure/v1\x00"
)

// encSize returns the encapsulated key size of a supported KEM, or 0.
func encSize(kem uint16) int {
	switch kem {
	case KEMX25519:
		return 32
	case KEMMLKEM768X25519:
		return 1120
	case KEMP256:
		return 65
	case KEMMLKEM768P256:
		return 1153
	}
	return 0
}

// Attribute is one released attribute.
type Attribute struct {
	Name  string
	Value string
}

// Disclosed is what a partner gets from a package it opened: the consent
// it was released under and exactly the consented attributes, in the
// consent's (sorted) order.
type Disclosed struct {
	Consent    Consent
	Attributes []Attribute
}

// Value returns the value of the attribute called name, and whether the
// package holds it.
func (d *Disclosed) Value(name string) (string, bool) {
	for _, a := range d.Attributes {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// seal builds a package holding values (keyed by name; exactly the consent's
// names) for the partner key pk.
func seal(c Consent, values map[string]string, pk hpke.PublicKey) ([]byte, error) {
	kem := pk.KEM().ID()
	if encSize(kem) == 0 {
		return nil, fmt.Errorf("%w: kem 0x%04x", ErrUnsupportedSuite, kem)
	}
	cb, err := c.MarshalBinary()
	if err != nil {
		return nil, err
	}
	names, _ := c.check()
	if len(values) != len(names) {
		return nil, fmt.Errorf("%w: values do not match the consent", ErrAttributesInvalid)
	}
	pt := make([]byte, 0, 1024)
	pt = append(pt, plaintextMagic...)
	pt = append(pt, 1)
	pt = binary.BigEndian.AppendUint16(pt, uint16(len(cb)))
	pt = append(pt, cb...)
	pt = append(pt, byte(len(names)))
	for _, n := range names {
		v, ok := values[n]
		if !ok || len(v) > MaxValueLength {
			clear(pt)
			return nil, fmt.Errorf("%w: %q missing or too long", ErrAttributesInvalid, n)
		}
		pt = append(pt, byte(len(n)))
		pt = append(pt, n...)
		pt = binary.BigEndian.AppendUint16(pt, uint16(len(v)))
		pt = append(pt, v...)
	}
	defer clear(pt)

	hdr := make([]byte, 0, 13+len(cb))
	hdr = append(hdr, packageMagic...)
	hdr = append(hdr, 1)
	hdr = binary.BigEndian.AppendUint16(hdr, kem)
	hdr = binary.BigEndian.AppendUint16(hdr, KDFHKDFSHA256)
	hdr = binary.BigEndian.AppendUint16(hdr, AEADAES256GCM)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(cb)))
	hdr = append(hdr, cb...)

	ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(hdr), pt)
	if err != nil {
		return nil, fmt.Errorf("disclosure: hpke seal: %w", err)
	}
	out := append(hdr, ct...)
	if len(out) > MaxPackageSize {
		return nil, fmt.Errorf("%w: package of %d bytes", ErrTooLarge, len(out))
	}
	return out, nil
}

func info(hdr []byte) []byte {
	return append([]byte(infoDomain), hdr...)
}

// header is a parsed, not yet authenticated package header.
type header struct {
	kem        uint16
	consent    Consent
	consentRaw []byte
	hdr        []byte // magic .. end of consent
	sealed     []byte // enc || ciphertext
}

func parseHeader(pkg []byte) (*header, error) {
	if len(pkg) > MaxPackageSize {
		return nil, fmt.Errorf("%w: package of %d bytes", ErrTooLarge, len(pkg))
	}
	r := &reader{b: pkg}
	if string(r.take(4)) != packageMagic || r.u8() != 1 {
		return nil, fmt.Errorf("%w: package magic or version", ErrMalformed)
	}
	h := &header{kem: uint16(r.u16())}
	kdf, aead := uint16(r.u16()), uint16(r.u16())
	if r.err {
		return nil, fmt.Errorf("%w: truncated package", ErrMalformed)
	}
	if encSize(h.kem) == 0 || kdf != KDFHKDFSHA256 || aead != AEADAES256GCM {
		return nil, fmt.Errorf("%w: 0x%04x/0x%04x/0x%04x", ErrUnsupportedSuite, h.kem, kdf, aead)
	}
	h.consentRaw = r.take(r.u16())
	if r.err {
		return nil, fmt.Errorf("%w: truncated package", ErrMalformed)
	}
	var err error
	if h.consent, err = ParseConsent(h.consentRaw); err != nil {
		return nil, err
	}
	h.hdr = pkg[:len(pkg)-len(r.b)]
	h.sealed = r.b
	if len(h.sealed) < encSize(h.kem)+16 {
		return nil, fmt.Errorf("%w: truncated ciphertext", ErrMalformed)
	}
	return h, nil
}

// PackageConsent returns the consent a package claims, without
// authenticating it: for routing and display only. [Open] is the only way
// to trust it.
func PackageConsent(pkg []byte) (Consent, error) {
	h, err := parseHeader(pkg)
	if err != nil {
		return Consent{}, err
	}
	return h.consent, nil
}

// Open is the partner side: it checks that pkg names partnerID, decrypts
// it with the partner's private key, checks the plaintext holds exactly the
// consented attributes under the same consent, and that the consent is in
// force at now (the release time). It returns the attributes only if every
// check passes. Errors: ErrTooLarge, ErrMalformed, ErrUnsupportedSuite,
// ErrWrongPartner, ErrDecrypt (wrong key or any tampering),
// ErrConsentExpired.
func Open(sk hpke.PrivateKey, partnerID string, pkg []byte, now time.Time) (*Disclosed, error) {
	h, err := parseHeader(pkg)
	if err != nil {
		return nil, err
	}
	if h.consent.PartnerID != partnerID {
		return nil, ErrWrongPartner
	}
	if sk.KEM().ID() != h.kem {
		return nil, fmt.Errorf("%w: package sealed for kem 0x%04x", ErrDecrypt, h.kem)
	}
	pt, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(h.hdr), h.sealed)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(pt)
	d, err := parsePlaintext(pt, h.consentRaw)
	if err != nil {
		return nil, err
	}
	if !now.Before(d.Consent.ExpiresAt) {
		return nil, ErrConsentExpired
	}
	return d, nil
}

func parsePlaintext(pt, consentRaw []byte) (*Disclosed, error) {
	bad := fmt.Errorf("%w: plaintext", ErrMalformed)
	r := &reader{b: pt}
	if string(r.take(4)) != plaintextMagic || r.u8() != 1 {
		return nil, bad
	}
	if inner := r.take(r.u16()); r.err || !bytes.Equal(inner, consentRaw) {
		return nil, fmt.Errorf("%w: inner consent differs from the bound consent", ErrMalformed)
	}
	c, err := ParseConsent(consentRaw)
	if err != nil {
		return nil, err
	}
	n := r.u8()
	if r.err || n != len(c.Attributes) {
		return nil, fmt.Errorf("%w: attribute count differs from the consent", ErrMalformed)
	}
	d := &Disclosed{Consent: c, Attributes: make([]Attribute, 0, n)}
	for _, want := range c.Attributes {
		name := string(r.take(r.u8()))
		l := r.u16()
		if r.err || name != want || l > MaxValueLength {
			return nil, fmt.Errorf("%w: attribute %q outside the consent", ErrMalformed, name)
		}
		d.Attributes = append(d.Attributes, Attribute{Name: name, Value: string(r.take(l))})
	}
	if r.err || len(r.b) != 0 {
		return nil, bad
	}
	return d, nil
}
