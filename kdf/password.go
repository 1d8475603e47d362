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
// section 5.1.1.2: "verifiers SHOULD apply the Normalization Process for
// Stabilized Strings using either the NFKC or NFKD normalization"), so that
// a password typed as a precomposed "é" (U+00E9) or as "e" followed by a
// combining acute accent (U+0301), or with a compatibility character such
// as the "ﬁ" ligature, derives the same key on every device.
//
// It refuses, with an error wrapping ErrPasswordRejected, an empty password
// (ErrPasswordEmpty), one longer than MaxPasswordBytes (ErrPasswordTooLong)
// and one that is not UTF-8 (ErrPasswordNotUTF8). Nothing is truncated;
// whitespace and case are kept. The result is a new slice (never password
// itself) that the caller should clear; it may be longer than password, as
// NFKC expands some characters.
func NormalizePassword(password []byte) ([]byte, error) {
	switch {
	case len(password) == 0:
		return nil, ErrPasswordEmpty
	case len(password) > MaxPasswordBytes:
		return nil, ErrPasswordTooLong
	case !utf8.Valid(password):
		return nil, ErrPasswordNotUTF8
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
