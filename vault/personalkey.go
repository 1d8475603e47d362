package vault

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

// Personal key geometry. A personal key is PersonalKeySize random bytes
// (160 bits), written as PersonalKeyChars Crockford base32 characters in
// groups of 4 separated by dashes:
//
//	XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX
//
// Why 160 bits: the design asks for at least 128 bits. 160 is the next size
// that is a whole number of both bytes and base32 characters (5 bits each),
// so every 32-character string decodes to exactly one key and every key has
// exactly one spelling (no padding bits, no non-canonical forms). It also
// leaves 128 bits of security per account against an attacker who guesses
// against 2^32 stolen accounts at once. No check character is included: a
// mistyped key fails as ErrWrongSecret after one fast derivation, and a
// check character would give an online guesser nothing but would cost the
// user another character to type.
const (
	PersonalKeySize  = 20
	PersonalKeyChars = 32
	personalKeyGroup = 4
	// maxPersonalKeyInput bounds what ParsePersonalKey reads, so that a
	// hostile input is refused before any work proportional to its size.
	maxPersonalKeyInput = 256
)

// crockford is the Crockford base32 alphabet (no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// PersonalKey is a user's high-entropy recovery secret, shown once at
// enrollment and after each recovery, and typed back to recover an account
// whose password is lost. The zero value is not a key: it parses from
// nothing and opens nothing.
//
// A PersonalKey never prints itself: String, GoString, every fmt verb
// (%v, %s, %q, %x, %#v, ...) and slog show a placeholder. Reveal is the
// one way to get the characters to show the user (AppendReveal writes them
// into a buffer the caller can clear).
//
// A PersonalKey is a value holding secret bytes: copies of it are copies of
// the secret. Destroy clears one copy.
type PersonalKey struct {
	b   [PersonalKeySize]byte
	set bool
}

// newPersonalKey reads a fresh key from r.
func newPersonalKey(r io.Reader) (PersonalKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var pk PersonalKey
	if _, err := io.ReadFull(r, pk.b[:]); err != nil {
		return PersonalKey{}, fmt.Errorf("vault: reading personal key: %w", err)
	}
	pk.set = true
	return pk, nil
}

// IsZero reports whether pk is the zero value (no key).
func (pk PersonalKey) IsZero() bool { return !pk.set }

// Placeholders printed instead of a personal key.
const (
	redactedPersonalKey = "[personal key redacted]"
	zeroPersonalKey     = "[no personal key]"
)

// PersonalKeyTextSize is the length of Reveal's result: 32 characters and
// 7 dashes.
const PersonalKeyTextSize = PersonalKeyChars + PersonalKeyChars/personalKeyGroup - 1

// Reveal returns the key as 32 upper-case Crockford base32 characters in
// dashed groups of 4 (XXXX-XXXX-...), the form to show the user once. It
// returns "" for the zero value. The encoding runs in time independent of
// the key's value. The string cannot be cleared (Go strings are
// immutable); AppendReveal writes into a caller's buffer instead.
func (pk PersonalKey) Reveal() string {
	if !pk.set {
		return ""
	}
	var buf [PersonalKeyTextSize]byte
	defer clear(buf[:])
	return string(pk.AppendReveal(buf[:0]))
}

// AppendReveal appends the characters Reveal returns to dst and returns
// the extended buffer, so that the caller can clear it after use. It
// appends nothing for the zero value.
func (pk PersonalKey) AppendReveal(dst []byte) []byte {
	if !pk.set {
		return dst
	}
	// 160 bits = 32 groups of 5 bits, read most significant first.
	for i := 0; i < PersonalKeyChars; i++ {
		if i > 0 && i%personalKeyGroup == 0 {
			dst = append(dst, '-')
		}
		dst = append(dst, encodeSymbol(pk.symbol(i)))
	}
	return dst
}

// String returns a placeholder, never the key: "[personal key redacted]",
// or "[no personal key]" for the zero value. Use Reveal to show the key.
func (pk PersonalKey) String() string {
	if !pk.set {
		return zeroPersonalKey
	}
	return redactedPersonalKey
}

// GoString returns the same placeholder as String (for %#v).
func (pk PersonalKey) GoString() string { return pk.String() }

// Format prints the placeholder for every verb and flag (%v, %+v, %#v,
// %s, %q, %x, %d, ...), so no fmt call prints the key's bytes.
func (pk PersonalKey) Format(f fmt.State, verb rune) {
	io.WriteString(f, pk.String())
}

// symbol returns the i-th 5-bit group of the key.
func (pk *PersonalKey) symbol(i int) byte {
	bit := i * 5
	byteIdx, shift := bit/8, bit%8
	v := uint16(pk.b[byteIdx]) << 8
	if byteIdx+1 < PersonalKeySize {
		v |= uint16(pk.b[byteIdx+1])
	}
	return byte(v>>(11-shift)) & 0x1f
}

