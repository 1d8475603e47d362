package escrow

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/piivault/piivault/envelope"
)

// TypeHPKE is the stanza type of an HPKE escrow stanza.
const TypeHPKE = "hpke"

// Suite is an HPKE KEM identifier (RFC 9180 section 7.1, draft-ietf-hpke-pq).
// Every suite uses HKDF-SHA256 and AES-256-GCM for the HPKE key schedule
// and AEAD.
type Suite uint16

// Supported suites.
const (
	// SuiteP256 is DHKEM(P-256, HKDF-SHA256): the suite for a private key
	// held in a PKCS#11 HSM (CKM_ECDH1_DERIVE) or any ecdh.KeyExchanger.
	SuiteP256 Suite = 0x0010
	// SuiteX25519 is DHKEM(X25519, HKDF-SHA256).
	SuiteX25519 Suite = 0x0020
	// SuiteMLKEM768X25519 is the hybrid ML-KEM-768 + X25519 KEM (X-Wing):
	// confidential unless both ML-KEM-768 and X25519 are broken.
	SuiteMLKEM768X25519 Suite = 0x647a
)

// encSize is the length of the encapsulated key of each suite.
func (s Suite) encSize() int {
	switch s {
	case SuiteP256:
		return 65
	case SuiteX25519:
		return 32
	case SuiteMLKEM768X25519:
		return 1120
	}
	return 0
}

func (s Suite) kem() (hpke.KEM, error) {
	switch s {
	case SuiteP256:
		return hpke.DHKEM(ecdh.P256()), nil
	case SuiteX25519:
		return hpke.DHKEM(ecdh.X25519()), nil
	case SuiteMLKEM768X25519:
		return hpke.MLKEM768X25519(), nil
	}
	return nil, fmt.Errorf("escrow: suite 0x%04x: %w", uint16(s), ErrUnsupportedSuite)
}

// String names the suite.
func (s Suite) String() string {
	switch s {
	case SuiteP256:
		return "DHKEM(P-256)"
	case SuiteX25519:
		return "DHKEM(X25519)"
	case SuiteMLKEM768X25519:
		return "MLKEM768-X25519"
	}
	return fmt.Sprintf("suite(0x%04x)", uint16(s))
}

// wrappedKeySize is the HPKE ciphertext of an account key: key + GCM tag.
const wrappedKeySize = envelope.KeySize + 16

// hpkeInfoLabel starts the HPKE info string of every escrow stanza.
const hpkeInfoLabel = "piivault/escrow/v1/hpke"

// Fingerprint identifies an escrow public key: SHA-256 of the suite id
// (2 bytes, big endian) followed by the serialized public key. It is the
// stanza's key id and the value a deployment pins in its configuration.
type Fingerprint [32]byte

// String returns the fingerprint in lowercase hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// ParseFingerprint parses the 64-hex-digit form String returns.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	if len(s) != 2*len(f) {
		return f, fmt.Errorf("escrow: fingerprint of %d characters, want %d: %w", len(s), 2*len(f), ErrInvalidKey)
	}
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return f, fmt.Errorf("escrow: fingerprint: %w", ErrInvalidKey)
	}
	return f, nil
}

// FingerprintOf returns the fingerprint of pub, or an error for a KEM this
// package does not support.
func FingerprintOf(pub hpke.PublicKey) (Fingerprint, error) {
	if pub == nil {
		return Fingerprint{}, fmt.Errorf("escrow: nil public key: %w", ErrInvalidKey)
	}
	s := Suite(pub.KEM().ID())
	if s.encSize() == 0 {
		return Fingerprint{}, fmt.Errorf("escrow: kem 0x%04x: %w", uint16(s), ErrUnsupportedSuite)
	}
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(s)))
	h.Write(pub.Bytes())
	var f Fingerprint
	h.Sum(f[:0])
	return f, nil
}

