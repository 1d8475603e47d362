// Package pkcs11hsm puts piivault's escrow keys in a PKCS#11 token (an HSM,
// or SoftHSM2 in tests), through github.com/miekg/pkcs11 (cgo; the module is
// loaded at run time).
//
//   - ECKey: an EC P-256 key pair in the token exposed as an
//     ecdh.KeyExchanger (CKM_ECDH1_DERIVE), so that
//     escrow.NewKeyExchangerIdentity makes it an HPKE DHKEM(P-256) escrow
//     identity: writing needs the public key only; recovery runs ECDH in the
//     token and the private scalar never leaves it.
//   - KWPAEAD: a symmetric escrow as a tink.AEAD over an AES key in the
//     token, by envelope encryption with CKM_AES_KEY_WRAP_PAD (RFC 5649).
//
// Tokens are looked up by label, never by slot id (SoftHSM2 renumbers
// slots). A Token serialises its calls on one session with a mutex.
package pkcs11hsm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// Errors a caller can tell apart with errors.Is.
var (
	ErrTokenNotFound = errors.New("pkcs11hsm: no token with that label")
	ErrKeyNotFound   = errors.New("pkcs11hsm: no key with that label")
	ErrDecrypt       = errors.New("pkcs11hsm: decryption failed")
)

// Token is a logged-in session on the token with a given label.
type Token struct {
	mu  sync.Mutex
	ctx *pkcs11.Ctx
	sh  pkcs11.SessionHandle
}

// Open loads the PKCS#11 module at modulePath, finds the token whose label
// is tokenLabel (CK_TOKEN_INFO.label, trailing spaces ignored) and logs in
// as the user with pin. Close the Token when done.
func Open(modulePath, tokenLabel, pin string) (*Token, error) {
	p := pkcs11.New(modulePath)
	if p == nil {
		return nil, fmt.Errorf("pkcs11hsm: cannot load module %q", modulePath)
	}
	if err := p.Initialize(); err != nil {
		p.Destroy()
		return nil, fmt.Errorf("pkcs11hsm: initialize: %w", err)
	}
	t := &Token{ctx: p}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.finalize()
		return nil, fmt.Errorf("pkcs11hsm: slot list: %w", err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil || trimLabel(ti.Label) != tokenLabel {
			continue
		}
		sh, err := p.OpenSession(s, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.finalize()
			return nil, fmt.Errorf("pkcs11hsm: open session: %w", err)
		}
		t.sh = sh
		if err := p.Login(sh, pkcs11.CKU_USER, pin); err != nil {
			p.CloseSession(sh)
			t.finalize()
			return nil, fmt.Errorf("pkcs11hsm: login: %w", err)
		}
		return t, nil
	}
	t.finalize()
	return nil, fmt.Errorf("pkcs11hsm: token %q: %w", tokenLabel, ErrTokenNotFound)
}

func trimLabel(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == 0) {
		s = s[:len(s)-1]
	}
	return s
}

func (t *Token) finalize() {
	t.ctx.Finalize()
	t.ctx.Destroy()
}

// Close logs out, closes the session and unloads the module.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctx.Logout(t.sh)
	err := t.ctx.CloseSession(t.sh)
	t.finalize()
	return err
}

func (t *Token) findOne(class, keyType uint, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := t.ctx.FindObjectsInit(t.sh, tmpl); err != nil {
		return 0, fmt.Errorf("pkcs11hsm: find: %w", err)
	}
	objs, _, err := t.ctx.FindObjects(t.sh, 2)
	t.ctx.FindObjectsFinal(t.sh)
	if err != nil {
		return 0, fmt.Errorf("pkcs11hsm: find: %w", err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("pkcs11hsm: key %q (class %d): %w", label, class, ErrKeyNotFound)
	case 1:
		return objs[0], nil
	}
	return 0, fmt.Errorf("pkcs11hsm: more than one key labelled %q", label)
}

// p256OID is the DER encoding of the named curve prime256v1.
var p256OID = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}

// ECKey is an EC P-256 private key held in the token; it implements
// ecdh.KeyExchanger with CKM_ECDH1_DERIVE.
type ECKey struct {
	t    *Token
	priv pkcs11.ObjectHandle
	pub  *ecdh.PublicKey
}

// ECKey finds the P-256 key pair labelled label (private key with
// CKA_DERIVE, and its public key object).
func (t *Token) ECKey(label string) (*ECKey, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	priv, err := t.findOne(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_EC, label)
	if err != nil {
		return nil, err
	}
	pubObj, err := t.findOne(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_EC, label)
	if err != nil {
		return nil, err
	}
	attrs, err := t.ctx.GetAttributeValue(t.sh, pubObj, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: public key attributes: %w", err)
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(attrs[0].Value, &oid); err != nil || len(rest) != 0 || !oid.Equal(p256OID) {
		return nil, fmt.Errorf("pkcs11hsm: key %q is not on P-256", label)
	}
	// CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point.
	var point []byte
	if rest, err := asn1.Unmarshal(attrs[1].Value, &point); err != nil || len(rest) != 0 {
		point = attrs[1].Value // some modules store the raw point
	}
	pub, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: public key of %q: %w", label, err)
	}
	return &ECKey{t: t, priv: priv, pub: pub}, nil
}

