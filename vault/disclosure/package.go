package disclosure

import (
	"context"
	"crypto/hpke"
	"crypto/subtle"
	"encoding/binary"
	"errors"
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

// Version is the package format version this package writes and opens.
// Version 1 (unsigned) is refused with ErrUnsupportedVersion.
const Version = 2

// PackageIDSize is the size of a package's random identifier.
const PackageIDSize = 16

// DefaultClockSkew is the clock difference between provider and partner
// that [Opener] tolerates when OpenerConfig.ClockSkew is zero: a package is
// in force from its start minus the skew until its end plus the skew.
const DefaultClockSkew = 2 * time.Minute

// MaxClockSkew is the largest OpenerConfig.ClockSkew accepted.
const MaxClockSkew = 15 * time.Minute

const (
	packageMagic   = "PVDS"
	plaintextMagic = "PVDP"
	infoDomain     = "piivault/disclosure/v2/hpke\x00"
	// fixedHeaderSize: magic, version, sig alg, key id, kem, kdf, aead,
	// package id, issued at, expires at.
	fixedHeaderSize = 4 + 1 + 2 + 32 + 2 + 2 + 2 + PackageIDSize + 8 + 8
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

// PackageID is a package's random identifier, unique per package. Partners
// refuse an id they have seen ([ReplayCache]).
type PackageID [PackageIDSize]byte

// String returns the id in lowercase hex.
func (id PackageID) String() string { return fmt.Sprintf("%x", id[:]) }

// Attribute is one released attribute.
type Attribute struct {
	Name  string
	Value string
}

// Disclosed is what a partner gets from a package it opened: the consent
// it was released under, exactly the consented attributes in the consent's
// (sorted) order, and the package's id, signer and validity.
type Disclosed struct {
	Consent    Consent
	Attributes []Attribute
	ID         PackageID
	Signer     Fingerprint // the provider key that signed the package
	IssuedAt   time.Time
	ExpiresAt  time.Time // the package's own end, at or before Consent.ExpiresAt
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

// sealParams is what seal writes besides the consent and values.
type sealParams struct {
	id                  PackageID
	issuedAt, expiresAt time.Time
}

// seal builds and signs a package holding values (keyed by name; exactly
// the consent's names) for the partner key pk.
func seal(s *signer, c Consent, values map[string]string, pk hpke.PublicKey, p sealParams) ([]byte, error) {
	kem := pk.KEM().ID()
	if encSize(kem) == 0 {
		return nil, fmt.Errorf("%w: partner key kem 0x%04x", ErrUnsupportedSuite, kem)
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
	pt = append(pt, Version, byte(len(names)))
	for _, n := range names {
		v, ok := values[n]
		if !ok || len(v) > MaxValueLength {
			clear(pt)
			return nil, fmt.Errorf("%w: a value is missing or too long", ErrAttributesInvalid)
		}
		pt = append(pt, byte(len(n)))
		pt = append(pt, n...)
		pt = binary.BigEndian.AppendUint16(pt, uint16(len(v)))
		pt = append(pt, v...)
	}
	defer clear(pt)

	kid := s.k.fingerprint()
	hdr := make([]byte, 0, fixedHeaderSize+2+len(cb))
	hdr = append(hdr, packageMagic...)
	hdr = append(hdr, Version)
	hdr = binary.BigEndian.AppendUint16(hdr, s.k.alg)
	hdr = append(hdr, kid[:]...)
	hdr = binary.BigEndian.AppendUint16(hdr, kem)
	hdr = binary.BigEndian.AppendUint16(hdr, KDFHKDFSHA256)
	hdr = binary.BigEndian.AppendUint16(hdr, AEADAES256GCM)
	hdr = append(hdr, p.id[:]...)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(p.issuedAt.UnixNano()))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(p.expiresAt.UnixNano()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(cb)))
	hdr = append(hdr, cb...)

	sealed, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(hdr), pt)
	if err != nil {
		return nil, fmt.Errorf("disclosure: hpke seal: %w", err)
	}
	enc, ct := sealed[:encSize(kem)], sealed[encSize(kem):]
	total := len(hdr) + len(enc) + 2 + len(ct) + sigSize(s.k.alg)
	if total > MaxPackageSize {
		return nil, fmt.Errorf("%w: package of %d bytes", ErrTooLarge, total)
	}
	body := make([]byte, 0, total)
	body = append(body, hdr...)
	body = append(body, enc...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ct)))
	body = append(body, ct...)
	sig, err := s.sign(body)
	if err != nil {
		return nil, err
	}
	return append(body, sig...), nil
}

func info(hdr []byte) []byte {
	return append([]byte(infoDomain), hdr...)
}

// parsed is a package split into its fields; nothing in it is
// authenticated until verify has succeeded.
type parsed struct {
	alg                 uint16
	keyID               Fingerprint
	kem                 uint16
	id                  PackageID
	issuedAt, expiresAt time.Time
	consentRaw          []byte
	hdr                 []byte // magic .. end of consent (HPKE info)
	sealed              []byte // enc || ciphertext (HPKE input)
	body                []byte // everything before the signature (signed)
	sig                 []byte
}