func checkPurpose(purpose string) error {
	if len(purpose) == 0 || len(purpose) > 255 {
		return fmt.Errorf("escrow: purpose must be 1..255 bytes: %w", ErrInvalidPurpose)
	}
	return nil
}

// hpkeInfo is the HPKE info of a stanza: label, suite, key id, purpose and
// binding, each variable field length-prefixed (an injective encoding).
// The envelope format version is part of the label.
func hpkeInfo(s Suite, fp Fingerprint, purpose string, b envelope.Binding) []byte {
	info := make([]byte, 0, len(hpkeInfoLabel)+2+2+len(fp)+1+len(purpose)+2+len(b.UserID)+len(b.Label))
	info = append(info, byte(len(hpkeInfoLabel)))
	info = append(info, hpkeInfoLabel...)
	info = binary.BigEndian.AppendUint16(info, uint16(s))
	info = append(info, byte(len(fp)))
	info = append(info, fp[:]...)
	info = append(info, byte(len(purpose)))
	info = append(info, purpose...)
	info = append(info, byte(len(b.UserID)))
	info = append(info, b.UserID...)
	info = append(info, byte(len(b.Label)))
	return append(info, b.Label...)
}

func checkBinding(b envelope.Binding) error {
	if len(b.UserID) == 0 || len(b.UserID) > envelope.MaxBindingField ||
		len(b.Label) == 0 || len(b.Label) > envelope.MaxBindingField {
		return fmt.Errorf("escrow: binding fields must be 1..%d bytes: %w", envelope.MaxBindingField, envelope.ErrInvalidBinding)
	}
	return nil
}

// Recipient seals account keys to a pinned escrow public key with HPKE
// (RFC 9180, base mode, HKDF-SHA256, AES-256-GCM). Wrapping needs the public
// key only: no KMS or HSM call. It implements envelope.Recipient.
//
// Its stanza is "hpke" with the key's Fingerprint as key id and, as body,
// the suite id (2 bytes) || enc || HPKE ciphertext of the 32-byte key. The
// HPKE info binds the escrow format version, the suite, the fingerprint,
// the purpose, the user id and the label, so a stanza moved to another
// user, label or purpose does not open.
type Recipient struct {
	pub     hpke.PublicKey
	suite   Suite
	fp      Fingerprint
	purpose string
}

// NewRecipient returns a Recipient for pub, which must have fingerprint
// pinned (compare FingerprintOf output out of band, e.g. in the deployment's
// configuration): a substituted public key is refused with
// ErrFingerprintMismatch. purpose (1..255 bytes, e.g. "account-recovery") is
// bound into every stanza; the Identity must name the same purpose.
func NewRecipient(pub hpke.PublicKey, pinned Fingerprint, purpose string) (*Recipient, error) {
	fp, err := FingerprintOf(pub)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(fp[:], pinned[:]) != 1 {
		return nil, fmt.Errorf("escrow: public key has fingerprint %s, pinned %s: %w", fp, pinned, ErrFingerprintMismatch)
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	return &Recipient{pub: pub, suite: Suite(pub.KEM().ID()), fp: fp, purpose: purpose}, nil
}

// Fingerprint returns the fingerprint of the recipient's public key.
func (r *Recipient) Fingerprint() Fingerprint { return r.fp }

// Owns reports whether s is a stanza this recipient writes (type and key id).
func (r *Recipient) Owns(s *envelope.Stanza) bool {
	return s != nil && s.Type == TypeHPKE && bytes.Equal(s.KeyID, r.fp[:])
}

// Wrap implements envelope.Recipient: one HPKE seal, no network call.
func (r *Recipient) Wrap(ctx context.Context, key []byte, b envelope.Binding) ([]*envelope.Stanza, error) {
	if len(key) != envelope.KeySize {
		return nil, fmt.Errorf("escrow: key of %d bytes: %w", len(key), envelope.ErrInvalidKey)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	ct, err := hpke.Seal(r.pub, hpke.HKDFSHA256(), hpke.AES256GCM(), hpkeInfo(r.suite, r.fp, r.purpose, b), key)
	if err != nil {
		return nil, fmt.Errorf("escrow: hpke seal: %w", err)
	}
	body := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(ct)), uint16(r.suite))
	body = append(body, ct...)
	return []*envelope.Stanza{{Type: TypeHPKE, KeyID: append([]byte(nil), r.fp[:]...), Body: body}}, nil
}

