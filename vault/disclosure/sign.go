package disclosure

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Signature algorithms of the identity provider's key (FORMAT.md, section 1).
const (
	SigEd25519         uint16 = 0x0001 // Ed25519 (RFC 8032, pure): the default
	SigECDSAP256SHA256 uint16 = 0x0002 // ECDSA P-256 with SHA-256 (FIPS 186-5), r||s, low s
	SigEd25519MLDSA65  uint16 = 0x0003 // Ed25519 and ML-DSA-65 (FIPS 204), both must verify
)

const (
	ed25519SigSize            = ed25519.SignatureSize
	ecdsaSigSize              = 64
	hybridSigSize             = ed25519.SignatureSize + mldsa65.SignatureSize
	hybridPublicKeySize       = ed25519.PublicKeySize + mldsa65.PublicKeySize
	signatureDomain           = "piivault/disclosure/v2/signature\x00"
	partnerFingerprintDomain  = "piivault/disclosure/v2/partner-key\x00"
	providerFingerprintDomain = "piivault/disclosure/v2/provider-key\x00"
)

// sigSize returns the signature size of a supported algorithm, or 0.
func sigSize(alg uint16) int {
	switch alg {
	case SigEd25519:
		return ed25519SigSize
	case SigECDSAP256SHA256:
		return ecdsaSigSize
	case SigEd25519MLDSA65:
		return hybridSigSize
	}
	return 0
}

// Fingerprint identifies a key: SHA-256 over a domain string, the key's
// algorithm and its public bytes (FORMAT.md, section 2). Partners pin the
// provider's key by its fingerprint; a consent names the partner key it was
// sealed to by its fingerprint.
type Fingerprint [32]byte

// String returns the fingerprint in lowercase hex.
func (f Fingerprint) String() string { return fmt.Sprintf("%x", f[:]) }

func fingerprint(domain string, alg uint16, pub []byte) Fingerprint {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(binary.BigEndian.AppendUint16(nil, alg))
	h.Write(pub)
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// PartnerFingerprint returns the fingerprint of a partner's HPKE public key
// (of a supported KEM), as a consent carries it.
func PartnerFingerprint(pub hpke.PublicKey) (Fingerprint, error) {
	if pub == nil || encSize(pub.KEM().ID()) == 0 {
		return Fingerprint{}, fmt.Errorf("%w: partner key", ErrUnsupportedSuite)
	}
	return fingerprint(partnerFingerprintDomain, pub.KEM().ID(), pub.Bytes()), nil
}

// HybridPublicKey is the public half of an Ed25519 + ML-DSA-65 provider
// key ([SigEd25519MLDSA65]).
type HybridPublicKey struct {
	Ed25519 ed25519.PublicKey
	MLDSA65 *mldsa65.PublicKey
}

// Bytes returns the Ed25519 key (32 bytes) followed by the ML-DSA-65 key
// (1952 bytes).
func (k *HybridPublicKey) Bytes() []byte {
	return append(append(make([]byte, 0, hybridPublicKeySize), k.Ed25519...), k.MLDSA65.Bytes()...)
}

// ParseHybridPublicKey parses the output of [HybridPublicKey.Bytes].
func ParseHybridPublicKey(b []byte) (*HybridPublicKey, error) {
	if len(b) != hybridPublicKeySize {
		return nil, fmt.Errorf("%w: hybrid public key of %d bytes", ErrInvalidKey, len(b))
	}
	ml := new(mldsa65.PublicKey)
	if err := ml.UnmarshalBinary(b[ed25519.PublicKeySize:]); err != nil {
		return nil, fmt.Errorf("%w: ML-DSA-65 public key", ErrInvalidKey)
	}
	return &HybridPublicKey{Ed25519: ed25519.PublicKey(append([]byte(nil), b[:ed25519.PublicKeySize]...)), MLDSA65: ml}, nil
}

// HybridSigner signs with an Ed25519 key and an ML-DSA-65 key, each a
// crypto.Signer (either may live in an HSM). It is a crypto.Signer whose
// Public is a *[HybridPublicKey] and whose signature is the Ed25519
// signature followed by the ML-DSA-65 signature (pure, empty context) over
// the same message.
type HybridSigner struct {
	ed, ml crypto.Signer
	pub    *HybridPublicKey
}

// NewHybridSigner pairs ed (Public an ed25519.PublicKey) and ml (Public a
// *mldsa65.PublicKey, e.g. a *mldsa65.PrivateKey).
func NewHybridSigner(ed, ml crypto.Signer) (*HybridSigner, error) {
	if ed == nil || ml == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrInvalidKey)
	}
	ep, ok := ed.Public().(ed25519.PublicKey)
	if !ok || len(ep) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: first signer is not Ed25519", ErrInvalidKey)
	}
	mp, ok := ml.Public().(*mldsa65.PublicKey)
	if !ok || mp == nil {
		return nil, fmt.Errorf("%w: second signer is not ML-DSA-65", ErrInvalidKey)
	}
	return &HybridSigner{ed: ed, ml: ml, pub: &HybridPublicKey{Ed25519: ep, MLDSA65: mp}}, nil
}