// Curve implements ecdh.KeyExchanger.
func (k *ECKey) Curve() ecdh.Curve { return ecdh.P256() }

// PublicKey implements ecdh.KeyExchanger: the public half, read from the
// token once.
func (k *ECKey) PublicKey() *ecdh.PublicKey { return k.pub }

// ECDH implements ecdh.KeyExchanger: the shared secret (the x-coordinate,
// as crypto/ecdh returns it) derived in the token with CKM_ECDH1_DERIVE and
// CKD_NULL, extracted from a session object that is destroyed at once.
func (k *ECKey) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if remote == nil || remote.Curve() != ecdh.P256() {
		return nil, errors.New("pkcs11hsm: remote key is not on P-256")
	}
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	params := pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, remote.Bytes())
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}
	obj, err := k.t.ctx.DeriveKey(k.t.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, params)}, k.priv, tmpl)
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: ecdh derive: %w", err)
	}
	defer k.t.ctx.DestroyObject(k.t.sh, obj)
	attrs, err := k.t.ctx.GetAttributeValue(k.t.sh, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: reading derived secret: %w", err)
	}
	if len(attrs[0].Value) != 32 {
		clear(attrs[0].Value)
		return nil, fmt.Errorf("pkcs11hsm: derived secret of %d bytes", len(attrs[0].Value))
	}
	return attrs[0].Value, nil
}

// kwpMagic starts the associated data of KWPAEAD's GCM layer.
const kwpMagic = "piivault/pkcs11hsm/v1/kwp-gcm"

// KWPAEAD is a tink.AEAD over an AES key in the token. CKM_AES_KEY_WRAP_PAD
// (RFC 5649) is a key wrap with no associated data, so Encrypt does
// envelope encryption: a fresh 256-bit data key is wrapped in the token with
// KWP, and the plaintext is sealed under it with AES-256-GCM whose
// associated data is the magic, the wrapped data key and the caller's
// associated data. Output: u16 len(wrapped) || wrapped || nonce(12) ||
// GCM ciphertext || tag(16). The data key exists in host memory for the
// duration of one call and is cleared after (the wrapping key never
// leaves the token).
type KWPAEAD struct {
	t   *Token
	key pkcs11.ObjectHandle
}

// KWPAEAD finds the AES key labelled label (with CKA_WRAP and CKA_UNWRAP).
func (t *Token) KWPAEAD(label string) (*KWPAEAD, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, err := t.findOne(pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES, label)
	if err != nil {
		return nil, err
	}
	return &KWPAEAD{t: t, key: k}, nil
}

func kwpMech() []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
}

func dataKeyTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
	}
}

func gcmAD(wrapped, ad []byte) []byte {
	out := make([]byte, 0, len(kwpMagic)+2+len(wrapped)+len(ad))
	out = append(out, kwpMagic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return append(out, ad...)
}

// Encrypt implements tink.AEAD (one C_CreateObject and one C_WrapKey).
func (a *KWPAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	defer clear(dek)
	wrapped, err := a.wrap(dek)
	if err != nil {
		return nil, err
	}
	g := newGCM(dek)
	out := binary.BigEndian.AppendUint16(nil, uint16(len(wrapped)))
	out = append(out, wrapped...)
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return g.Seal(out, nonce, plaintext, gcmAD(wrapped, associatedData)), nil
}

func (a *KWPAEAD) wrap(dek []byte) ([]byte, error) {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	obj, err := a.t.ctx.CreateObject(a.t.sh, append(dataKeyTemplate(), pkcs11.NewAttribute(pkcs11.CKA_VALUE, dek)))
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: data key object: %w", err)
	}
	defer a.t.ctx.DestroyObject(a.t.sh, obj)
	w, err := a.t.ctx.WrapKey(a.t.sh, kwpMech(), a.key, obj)
	if err != nil {
		return nil, fmt.Errorf("pkcs11hsm: kwp wrap: %w", err)
	}
	return w, nil
}

// Decrypt implements tink.AEAD (one C_UnwrapKey). Any failure returns an
// error wrapping ErrDecrypt and no plaintext.
func (a *KWPAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) < 2 {
		return nil, ErrDecrypt
	}
	n := int(binary.BigEndian.Uint16(ciphertext))
	if n != 40 || len(ciphertext) < 2+n+12+16 { // KWP of a 32-byte key is 40 bytes
		return nil, ErrDecrypt
	}
	wrapped := ciphertext[2 : 2+n]
	dek, err := a.unwrap(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	defer clear(dek)
	g := newGCM(dek)
	rest := ciphertext[2+n:]
	pt, err := g.Open(nil, rest[:12], rest[12:], gcmAD(wrapped, associatedData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (a *KWPAEAD) unwrap(wrapped []byte) ([]byte, error) {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	obj, err := a.t.ctx.UnwrapKey(a.t.sh, kwpMech(), a.key, wrapped, dataKeyTemplate())
	if err != nil {
		return nil, err
	}
	defer a.t.ctx.DestroyObject(a.t.sh, obj)
	attrs, err := a.t.ctx.GetAttributeValue(a.t.sh, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, err
	}
	if len(attrs[0].Value) != 32 {
		clear(attrs[0].Value)
		return nil, errors.New("unwrapped data key of the wrong size")
	}
	return attrs[0].Value, nil
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}
