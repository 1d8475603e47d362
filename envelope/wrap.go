package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"sync/atomic"
)

// HKDF labels. Every label starts with "piivault/envelope/v1/" so keys of
// this format never collide with keys of another format or version.
const (
	labelHeaderCommit = "piivault/envelope/v1/header-commitment"
	labelHeaderMAC    = "piivault/envelope/v1/header-mac"
	labelStanzaSalt   = "piivault/envelope/v1/stanza"
	labelRecordSalt   = "piivault/envelope/v1/record"
	labelRecovery     = "piivault/envelope/v1/recovery"
	labelOlderKey     = "piivault/envelope/v3/older-key"
)

// stanzaAD is the associated data of a stanza wrap: the header prefix
// (magic, version, suite), the stanza type and key id, the stanza fields
// before the wrapped key (KDF params, salt), and the binding. Each variable
// field is length-prefixed so the encoding is injective.
func stanzaAD(typ string, keyID, fields []byte, b Binding) []byte {
	ad := make([]byte, 0, headerPrefixSize+1+len(typ)+1+len(keyID)+2+len(fields)+2+len(b.UserID)+len(b.Label))
	ad = append(ad, headerMagic...)
	ad = append(ad, Version1, SuiteAES256GCM)
	ad = append(ad, byte(len(typ)))
	ad = append(ad, typ...)
	ad = append(ad, byte(len(keyID)))
	ad = append(ad, keyID...)
	ad = append(ad, byte(len(fields)>>8), byte(len(fields)))
	ad = append(ad, fields...)
	return appendBinding(ad, b)
}

// wrappedSize is the length of a committing wrap of a KeySize key.
const wrappedSize = CommitmentSize + gcmNonceSize + KeySize + gcmTagSize

// commitKeys derives, from a key-encryption key and the associated data,
// an AES-256-GCM key and a 32-byte commitment:
//
//	PRK = HKDF-Extract(salt = label, IKM = kek)
//	encKey || commitment = HKDF-Expand(PRK, info = ad, 64)
//
// This is the UtC transform combined with HtE of Bellare and Hoang
// ("Efficient Schemes for Committing Authenticated Encryption", EUROCRYPT
// 2022): the commitment depends on the key and on every byte of the
// associated data, and the encryption key is used for one message only.
func commitKeys(kek []byte, label string, ad []byte) (encKey, commitment []byte) {
	prk, err := hkdf.Extract(sha256.New, kek, []byte(label))
	if err != nil {
		panic("envelope: hkdf extract: " + err.Error())
	}
	okm, err := hkdf.Expand(sha256.New, prk, string(ad), KeySize+CommitmentSize)
	clear(prk)
	if err != nil {
		panic("envelope: hkdf expand: " + err.Error())
	}
	return okm[:KeySize:KeySize], okm[KeySize:]
}

// newGCM returns AES-256-GCM under key with 12-byte nonces, or, under
// GODEBUG=fips140=only (where caller-chosen nonces are refused), AES-256-GCM
// whose FIPS module draws the nonce itself (cipher.NewGCMWithRandomNonce).
// Both write the same bytes: nonce || ciphertext || tag.
func newGCM(key []byte) (g cipher.AEAD, moduleNonce bool) {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("envelope: aes: " + err.Error())
	}
	if fips140.Enforced() {
		g, err = cipher.NewGCMWithRandomNonce(block)
		moduleNonce = true
	} else {
		g, err = cipher.NewGCM(block)
	}
	if err != nil {
		panic("envelope: gcm: " + err.Error())
	}
	return g, moduleNonce
}

// gcmSeal appends nonce || AES-256-GCM(key, nonce, plaintext, ad) to dst.
// nonce is gcmNonceSize random bytes from the caller; under fips140=only the
// module draws its own instead. plaintext may overlap dst's spare capacity
// in any way (it is moved first); ad and nonce must not.
func gcmSeal(dst, key, nonce, plaintext, ad []byte) []byte {
	g, moduleNonce := newGCM(key)
	ret, out := sliceForAppend(dst, gcmNonceSize+len(plaintext)+gcmTagSize)
	if moduleNonce {
		// cipher.NewGCMWithRandomNonce accepts only plaintext that starts
		// where its output starts.
		if anyOverlap(out, plaintext) {
			copy(out, plaintext)
			plaintext = out[:len(plaintext)]
		}
		g.Seal(out[:0], nil, plaintext, ad)
		return ret
	}
	ct := out[gcmNonceSize:]
	if anyOverlap(out, plaintext) {
		copy(ct, plaintext)
		plaintext = ct[:len(plaintext)]
	}
	copy(out, nonce)
	g.Seal(ct[:0], nonce, plaintext, ad)
	return ret
}

