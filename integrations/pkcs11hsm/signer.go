package pkcs11hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"
)

// ECDSASigner is an EC P-256 private key held in the token, used as a
// crypto.Signer with CKM_ECDSA: the caller hashes (SHA-256), the token
// signs the digest, and the private scalar never leaves the token. It is
// what vault/disclosure takes as an HSM-held provider key
// (disclosure.Config.Signer, algorithm ECDSA P-256/SHA-256).
type ECDSASigner struct {
	t    *Token
	priv pkcs11.ObjectHandle
	pub  *ecdsa.PublicKey
}

// ECDSASigner finds the P-256 key pair labelled label (a private key with
// CKA_SIGN, e.g. made with pkcs11-tool --keypairgen --key-type
// EC:prime256v1 --usage-sign, and its public key object).
func (t *Token) ECDSASigner(label string) (*ECDSASigner, error) {
	k, err := t.ECKey(label) // finds both objects, checks the curve, reads the point
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.PublicKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: public key of %q: %w", label, err)
	}
	return &ECDSASigner{t: t, priv: k.priv, pub: pub}, nil
}

// Public implements crypto.Signer: the *ecdsa.PublicKey, read from the
// token once.
func (s *ECDSASigner) Public() crypto.PublicKey { return s.pub }

// Sign implements crypto.Signer. digest must be a SHA-256 digest (opts
// crypto.SHA256); the token signs it with CKM_ECDSA (C_SignInit, C_Sign),
// and the raw r||s it returns is encoded as ASN.1 DER, as
// crypto/ecdsa's signers do. rand is not used: the token draws the nonce.
func (s *ECDSASigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, errors.New("pkcs11hsm: ECDSASigner signs SHA-256 digests only")
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if err := s.t.ctx.SignInit(s.t.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, s.priv); err != nil {
		return nil, fmt.Errorf("pkcs11hsm: ecdsa sign init: %w", err)
	}
	raw, err := s.t.ctx.Sign(s.t.sh, digest)
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: ecdsa sign: %w", err)
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("pkcs11hsm: ecdsa signature of %d bytes, want 64", len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}