// LogValue keeps the key out of structured logs: slog prints a placeholder.
func (pk PersonalKey) LogValue() slog.Value {
	return slog.StringValue("[personal key redacted]")
}

// Equal reports whether pk and other are the same key, in constant time.
// Two zero values are equal; a zero value equals no key.
func (pk PersonalKey) Equal(other PersonalKey) bool {
	same := subtle.ConstantTimeCompare(pk.b[:], other.b[:])
	return same == 1 && pk.set == other.set
}

// Destroy overwrites this copy of the key with zeros and makes it the zero
// value. Other copies (including strings returned by Reveal) are not
// affected: Go strings cannot be cleared.
func (pk *PersonalKey) Destroy() {
	clear(pk.b[:])
	pk.set = false
}

// bytes returns a copy of the key bytes, for the recovery recipient.
func (pk *PersonalKey) bytes() []byte {
	return append([]byte(nil), pk.b[:]...)
}

// ParsePersonalKey reads a key typed back by a user. It ignores case,
// dashes and white space, and reads I and L as 1 and O as 0 (Crockford's
// aliases). It returns an error wrapping ErrInvalidInput unless exactly 32
// symbols remain. Decoding runs in time independent of the symbols' values
// (it depends only on the input's length).
func ParsePersonalKey(s string) (PersonalKey, error) { return parsePersonalKey(s) }

// ParsePersonalKeyBytes is ParsePersonalKey for input held in a byte
// slice, which, unlike a string, the caller can clear once it is parsed
// (a request body, a form value read into a buffer). b is not modified or
// retained.
func ParsePersonalKeyBytes(b []byte) (PersonalKey, error) { return parsePersonalKey(b) }

func parsePersonalKey[T string | []byte](s T) (PersonalKey, error) {
	if len(s) > maxPersonalKeyInput {
		return PersonalKey{}, fmt.Errorf("%w: personal key input longer than %d bytes", ErrInvalidInput, maxPersonalKeyInput)
	}
	var syms [PersonalKeyChars]byte
	n := 0
	bad := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '-', ' ', '\t', '\n', '\r':
			continue
		}
		if n == PersonalKeyChars {
			return PersonalKey{}, fmt.Errorf("%w: personal key has more than %d symbols", ErrInvalidInput, PersonalKeyChars)
		}
		v, ok := decodeSymbol(c)
		bad |= 1 - ok
		syms[n] = v
		n++
	}
	if n != PersonalKeyChars {
		return PersonalKey{}, fmt.Errorf("%w: personal key has %d symbols, want %d", ErrInvalidInput, n, PersonalKeyChars)
	}
	if bad != 0 {
		return PersonalKey{}, fmt.Errorf("%w: personal key has a character outside Crockford base32", ErrInvalidInput)
	}
	var pk PersonalKey
	// Pack 32 five-bit symbols into 20 bytes, 8 symbols to 5 bytes.
	for g := 0; g < PersonalKeyChars/8; g++ {
		var acc uint64
		for j := 0; j < 8; j++ {
			acc = acc<<5 | uint64(syms[g*8+j])
		}
		for j := 0; j < 5; j++ {
			pk.b[g*5+j] = byte(acc >> (8 * (4 - j)))
		}
	}
	clear(syms[:])
	pk.set = true
	return pk, nil
}

// encodeSymbol maps v (0..31) to its Crockford character without a
// secret-dependent memory access.
func encodeSymbol(v byte) byte {
	var out byte
	for i := 0; i < len(crockford); i++ {
		mask := byte(subtle.ConstantTimeByteEq(v, byte(i))) * 0xff
		out |= crockford[i] & mask
	}
	return out
}

// decodeSymbol maps a character to its value, folding case and the
// aliases I, L -> 1 and O -> 0, without a secret-dependent branch or memory
// access. ok is 1 for a valid character, 0 otherwise.
func decodeSymbol(c byte) (v byte, ok int) {
	// Fold lower case to upper case: only for 'a'..'z'.
	lower := subtle.ConstantTimeLessOrEq(int('a'), int(c)) & subtle.ConstantTimeLessOrEq(int(c), int('z'))
	c -= byte(lower) * 0x20
	for i := 0; i < len(crockford); i++ {
		eq := subtle.ConstantTimeByteEq(c, crockford[i])
		v |= byte(i) & (byte(eq) * 0xff)
		ok |= eq
	}
	one := subtle.ConstantTimeByteEq(c, 'I') | subtle.ConstantTimeByteEq(c, 'L')
	v |= 1 & (byte(one) * 0xff)
	ok |= one
	ok |= subtle.ConstantTimeByteEq(c, 'O') // value 0: nothing to OR in
	return v, ok
}
