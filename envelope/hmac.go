package envelope

import (
	"crypto/sha256"
	"encoding"
	"hash"
	"sync"
)

// hmacKey is HMAC-SHA256 (RFC 2104) with its two padded-key blocks hashed
// once: the SHA-256 states after (key XOR ipad) and after (key XOR opad) are
// kept marshaled and restored for each MAC, which saves two compressions per
// MAC and lets the states be cleared (crypto/hmac keeps them out of reach).
type hmacKey struct {
	inner, outer []byte
}

func newHMACKey(key []byte) hmacKey { return newHMACKeyWith(sha256.New(), key) }

// newHMACKeyWith is newHMACKey computing with h, which it leaves reset: a
// SHA-256 state after a padded-key block is as good as the key, and must
// not stay behind in a digest the garbage collector frees at leisure.
func newHMACKeyWith(h hash.Hash, key []byte) hmacKey {
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		defer clear(sum[:])
		key = sum[:]
	}
	var pad [sha256.BlockSize]byte
	defer clear(pad[:])
	state := func(x byte) []byte {
		for i := range pad {
			pad[i] = x
		}
		for i, c := range key {
			pad[i] ^= c
		}
		h.Reset()
		h.Write(pad[:])
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("envelope: sha256 state: " + err.Error())
		}
		return st
	}
	k := hmacKey{inner: state(0x36), outer: state(0x5c)}
	h.Reset()
	return k
}

func (k *hmacKey) destroy() {
	clear(k.inner)
	clear(k.outer)
}

// hashScratch is a SHA-256 state for one goroutine.
type hashScratch struct {
	h     hash.Hash
	u     encoding.BinaryUnmarshaler
	tmp   [sha256.Size]byte
	inner [sha256.Size]byte
}

func newHashScratch() hashScratch {
	h := sha256.New()
	return hashScratch{h: h, u: h.(encoding.BinaryUnmarshaler)}
}

// sum writes HMAC-SHA256(key, p1 || p2 || p3) into out, allocating nothing.
// Empty parts cost nothing; one contiguous part is the cheapest.
func (k *hmacKey) sum(s *hashScratch, out *[sha256.Size]byte, p1, p2, p3 []byte) {
	inner := s.inner[:0]
	if err := s.u.UnmarshalBinary(k.inner); err != nil {
		panic("envelope: sha256 state: " + err.Error())
	}
	for _, p := range [3][]byte{p1, p2, p3} {
		if len(p) > 0 {
			s.h.Write(p)
		}
	}
	inner = s.h.Sum(inner)
	if err := s.u.UnmarshalBinary(k.outer); err != nil {
		panic("envelope: sha256 state: " + err.Error())
	}
	s.h.Write(inner)
	s.h.Sum(out[:0])
	clear(inner)
}

// pristineSHA256 is the marshaled state of a fresh SHA-256: no input, an
// all-zero block buffer.
var pristineSHA256 = sync.OnceValue(func() []byte {
	st, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("envelope: sha256 state: " + err.Error())
	}
	return st
})

// scrub returns s to a fresh state. After sum, the SHA-256 state's block
// buffer still holds the inner hash of the last MAC, which with the outer
// state gives its output: for a MAC under a public key (an HKDF-Extract
// salt) that output is a secret, so a scratch that has computed one is
// wiped before it is dropped.
func (s *hashScratch) scrub() {
	if err := s.u.UnmarshalBinary(pristineSHA256()); err != nil {
		panic("envelope: sha256 state: " + err.Error())
	}
	clear(s.tmp[:])
	clear(s.inner[:])
}