// Public returns the *HybridPublicKey.
func (h *HybridSigner) Public() crypto.PublicKey { return h.pub }

// Sign signs msg (not a digest: opts must be crypto.Hash(0)) with both keys.
func (h *HybridSigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != 0 {
		return nil, errors.New("disclosure: hybrid signer signs messages, not digests")
	}
	s1, err := h.ed.Sign(r, msg, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	s2, err := h.ml.Sign(r, msg, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	if len(s1) != ed25519SigSize || len(s2) != mldsa65.SignatureSize {
		return nil, errors.New("disclosure: hybrid signer: signature of the wrong size")
	}
	return append(s1, s2...), nil
}

// providerKey is a provider public key of a supported algorithm.
type providerKey struct {
	alg   uint16
	bytes []byte
	ed    ed25519.PublicKey
	ec    *ecdsa.PublicKey
	ml    *mldsa65.PublicKey
}

func newProviderKey(pub crypto.PublicKey) (*providerKey, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrInvalidKey, len(k))
		}
		return &providerKey{alg: SigEd25519, bytes: append([]byte(nil), k...), ed: k}, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key not on P-256", ErrInvalidKey)
		}
		b, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: ECDSA key: %w", ErrInvalidKey, err)
		}
		return &providerKey{alg: SigECDSAP256SHA256, bytes: b, ec: k}, nil
	case *HybridPublicKey:
		if k == nil || len(k.Ed25519) != ed25519.PublicKeySize || k.MLDSA65 == nil {
			return nil, fmt.Errorf("%w: hybrid key incomplete", ErrInvalidKey)
		}
		return &providerKey{alg: SigEd25519MLDSA65, bytes: k.Bytes(), ed: k.Ed25519, ml: k.MLDSA65}, nil
	}
	return nil, fmt.Errorf("%w: provider key of type %T (want ed25519.PublicKey, *ecdsa.PublicKey on P-256 or *disclosure.HybridPublicKey)", ErrInvalidKey, pub)
}

func (k *providerKey) fingerprint() Fingerprint {
	return fingerprint(providerFingerprintDomain, k.alg, k.bytes)
}

// ProviderFingerprint returns the fingerprint of an identity provider's
// public key: ed25519.PublicKey, *ecdsa.PublicKey (P-256) or
// *HybridPublicKey. The provider publishes it; partners pin it.
func ProviderFingerprint(pub crypto.PublicKey) (Fingerprint, error) {
	k, err := newProviderKey(pub)
	if err != nil {
		return Fingerprint{}, err
	}
	return k.fingerprint(), nil
}

// ProviderKey is a provider public key a partner trusts: its fingerprint
// was checked against the pinned one.
type ProviderKey struct {
	k  *providerKey
	fp Fingerprint
}

