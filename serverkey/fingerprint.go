package serverkey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Kind names what a fingerprint is of. Fingerprints of different kinds
// never compare equal, even for the same bytes.
type Kind string

// Kinds with a built-in normalizer.
const (
	KindEmail Kind = "email" // NormalizeEmail
	KindPhone Kind = "phone" // NormalizePhone, with Config.PhoneCountryCode
)

// Limits of look-up values, checked before any work.
const (
	MaxEmailLen = 254 // RFC 5321 path limit minus the brackets
	MaxValueLen = 320 // bytes of any input to a normalizer or fingerprint
	maxKindLen  = 32
)

const fingerprintDomain = "piivault/serverkey/v1/fingerprint\x00"

// Fingerprint is a look-up key for a normalized value: HMAC-SHA256 under a
// key derived from one data key of the queue (FORMAT.md). It is
// deterministic, so it leaks equality (two accounts with one e-mail
// address have equal fingerprints) but not the value to anyone without the
// key.
type Fingerprint struct {
	KeyID string
	MAC   [sha256.Size]byte
}

// String returns "<key id>:<base64url MAC, no padding>", fit for an
// indexed database column.
func (f Fingerprint) String() string {
	return f.KeyID + ":" + base64.RawURLEncoding.EncodeToString(f.MAC[:])
}

// Equal compares two fingerprints; the MACs in constant time.
func (f Fingerprint) Equal(g Fingerprint) bool {
	return subtle.ConstantTimeCompare(f.MAC[:], g.MAC[:])&subtle.ConstantTimeEq(boolInt(f.KeyID == g.KeyID), 1) == 1
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// ParseFingerprint reads the String form back.
func ParseFingerprint(s string) (Fingerprint, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || len(s)-i-1 != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return Fingerprint{}, fmt.Errorf("%w: not <key id>:<mac>", ErrMalformed)
	}
	var f Fingerprint
	if err := checkKeyID(s[:i]); err != nil {
		return Fingerprint{}, fmt.Errorf("%w: invalid key id", ErrMalformed)
	}
	f.KeyID = s[:i]
	n, err := base64.RawURLEncoding.Strict().Decode(f.MAC[:], []byte(s[i+1:]))
	if err != nil || n != sha256.Size {
		return Fingerprint{}, fmt.Errorf("%w: mac is not 43 characters of base64url", ErrMalformed)
	}
	return f, nil
}

// Normalize applies kind's normalizer: NormalizeEmail, or NormalizePhone
// with the keyring's PhoneCountryCode.
func (kr *Keyring) Normalize(kind Kind, value string) (string, error) {
	switch kind {
	case KindEmail:
		return NormalizeEmail(value)
	case KindPhone:
		return NormalizePhone(value, kr.phoneCC)
	}
	return "", fmt.Errorf("%w: kind %q has no normalizer (use FingerprintNormalized)", ErrInvalidInput, kind)
}

// Fingerprint normalizes value for kind and returns its fingerprint under
// the current key: the one to store with the account.
func (kr *Keyring) Fingerprint(ctx context.Context, kind Kind, value string) (Fingerprint, error) {
	n, err := kr.Normalize(kind, value)
	if err != nil {
		return Fingerprint{}, err
	}
	return kr.fingerprint(ctx, kr.order[0], kind, n)
}

