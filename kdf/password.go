package kdf

import (
	"crypto/rand"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPasswordBytes is the longest password accepted, in bytes of UTF-8
// before normalization. Longer ones are refused, never truncated.
const MaxPasswordBytes = 4096

// NormalizePassword returns the NFKC form of password (NIST SP 800-63B
// section 5.1.1.2), or ErrPasswordRejected if it is empty, too long or not
// UTF-8. The result is a new slice the caller should clear.
func NormalizePassword(password []byte) ([]byte, error) {
	switch {
	case len(password) == 0:
		return nil, fmt.Errorf("%w: empty", ErrPasswordRejected)
	case len(password) > MaxPasswordBytes:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrPasswordRejected, MaxPasswordBytes)
	case !utf8.Valid(password):
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrPasswordRejected)
	}
	// Append to a fresh slice: norm.NFKC.Bytes may return password itself,
	// which the caller clears.
	return norm.NFKC.Append(nil, password...), nil
}

func newSalt(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	s := make([]byte, SaltSize)
	if _, err := io.ReadFull(r, s); err != nil {
		return nil, fmt.Errorf("kdf: reading salt: %w", err)
	}
	return s, nil
}