// parsePackage checks the layout of pkg (FORMAT.md, section 5.1, steps 1 to
// 4) and splits it. It reads lengths only: the consent's contents are
// parsed after the signature is verified.
func parsePackage(pkg []byte) (*parsed, error) {
	if len(pkg) > MaxPackageSize {
		return nil, fmt.Errorf("%w: package over %d bytes", ErrTooLarge, MaxPackageSize)
	}
	r := &reader{b: pkg}
	if string(r.take(4)) != packageMagic {
		return nil, fmt.Errorf("%w: package magic", ErrMalformed)
	}
	switch v := r.u8(); {
	case r.err:
		return nil, fmt.Errorf("%w: truncated package", ErrMalformed)
	case v != Version:
		return nil, fmt.Errorf("%w: package version %d", ErrUnsupportedVersion, v)
	}
	p := &parsed{alg: uint16(r.u16())}
	copy(p.keyID[:], r.take(32))
	p.kem = uint16(r.u16())
	kdf, aead := uint16(r.u16()), uint16(r.u16())
	if r.err {
		return nil, fmt.Errorf("%w: truncated package", ErrMalformed)
	}
	if sigSize(p.alg) == 0 || encSize(p.kem) == 0 || kdf != KDFHKDFSHA256 || aead != AEADAES256GCM {
		return nil, fmt.Errorf("%w: 0x%04x/0x%04x/0x%04x/0x%04x", ErrUnsupportedSuite, p.alg, p.kem, kdf, aead)
	}
	copy(p.id[:], r.take(PackageIDSize))
	p.issuedAt = time.Unix(0, int64(r.u64())).UTC()
	p.expiresAt = time.Unix(0, int64(r.u64())).UTC()
	p.consentRaw = r.take(r.u16())
	p.hdr = pkg[:len(pkg)-len(r.b)]
	enc := r.take(encSize(p.kem))
	ctLen := r.u16()
	ct := r.take(ctLen)
	p.body = pkg[:len(pkg)-len(r.b)]
	p.sig = r.take(sigSize(p.alg))
	if r.err {
		return nil, fmt.Errorf("%w: truncated package", ErrMalformed)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes after the signature", ErrMalformed)
	}
	if ctLen < 16 {
		return nil, fmt.Errorf("%w: ciphertext shorter than its tag", ErrMalformed)
	}
	// HPKE takes enc || ct contiguous; drop the length field between them.
	p.sealed = append(append(make([]byte, 0, len(enc)+len(ct)), enc...), ct...)
	return p, nil
}

// PackageConsent returns the consent a package claims, without
// authenticating it: for routing and display only. [Opener.Open] is the only
// way to trust it.
func PackageConsent(pkg []byte) (Consent, error) {
	p, err := parsePackage(pkg)
	if err != nil {
		return Consent{}, err
	}
	return ParseConsent(p.consentRaw)
}

// OpenerConfig configures a partner's [Opener].
type OpenerConfig struct {
	// PartnerID is this partner's id; a package whose consent names another
	// is refused.
	PartnerID string
	// Key is this partner's HPKE private key (any supported KEM; it may be
	// an ecdh.KeyExchanger held in an HSM, through hpke.NewDHKEMPrivateKey).
	Key hpke.PrivateKey
	// Providers are the identity provider keys this partner trusts, each
	// pinned by fingerprint ([PinProviderKey]); more than one during a
	// rotation. At least one.
	Providers []*ProviderKey
	// Replay records the ids of packages opened, and refuses one seen
	// before. Required; NewMemoryReplayCache for one process.
	Replay ReplayCache
	// ClockSkew is the clock difference tolerated at both ends of a
	// package's validity: zero means DefaultClockSkew (2 minutes), at most
	// MaxClockSkew.
	ClockSkew time.Duration
}

// Opener is the partner side. It is safe for concurrent use if its
// ReplayCache is.
type Opener struct {
	partnerID string
	key       hpke.PrivateKey
	keyFP     Fingerprint
	providers []*ProviderKey
	replay    ReplayCache
	skew      time.Duration
}