// Fingerprints normalizes value for kind and returns one fingerprint per
// key of the queue, current first: look an account up by any of them, so
// that look-ups keep working while stored fingerprints are being moved to
// the current key. The first call per key may call the KMS (see Warm).
func (kr *Keyring) Fingerprints(ctx context.Context, kind Kind, value string) ([]Fingerprint, error) {
	n, err := kr.Normalize(kind, value)
	if err != nil {
		return nil, err
	}
	out := make([]Fingerprint, len(kr.order))
	for i, e := range kr.order {
		if out[i], err = kr.fingerprint(ctx, e, kind, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FingerprintNormalized fingerprints a value the caller has normalized,
// for kinds without a built-in normalizer (1 to 32 bytes of [a-z0-9_]),
// under the current key. Most users won't need it: a value not normalized
// the same way every time never matches.
func (kr *Keyring) FingerprintNormalized(ctx context.Context, kind Kind, normalized string) (Fingerprint, error) {
	return kr.fingerprint(ctx, kr.order[0], kind, normalized)
}

// Verify reports whether fp is the fingerprint of value (normalized for
// kind) under fp's key, which must be in the queue (ErrUnknownKey
// otherwise). The comparison is constant time.
func (kr *Keyring) Verify(ctx context.Context, fp Fingerprint, kind Kind, value string) (bool, error) {
	e := kr.byID[fp.KeyID]
	if e == nil {
		return false, fmt.Errorf("%w: %q", ErrUnknownKey, fp.KeyID)
	}
	n, err := kr.Normalize(kind, value)
	if err != nil {
		return false, err
	}
	got, err := kr.fingerprint(ctx, e, kind, n)
	if err != nil {
		return false, err
	}
	return got.Equal(fp), nil
}

func validKind(k Kind) bool {
	if len(k) == 0 || len(k) > maxKindLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (kr *Keyring) fingerprint(ctx context.Context, e *entry, kind Kind, v string) (Fingerprint, error) {
	if !validKind(kind) {
		return Fingerprint{}, fmt.Errorf("%w: kind must be 1 to %d bytes of [a-z0-9_]", ErrInvalidInput, maxKindLen)
	}
	if len(v) == 0 || len(v) > MaxValueLen {
		return Fingerprint{}, fmt.Errorf("%w: value must be 1 to %d bytes", ErrInvalidValue, MaxValueLen)
	}
	fp := Fingerprint{KeyID: e.id}
	err := kr.use(ctx, e, func(e *entry) error {
		m := hmac.New(sha256.New, e.fpKey)
		m.Write([]byte(fingerprintDomain))
		var l [2]byte
		m.Write([]byte{byte(len(kind))})
		m.Write([]byte(kind))
		binary.BigEndian.PutUint16(l[:], uint16(len(v)))
		m.Write(l[:])
		m.Write([]byte(v))
		m.Sum(fp.MAC[:0])
		return nil
	})
	if err != nil {
		return Fingerprint{}, err
	}
	return fp, nil
}

// NormalizeEmail returns the look-up form of an e-mail address:
//
//   - leading and trailing white space removed;
//   - the whole address in Unicode NFC (composed and decomposed accents
//     match);
//   - the domain (after the last '@') case-folded (NFKC, then Unicode case
//     folding: "Example.COM" and "example.com" match) and stripped of one
//     trailing dot.
//
// Not normalized, so these are different addresses: the case of the local
// part ("Jane@" and "jane@": RFC 5321 lets a mail server tell them apart;
// lower-case it yourself first if your policy treats them as one, as
// Login.gov does); dots and "+tags" in the local part ("j.ane+x@" is not
// "jane@", although some providers deliver both to one mailbox); quoted
// local parts, which are kept byte for byte; Unicode domains against their
// punycode ("xn--") form; and addresses that differ in anything else.
//
// Refused (ErrInvalidValue): invalid UTF-8, over MaxEmailLen bytes after
// trimming, no '@', an empty local part or domain, a local part over 64
// bytes, white space or control characters inside, a domain without a dot
// or with an empty label.
func NormalizeEmail(s string) (string, error) {
	if len(s) > MaxValueLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxValueLen)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrInvalidValue)
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("%w: not local@domain", ErrInvalidValue)
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return "", fmt.Errorf("%w: local part over 64 bytes", ErrInvalidValue)
	}
	// NFKC and case folding do not commute for every script: iterate to a
	// fixed point, so that the result normalizes to itself. An ASCII domain
	// (the common case) is its own NFKC form and folds to lower case.
	if isASCII(domain) {
		domain = strings.ToLower(domain)
	}
	for i := 0; !isASCII(domain); i++ {
		next := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(domain)))
		if next == domain {
			break
		}
		if i == 3 {
			return "", fmt.Errorf("%w: domain has no stable case-folded form", ErrInvalidValue)
		}
		domain = next
	}
	domain = strings.TrimSuffix(domain, ".")
	if !strings.Contains(domain, ".") {
		return "", fmt.Errorf("%w: domain without a dot", ErrInvalidValue)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return "", fmt.Errorf("%w: empty domain label", ErrInvalidValue)
		}
	}
	out := local + "@" + domain
	// Checked on the result: NFKC can turn a domain character into a space
	// and a combining mark (U+02DA RING ABOVE).
	for _, r := range out {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", fmt.Errorf("%w: white space or control character inside", ErrInvalidValue)
		}
	}
	if len(out) > MaxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxEmailLen)
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func validCountryCode(cc string) bool {
	if len(cc) == 0 || len(cc) > 3 || cc[0] == '0' {
		return false
	}
	for i := 0; i < len(cc); i++ {
		if cc[i] < '0' || cc[i] > '9' {
			return false
		}
	}
	return true
}

// NormalizePhone returns a phone number in E.164 form, "+" and 7 to 15
// digits, without libphonenumber's per-country tables:
//
//   - spaces, '-', '.', '(' and ')' are dropped; any other character
//     (letters, an extension "x123", '/') is refused;
//   - a number starting with '+' is international: its digits are kept as
//     they are (the country code is not checked against the list of
//     assigned codes);
//   - any other number is national, in the country whose calling code is
//     defaultCC ("1", "33", "44", ...): for "1" (NANP: the United States,
//     Canada and the Caribbean) a leading trunk "1" is dropped and exactly
//     10 digits must remain, the first not 0 or 1; for every other code
//     one leading trunk "0" is dropped ("01 23 45 67 89" with "33" gives
//     "+33123456789"), except for "39" (Italy), where the 0 belongs to the
//     number.
//
// Not normalized: international call prefixes ("00 33 ...", "011 33 ..."
// are read as national numbers; write '+'), vanity letters, and national
// numbering rules beyond the above (number lengths outside NANP are not
// checked, so a mistyped digit still normalizes).
func NormalizePhone(s, defaultCC string) (string, error) {
	if len(s) > MaxValueLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxValueLen)
	}
	if !validCountryCode(defaultCC) {
		return "", fmt.Errorf("%w: default country code %q", ErrInvalidInput, defaultCC)
	}
	s = strings.TrimSpace(s)
	intl := strings.HasPrefix(s, "+")
	if intl {
		s = s[1:]
	}
	d := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if len(d) == 16 {
				return "", fmt.Errorf("%w: too many digits", ErrInvalidValue)
			}
			d = append(d, c)
		case strings.IndexByte(" -.()", c) >= 0:
		default:
			return "", fmt.Errorf("%w: unexpected character", ErrInvalidValue)
		}
	}
	if !intl {
		switch {
		case defaultCC == "1":
			if len(d) == 11 && d[0] == '1' {
				d = d[1:]
			}
			if len(d) != 10 || d[0] < '2' {
				return "", fmt.Errorf("%w: not a 10-digit NANP number", ErrInvalidValue)
			}
		case defaultCC != "39" && len(d) > 0 && d[0] == '0':
			d = d[1:]
		}
		d = append([]byte(defaultCC), d...)
	}
	if len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: E.164 needs 7 to 15 digits, the first not 0", ErrInvalidValue)
	}
	return "+" + string(d), nil
}