// PinProviderKey returns the provider key pub if its fingerprint equals
// pinned (compared in constant time), and an error wrapping ErrWrongSigner
// if not. Partners obtain pinned out of band (the partner agreement), and
// the key itself from wherever is convenient.
func PinProviderKey(pub crypto.PublicKey, pinned Fingerprint) (*ProviderKey, error) {
	k, err := newProviderKey(pub)
	if err != nil {
		return nil, err
	}
	fp := k.fingerprint()
	if subtle.ConstantTimeCompare(fp[:], pinned[:]) != 1 {
		return nil, fmt.Errorf("%w: key does not match the pinned fingerprint", ErrWrongSigner)
	}
	return &ProviderKey{k: k, fp: fp}, nil
}

// Fingerprint returns the key's (pinned) fingerprint.
func (p *ProviderKey) Fingerprint() Fingerprint { return p.fp }

// Algorithm returns the key's signature algorithm (SigXxx).
func (p *ProviderKey) Algorithm() uint16 { return p.k.alg }

func signedMessage(body []byte) []byte {
	return append([]byte(signatureDomain), body...)
}

// verify checks sig over body (the package bytes before the signature).
func (k *providerKey) verify(body, sig []byte) bool {
	msg := signedMessage(body)
	switch k.alg {
	case SigEd25519:
		return len(sig) == ed25519SigSize && ed25519.Verify(k.ed, msg, sig)
	case SigECDSAP256SHA256:
		if len(sig) != ecdsaSigSize {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if s.Cmp(halfOrder) > 0 { // high s: the other spelling of a signature
			return false
		}
		d := sha256.Sum256(msg)
		return ecdsa.Verify(k.ec, d[:], r, s)
	case SigEd25519MLDSA65:
		if len(sig) != hybridSigSize {
			return false
		}
		// Both must verify. Everything here is public, so the cheaper
		// check runs first and a failure stops there.
		return ed25519.Verify(k.ed, msg, sig[:ed25519SigSize]) &&
			mldsa65.Verify(k.ml, msg, nil, sig[ed25519SigSize:])
	}
	return false
}

var (
	p256Order = elliptic.P256().Params().N
	halfOrder = new(big.Int).Rsh(p256Order, 1)
)

// signer wraps the provider's crypto.Signer.
type signer struct {
	s crypto.Signer
	k *providerKey
}

func newSigner(s crypto.Signer) (*signer, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: Config.Signer is required", ErrInvalidKey)
	}
	k, err := newProviderKey(s.Public())
	if err != nil {
		return nil, err
	}
	return &signer{s: s, k: k}, nil
}

// sign signs body and returns the signature in the wire encoding of the
// key's algorithm. The signature is verified before it is returned, so a
// faulty signer (or HSM) cannot emit a package partners would refuse.
func (s *signer) sign(body []byte) ([]byte, error) {
	msg := signedMessage(body)
	var sig []byte
	switch s.k.alg {
	case SigEd25519, SigEd25519MLDSA65:
		out, err := s.s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("disclosure: signing: %w", err)
		}
		sig = out
	case SigECDSAP256SHA256:
		d := sha256.Sum256(msg)
		der, err := s.s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("disclosure: signing: %w", err)
		}
		if sig, err = ecdsaRawLowS(der); err != nil {
			return nil, err
		}
	}
	if !s.k.verify(body, sig) {
		return nil, errors.New("disclosure: the signer returned a signature that does not verify")
	}
	return sig, nil
}

// ecdsaRawLowS converts an ASN.1 DER ECDSA signature (what a crypto.Signer
// returns) into r||s, 32 bytes each, with s replaced by n-s when above n/2.
func ecdsaRawLowS(der []byte) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 ||
		v.R.Cmp(p256Order) >= 0 || v.S.Cmp(p256Order) >= 0 {
		return nil, errors.New("disclosure: the signer returned a malformed ECDSA signature")
	}
	s := v.S
	if s.Cmp(halfOrder) > 0 {
		s = new(big.Int).Sub(p256Order, s)
	}
	out := make([]byte, 64)
	v.R.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}
