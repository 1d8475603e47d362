package kdf

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// SecretSize is the size of a master secret and of its standard subkeys.
const SecretSize = 32

// Standard subkey labels. Each is expanded with HKDF-SHA256 from the master
// secret with info "piivault/kdf/v1/" + label.
const (
	LabelKEK      = "kek"      // wraps the account key
	LabelVerifier = "verifier" // checks a password without unwrapping
)

// Secret is the master secret from one password derivation. It is used only
// through HKDF-SHA256 expansion with distinct labels, so the KEK, the
// verifier and any later subkey are independent: learning one (a stored
// verifier, say) reveals nothing about another. Destroy clears it; Go may
// have left copies of it elsewhere in memory (see the package's Security
// section).
type Secret struct {
	b [SecretSize]byte
}

// MaxExpandSize is the most bytes Expand returns: 255*32 = 8,160, the limit
// of HKDF-SHA256-Expand (RFC 5869 section 2.3, L <= 255*HashLen).
const MaxExpandSize = 255 * sha256.Size

// Expand returns n bytes of HKDF-SHA256-Expand(secret, "piivault/kdf/v1/"+label).
// Distinct labels give independent keys.
//
// n must be 0..MaxExpandSize; Expand panics otherwise. Like a wrong nonce
// size in crypto/cipher, a bad n is a programming error (callers pass a
// constant key size), not a condition of the data, so it is not an error
// value callers would have to handle on every call.
func (s *Secret) Expand(label string, n int) []byte {
	if n < 0 || n > MaxExpandSize {
		panic("kdf: Secret.Expand: n must be 0..MaxExpandSize (8160)")
	}
	out, err := hkdf.Expand(sha256.New, s.b[:], "piivault/kdf/v1/"+label, n)
	if err != nil {
		panic("kdf: " + err.Error()) // unreachable: n is within HKDF's limit
	}
	return out
}

// KEK is the 32-byte key-encryption key.
func (s *Secret) KEK() []byte { return s.Expand(LabelKEK, SecretSize) }

// Verifier is a 32-byte value that may be stored to check a password
// without unwrapping anything.
func (s *Secret) Verifier() []byte { return s.Expand(LabelVerifier, SecretSize) }

// Destroy overwrites the secret with zeros. Subkeys already returned are
// not affected; after Destroy, Expand returns keys derived from zeros, so
// do not use a Secret after destroying it.
func (s *Secret) Destroy() { clear(s.b[:]) }
