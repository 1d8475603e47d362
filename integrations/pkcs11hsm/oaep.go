package pkcs11hsm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP with SHA-1, the only hash SoftHSM2 accepts
	_ "crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
)

// oaepMagic starts the associated data of OAEPAEAD's GCM layer.
const oaepMagic = "piivault/pkcs11hsm/v1/rsa-oaep-gcm"

// OAEPAEAD is a tink.AEAD over an RSA key pair in the token. Encrypt needs
// only the public key (read from the token once) and makes no token call:
// a fresh 256-bit data key is encrypted with RSA-OAEP (hash configurable;
// SoftHSM2 supports SHA-1 only, real HSMs usually SHA-256) and the
// plaintext sealed under it with AES-256-GCM, whose associated data is the
// magic, the OAEP ciphertext and the caller's associated data. Decrypt runs
// RSA-OAEP in the token (CKM_RSA_PKCS_OAEP). Output: u16 len(rsa) ||
// rsa ciphertext || nonce(12) || GCM ciphertext || tag(16).
type OAEPAEAD struct {
	t    *Token
	priv pkcs11.ObjectHandle
	pub  *rsa.PublicKey
	hash crypto.Hash
}

func oaepMechs(h crypto.Hash) (hashMech, mgf uint, err error) {
	switch h {
	case crypto.SHA1:
		return pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, nil
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, nil
	}
	return 0, 0, fmt.Errorf("pkcs11hsm: oaep hash %v not supported", h)
}

// OAEPAEAD finds the RSA key pair labelled label and returns an AEAD using
// RSA-OAEP with hash (crypto.SHA1 or crypto.SHA256) for MGF1 and the label
// hash.
func (t *Token) OAEPAEAD(label string, hash crypto.Hash) (*OAEPAEAD, error) {
	if _, _, err := oaepMechs(hash); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	priv, err := t.findOne(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA, label)
	if err != nil {
		return nil, err
	}
	pubObj, err := t.findOne(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_RSA, label)
	if err != nil {
		return nil, err
	}
	attrs, err := t.ctx.GetAttributeValue(t.sh, pubObj, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: rsa public key: %w", err)
	}
	e := new(big.Int).SetBytes(attrs[1].Value)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
		return nil, fmt.Errorf("pkcs11hsm: rsa public exponent out of range")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(e.Int64())}
	if pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("pkcs11hsm: rsa key of %d bits, want >= 2048", pub.N.BitLen())
	}
	return &OAEPAEAD{t: t, priv: priv, pub: pub, hash: hash}, nil
}

// PublicKey returns the RSA public key.
func (a *OAEPAEAD) PublicKey() *rsa.PublicKey { return a.pub }

func oaepAD(rsaCT, ad []byte) []byte {
	out := make([]byte, 0, len(oaepMagic)+2+len(rsaCT)+len(ad))
	out = append(out, oaepMagic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(rsaCT)))
	out = append(out, rsaCT...)
	return append(out, ad...)
}

// Encrypt implements tink.AEAD in software, with the public key only.
func (a *OAEPAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	defer clear(dek)
	rct, err := rsa.EncryptOAEP(a.hash.New(), rand.Reader, a.pub, dek, nil)
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: rsa-oaep: %w", err)
	}
	g := newGCM(dek)
	out := binary.BigEndian.AppendUint16(nil, uint16(len(rct)))
	out = append(out, rct...)
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return g.Seal(out, nonce, plaintext, oaepAD(rct, associatedData)), nil
}

// Decrypt implements tink.AEAD: RSA-OAEP in the token, AES-GCM here. Any
// failure returns an error wrapping ErrDecrypt and no plaintext.
func (a *OAEPAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	k := a.pub.Size()
	if len(ciphertext) < 2 || int(binary.BigEndian.Uint16(ciphertext)) != k || len(ciphertext) < 2+k+12+16 {
		return nil, ErrDecrypt
	}
	rct := ciphertext[2 : 2+k]
	dek, err := a.decryptDEK(rct)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	defer clear(dek)
	if len(dek) != 32 {
		return nil, ErrDecrypt
	}
	rest := ciphertext[2+k:]
	pt, err := newGCM(dek).Open(nil, rest[:12], rest[12:], oaepAD(rct, associatedData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (a *OAEPAEAD) decryptDEK(rct []byte) ([]byte, error) {
	hm, mgf, _ := oaepMechs(a.hash)
	params := pkcs11.NewOAEPParams(hm, mgf, pkcs11.CKZ_DATA_SPECIFIED, nil)
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if err := a.t.ctx.DecryptInit(a.t.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, params)}, a.priv); err != nil {
		return nil, err
	}
	return a.t.ctx.Decrypt(a.t.sh, rct)
}