// gcmOpen opens nonce || ciphertext || tag and appends the plaintext to dst.
// out may only overlap data exactly (out starting where data starts).
func gcmOpen(dst, key, data, ad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("envelope: aes: " + err.Error())
	}
	g, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic("envelope: gcm: " + err.Error())
	}
	return g.Open(dst, nil, data, ad)
}

// sealKey wraps key under kek with a committing AEAD:
// commitment || nonce || GCM ciphertext || tag. The derived key is used once.
func sealKey(kek []byte, label string, ad, key []byte, rand io.Reader) ([]byte, error) {
	var nonce [gcmNonceSize]byte
	if _, err := io.ReadFull(rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("envelope: reading nonce: %w", err)
	}
	encKey, commitment := commitKeys(kek, label, ad)
	defer clear(encKey)
	out := make([]byte, 0, wrappedSize)
	out = append(out, commitment...)
	return gcmSeal(out, encKey, nonce[:], key, ad), nil
}

// openKey reverses sealKey. A commitment that does not match means the kek
// (or the associated data) is not the one the wrap was made with and
// returns ErrNoMatch; a matching commitment with a failing tag means the
// ciphertext was altered (ErrHeaderAuth).
func openKey(kek []byte, label string, ad, wrapped []byte) ([]byte, error) {
	if len(wrapped) != wrappedSize {
		return nil, fmt.Errorf("envelope: wrapped key of %d bytes, want %d: %w", len(wrapped), wrappedSize, ErrMalformed)
	}
	encKey, commitment := commitKeys(kek, label, ad)
	defer clear(encKey)
	if subtle.ConstantTimeCompare(commitment, wrapped[:CommitmentSize]) != 1 {
		return nil, fmt.Errorf("envelope: key commitment of stanza does not match: %w", ErrNoMatch)
	}
	key, err := gcmOpen(make([]byte, 0, KeySize), encKey, wrapped[CommitmentSize:], ad)
	if err != nil {
		return nil, fmt.Errorf("envelope: stanza authentication failed after its commitment matched: %w", ErrHeaderAuth)
	}
	return key, nil
}

// secretDoSawEnabled records that the last secretDo ran f with
// runtime/secret.Enabled() true (tests only; always false without the
// experiment).
var secretDoSawEnabled atomic.Bool

// wrapStanza returns a stanza of type typ (empty key id) whose body is
// fields || the committing wrap (sealKey) of key under kek, with the stanza
// associated data of typ, fields and b. Password and recovery stanzas both
// use it.
func wrapStanza(typ string, fields, kek, key []byte, b Binding, r io.Reader) (*Stanza, error) {
	wrapped, err := sealKey(kek, labelStanzaSalt, stanzaAD(typ, nil, fields, b), key, r)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 0, len(fields)+len(wrapped))
	body = append(append(body, fields...), wrapped...)
	return &Stanza{Type: typ, Body: body}, nil
}

// unwrapStanza reverses wrapStanza for a stanza of type typ whose body is
// fields || wrapped: ErrNoMatch when kek is not the stanza's, ErrHeaderAuth
// when it is and the wrap was altered. The key is copied into a new
// KeySize buffer made by the caller's goroutine (out).
func unwrapStanza(typ string, fields, wrapped, kek []byte, b Binding, out []byte) error {
	key, err := openKey(kek, labelStanzaSalt, stanzaAD(typ, nil, fields, b), wrapped)
	if err != nil {
		return err
	}
	copy(out, key)
	clear(key)
	return nil
}

// headerKeys derives the header commitment and the header MAC key from the
// file key (HKDF-SHA256, empty salt, distinct info labels).
func headerKeys(key []byte) (commitment, macKey []byte) {
	prk, err := hkdf.Extract(sha256.New, key, nil)
	if err != nil {
		panic("envelope: hkdf extract: " + err.Error())
	}
	defer clear(prk)
	commitment, err = hkdf.Expand(sha256.New, prk, labelHeaderCommit, CommitmentSize)
	if err != nil {
		panic("envelope: hkdf expand: " + err.Error())
	}
	macKey, err = hkdf.Expand(sha256.New, prk, labelHeaderMAC, 32)
	if err != nil {
		panic("envelope: hkdf expand: " + err.Error())
	}
	return commitment, macKey
}

// headerMAC is HMAC-SHA256(macKey, binding || header bytes up to and
// including the commitment).
func headerMAC(macKey []byte, b Binding, body []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(appendBinding(nil, b))
	m.Write(body)
	return m.Sum(nil)
}
