package logingov

import (
	"context"
	"crypto/fips140"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"

	"github.com/piivault/piivault/kdf"
)

// Caps on the scrypt cost a stored value may ask for, checked before any
// memory is taken: a database is attacker-controlled input. Production
// values (10000$8$1$: N = 2^16, r = 8, p = 1) need 64 MiB.
const (
	// MaxScryptN is the largest N accepted (N must also be a power of
	// two greater than 1).
	MaxScryptN = 1 << 20
	// MaxScryptMemory bounds 128·r·N, the size of scrypt's main buffer.
	MaxScryptMemory = 256 << 20
	// MaxScryptRP bounds r·p.
	MaxScryptRP = 64
	// maxCostLen bounds the cost string; every real one is under 16 bytes.
	maxCostLen = 64
)

// Cost is a parsed scrypt cost string, as the scrypt gem reads it: three
// hexadecimal fields N$r$p$ ("10000$8$1$" is N = 65536, r = 8, p = 1).
type Cost struct {
	N    uint64
	R, P uint64
}

// String returns the canonical cost string (lowercase hex, trailing $).
func (c Cost) String() string {
	return strconv.FormatUint(c.N, 16) + "$" + strconv.FormatUint(c.R, 16) + "$" + strconv.FormatUint(c.P, 16) + "$"
}

// memory returns the bytes x/crypto/scrypt allocates for c: 128·r·N for V,
// 128·r·p for B, 256·r for XY. Only meaningful once c passed ParseCost.
func (c Cost) memory() int64 {
	return int64(128*c.R*c.N + 128*c.R*c.P + 256*c.R)
}

// ParseCost reads a scrypt cost string strictly: three non-empty lowercase
// hex fields, each followed by '$' (the trailing '$' is required), N a
// power of two with 2 <= N <= MaxScryptN, r >= 1, p >= 1, r·p <=
// MaxScryptRP and 128·r·N <= MaxScryptMemory. It allocates nothing whose
// size depends on the values, so N = 2^62 or r = 2^40 cost nothing to
// refuse. Errors wrap ErrParams.
//
// It is stricter than Ruby's reading (which stops at the first non-hex
// character, reads a field starting with a letter g..z as 0 and accepts a
// 0x prefix) only for strings Login.gov never wrote.
func ParseCost(s string) (Cost, error) {
	if len(s) > maxCostLen {
		return Cost{}, errf(ErrParams, "cost string longer than %d bytes", maxCostLen)
	}
	if !strings.HasSuffix(s, "$") {
		return Cost{}, errf(ErrParams, "cost string does not end in '$'")
	}
	f := strings.Split(s[:len(s)-1], "$")
	if len(f) != 3 {
		return Cost{}, errf(ErrParams, "cost string has %d fields, want N$r$p$", len(f))
	}
	var v [3]uint64
	for i, x := range f {
		if x == "" {
			return Cost{}, errf(ErrParams, "cost field %d is empty", i+1)
		}
		for j := 0; j < len(x); j++ {
			if c := x[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return Cost{}, errf(ErrParams, "cost field %d is not lowercase hex", i+1)
			}
		}
		n, err := strconv.ParseUint(x, 16, 64)
		if err != nil {
			return Cost{}, errf(ErrParams, "cost field %d overflows 64 bits", i+1)
		}
		v[i] = n
	}
	c := Cost{N: v[0], R: v[1], P: v[2]}
	switch {
	case c.N < 2 || bits.OnesCount64(c.N) != 1:
		return Cost{}, errf(ErrParams, "scrypt N = %d is not a power of two greater than 1", c.N)
	case c.N > MaxScryptN:
		return Cost{}, errf(ErrParams, "scrypt N = 2^%d over the cap 2^%d", bits.TrailingZeros64(c.N), bits.TrailingZeros64(MaxScryptN))
	case c.R < 1 || c.P < 1:
		return Cost{}, errf(ErrParams, "scrypt r and p must be at least 1")
	case c.R > MaxScryptRP || c.P > MaxScryptRP || c.R*c.P > MaxScryptRP:
		return Cost{}, errf(ErrParams, "scrypt r·p over the cap %d", MaxScryptRP)
	case 128*c.R*c.N > MaxScryptMemory:
		return Cost{}, errf(ErrParams, "scrypt needs %d MiB (128·r·N), over the cap %d MiB", 128*c.R*c.N>>20, MaxScryptMemory>>20)
	}
	return c, nil
}

// ScryptSalt returns the salt scrypt receives for a stored salt string:
// SHA-256 of the salt's bytes as text (never hex-decoded), with its leading
// zero bytes removed, as the scrypt gem does when it strips leading "00"
// pairs from the hex digest. About one salt in 256 gives 31 bytes.
func ScryptSalt(salt string) []byte {
	d := sha256.Sum256([]byte(salt))
	s := d[:]
	for len(s) > 0 && s[0] == 0 {
		s = s[1:]
	}
	return append([]byte(nil), s...)
}

// DeriveKey returns the 32-byte AES key K of a stored value: scrypt of the
// secret (the password's bytes, or the normalized personal key) with
// ScryptSalt(salt) and the parsed cost. The caller clears the result. It
// returns ErrUnsupported under GODEBUG=fips140=only.
func DeriveKey(secret []byte, salt string, c Cost) ([]byte, error) {
	return deriveKey(context.Background(), nil, secret, salt, c)
}

// deriveKey runs scrypt once, holding c.memory() bytes of lim (when not
// nil) for its duration.
func deriveKey(ctx context.Context, lim *kdf.Limiter, secret []byte, salt string, c Cost) ([]byte, error) {
	// Re-check: a Cost built by hand has not been through ParseCost.
	if _, err := ParseCost(c.String()); err != nil {
		return nil, err
	}
	if fips140.Enforced() {
		return nil, errf(ErrUnsupported, "scrypt is not FIPS 140-3 approved (GODEBUG=fips140=only)")
	}
	if lim != nil {
		n := c.memory()
		if err := lim.Acquire(ctx, n); err != nil {
			return nil, fmt.Errorf("logingov: scrypt memory: %w", err)
		}
		defer lim.Release(n)
	}
	k, err := scrypt.Key(secret, ScryptSalt(salt), int(c.N), int(c.R), int(c.P), 32)
	if err != nil {
		return nil, errf(ErrParams, "scrypt: %v", err)
	}
	return k, nil
}