// Identity opens HPKE escrow stanzas with the private half of an escrow
// key. The private key is any hpke.PrivateKey: one from GenerateKey or
// ParsePrivateKey (in memory), or one built with hpke.NewDHKEMPrivateKey
// around an ecdh.KeyExchanger held in an HSM (see NewKeyExchangerIdentity).
// It implements envelope.Identity.
type Identity struct {
	priv    hpke.PrivateKey
	suite   Suite
	fp      Fingerprint
	purpose string
}

// NewIdentity returns an Identity for priv and purpose (the purpose the
// stanzas were written with).
func NewIdentity(priv hpke.PrivateKey, purpose string) (*Identity, error) {
	if priv == nil {
		return nil, fmt.Errorf("escrow: nil private key: %w", ErrInvalidKey)
	}
	fp, err := FingerprintOf(priv.PublicKey())
	if err != nil {
		return nil, err
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	return &Identity{priv: priv, suite: Suite(priv.KEM().ID()), fp: fp, purpose: purpose}, nil
}

// NewKeyExchangerIdentity returns an Identity whose DHKEM private key is kx,
// for example an EC P-256 key in a PKCS#11 token that performs ECDH itself:
// the private scalar never leaves it. The suite follows kx's curve.
func NewKeyExchangerIdentity(kx ecdh.KeyExchanger, purpose string) (*Identity, error) {
	if kx == nil {
		return nil, fmt.Errorf("escrow: nil key exchanger: %w", ErrInvalidKey)
	}
	priv, err := hpke.NewDHKEMPrivateKey(kx)
	if err != nil {
		return nil, fmt.Errorf("escrow: %w: %w", ErrUnsupportedSuite, err)
	}
	return NewIdentity(priv, purpose)
}

// Fingerprint returns the fingerprint of the identity's public key.
func (id *Identity) Fingerprint() Fingerprint { return id.fp }

// PublicKey returns the public half, to build a Recipient.
func (id *Identity) PublicKey() hpke.PublicKey { return id.priv.PublicKey() }

// Unwrap implements envelope.Identity. It tries each "hpke" stanza whose key
// id is its fingerprint. A stanza for it that does not open (altered, or
// moved to another user, label or purpose) gives an error wrapping both
// envelope.ErrNoMatch and ErrStanzaOpen; none for it gives ErrNoMatch.
// The returned key is the caller's to clear.
func (id *Identity) Unwrap(ctx context.Context, stanzas []*envelope.Stanza, b envelope.Binding) ([]byte, error) {
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	tried := false
	for _, s := range stanzas {
		if s == nil || s.Type != TypeHPKE || !bytes.Equal(s.KeyID, id.fp[:]) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("escrow: %w", err)
		}
		tried = true
		if len(s.Body) != 2+id.suite.encSize()+wrappedKeySize || Suite(binary.BigEndian.Uint16(s.Body)) != id.suite {
			continue
		}
		key, err := hpke.Open(id.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), hpkeInfo(id.suite, id.fp, id.purpose, b), s.Body[2:])
		if err != nil || len(key) != envelope.KeySize {
			clear(key)
			continue
		}
		return key, nil
	}
	if tried {
		return nil, fmt.Errorf("escrow: hpke stanza for %s: %w: %w", id.fp, ErrStanzaOpen, envelope.ErrNoMatch)
	}
	return nil, fmt.Errorf("escrow: no hpke stanza for %s: %w", id.fp, envelope.ErrNoMatch)
}