// NewOpener checks cfg and returns an Opener.
func NewOpener(cfg OpenerConfig) (*Opener, error) {
	if cfg.PartnerID == "" || len(cfg.PartnerID) > MaxPartnerIDLength || !printable(cfg.PartnerID) {
		return nil, fmt.Errorf("%w: partner id must be 1 to 255 bytes of printable ASCII", ErrInvalidConsent)
	}
	if cfg.Key == nil {
		return nil, fmt.Errorf("%w: partner key is required", ErrInvalidKey)
	}
	fp, err := PartnerFingerprint(cfg.Key.PublicKey())
	if err != nil {
		return nil, err
	}
	if len(cfg.Providers) == 0 {
		return nil, fmt.Errorf("%w: at least one pinned provider key is required", ErrInvalidKey)
	}
	for _, p := range cfg.Providers {
		if p == nil || p.k == nil {
			return nil, fmt.Errorf("%w: nil provider key (use PinProviderKey)", ErrInvalidKey)
		}
	}
	if cfg.Replay == nil {
		return nil, errors.New("disclosure: OpenerConfig.Replay is required (NewMemoryReplayCache for one process)")
	}
	skew := cfg.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	}
	if skew < 0 || skew > MaxClockSkew {
		return nil, fmt.Errorf("disclosure: clock skew must be 0 to %v", MaxClockSkew)
	}
	return &Opener{
		partnerID: cfg.PartnerID, key: cfg.Key, keyFP: fp,
		providers: append([]*ProviderKey(nil), cfg.Providers...), replay: cfg.Replay, skew: skew,
	}, nil
}

// Fingerprint returns the fingerprint of this partner's public key, which
// the provider's consents must name.
func (o *Opener) Fingerprint() Fingerprint { return o.keyFP }

// Open verifies and opens pkg, the answer to this partner's request whose
// nonce is nonce, at time now (the partner's clock). In this order (FORMAT.md,
// section 5.1) it refuses: a package over MaxPackageSize (ErrTooLarge);
// malformed bytes (ErrMalformed); a version other than 2, including every
// unsigned version-1 package (ErrUnsupportedVersion); an unknown suite
// (ErrUnsupportedSuite); a signer key id that is not one of the pinned
// provider keys (ErrWrongSigner); a signature that does not verify
// (ErrForged) — all before anything is decrypted or the consent is read —
// then a consent naming another partner or partner key (ErrWrongPartner),
// another nonce (ErrNonce), a package not yet in force (ErrNotYetValid) or
// ended (ErrExpired), both with the clock skew allowance, a package that
// does not decrypt (ErrDecrypt) or holds anything but the consented
// attributes (ErrMalformed), and last a package id the ReplayCache has seen
// (ErrReplay). It returns the attributes only if every check passes.
func (o *Opener) Open(ctx context.Context, pkg []byte, nonce string, now time.Time) (*Disclosed, error) {
	p, err := parsePackage(pkg)
	if err != nil {
		return nil, err
	}
	var pk *ProviderKey
	for _, k := range o.providers {
		if k.k.alg == p.alg && subtle.ConstantTimeCompare(k.fp[:], p.keyID[:]) == 1 {
			pk = k
		}
	}
	if pk == nil {
		return nil, ErrWrongSigner
	}
	if !pk.k.verify(p.body, p.sig) {
		return nil, ErrForged
	}
	// From here on every byte is the provider's.
	c, err := ParseConsent(p.consentRaw)
	if err != nil {
		return nil, err
	}
	if c.PartnerID != o.partnerID || subtle.ConstantTimeCompare(c.PartnerKey[:], o.keyFP[:]) != 1 || p.kem != o.key.KEM().ID() {
		return nil, ErrWrongPartner
	}
	if len(nonce) == 0 || subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return nil, ErrNonce
	}
	if !p.expiresAt.After(p.issuedAt) || p.issuedAt.Before(c.GivenAt) || p.expiresAt.After(c.ExpiresAt) {
		return nil, fmt.Errorf("%w: package validity outside the consent", ErrMalformed)
	}
	if now.Add(o.skew).Before(p.issuedAt) { // issuedAt >= GivenAt
		return nil, ErrNotYetValid
	}
	if !now.Add(-o.skew).Before(p.expiresAt) { // expiresAt <= ExpiresAt
		return nil, ErrExpired
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pt, err := hpke.Open(o.key, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), p.sealed)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(pt)
	attrs, err := parsePlaintext(pt, c.Attributes)
	if err != nil {
		return nil, err
	}
	if err := o.replay.Use(ctx, p.id, now, p.expiresAt.Add(o.skew)); err != nil {
		return nil, err
	}
	return &Disclosed{Consent: c, Attributes: attrs, ID: p.id, Signer: pk.fp, IssuedAt: p.issuedAt, ExpiresAt: p.expiresAt}, nil
}

func parsePlaintext(pt []byte, names []string) ([]Attribute, error) {
	bad := fmt.Errorf("%w: plaintext", ErrMalformed)
	r := &reader{b: pt}
	if string(r.take(4)) != plaintextMagic || r.u8() != Version {
		return nil, bad
	}
	if n := r.u8(); r.err || n != len(names) {
		return nil, fmt.Errorf("%w: attribute count differs from the consent", ErrMalformed)
	}
	out := make([]Attribute, 0, len(names))
	for _, want := range names {
		name := r.take(r.u8())
		l := r.u16()
		if r.err || string(name) != want || l > MaxValueLength {
			return nil, fmt.Errorf("%w: attribute outside the consent", ErrMalformed)
		}
		out = append(out, Attribute{Name: want, Value: string(r.take(l))})
	}
	if r.err || len(r.b) != 0 {
		return nil, bad
	}
	return out, nil
}