// GenerateKey returns a fresh in-memory escrow private key of suite s.
func GenerateKey(s Suite) (hpke.PrivateKey, error) {
	kem, err := s.kem()
	if err != nil {
		return nil, err
	}
	priv, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("escrow: generating key: %w", err)
	}
	return priv, nil
}

// PEM block types of the key files.
const (
	pemPrivate = "PIIVAULT ESCROW PRIVATE KEY"
	pemPublic  = "PIIVAULT ESCROW PUBLIC KEY"
)

// MarshalPrivateKey encodes an in-memory private key as a PEM block
// ("PIIVAULT ESCROW PRIVATE KEY": suite id || RFC 9180 SerializePrivateKey).
// A key held in hardware cannot be marshaled and returns an error. The
// result is secret: store it as such and clear it after use.
func MarshalPrivateKey(priv hpke.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("escrow: nil private key: %w", ErrInvalidKey)
	}
	s := Suite(priv.KEM().ID())
	if s.encSize() == 0 {
		return nil, fmt.Errorf("escrow: kem 0x%04x: %w", uint16(s), ErrUnsupportedSuite)
	}
	kb, err := priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("escrow: private key cannot be exported: %w", err)
	}
	defer clear(kb)
	body := binary.BigEndian.AppendUint16(nil, uint16(s))
	body = append(body, kb...)
	defer clear(body)
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: body}), nil
}

// maxKeyFile bounds what ParsePrivateKey and ParsePublicKey read.
const maxKeyFile = 8192

// ParsePrivateKey parses what MarshalPrivateKey wrote.
func ParsePrivateKey(data []byte) (hpke.PrivateKey, error) {
	s, kb, err := parseKeyPEM(data, pemPrivate)
	if err != nil {
		return nil, err
	}
	defer clear(kb)
	kem, err := s.kem()
	if err != nil {
		return nil, err
	}
	priv, err := kem.NewPrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("escrow: private key: %w: %w", ErrInvalidKey, err)
	}
	return priv, nil
}

// MarshalPublicKey encodes pub as a PEM block ("PIIVAULT ESCROW PUBLIC
// KEY": suite id || RFC 9180 SerializePublicKey).
func MarshalPublicKey(pub hpke.PublicKey) ([]byte, error) {
	if _, err := FingerprintOf(pub); err != nil {
		return nil, err
	}
	body := binary.BigEndian.AppendUint16(nil, pub.KEM().ID())
	body = append(body, pub.Bytes()...)
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: body}), nil
}

// ParsePublicKey parses what MarshalPublicKey wrote. Pin the result with
// NewRecipient before use.
func ParsePublicKey(data []byte) (hpke.PublicKey, error) {
	s, kb, err := parseKeyPEM(data, pemPublic)
	if err != nil {
		return nil, err
	}
	kem, err := s.kem()
	if err != nil {
		return nil, err
	}
	pub, err := kem.NewPublicKey(kb)
	if err != nil {
		return nil, fmt.Errorf("escrow: public key: %w: %w", ErrInvalidKey, err)
	}
	return pub, nil
}

func parseKeyPEM(data []byte, typ string) (Suite, []byte, error) {
	if len(data) > maxKeyFile {
		return 0, nil, fmt.Errorf("escrow: key file of %d bytes, limit %d: %w", len(data), maxKeyFile, ErrInvalidKey)
	}
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != typ || len(bytes.TrimSpace(rest)) != 0 || len(blk.Headers) != 0 {
		return 0, nil, fmt.Errorf("escrow: not a single %q PEM block: %w", typ, ErrInvalidKey)
	}
	if len(blk.Bytes) < 3 {
		clear(blk.Bytes)
		return 0, nil, fmt.Errorf("escrow: key file too short: %w", ErrInvalidKey)
	}
	return Suite(binary.BigEndian.Uint16(blk.Bytes)), blk.Bytes[2:], nil
}
