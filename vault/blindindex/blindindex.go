package blindindex

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Field names a kind of value. Fingerprints of different fields never
// compare equal, even for the same bytes.
type Field string

// Fields with a built-in normalizer (see [Normalize]).
const (
	FieldSSN        Field = "ssn"
	FieldGivenName  Field = "given_name"
	FieldFamilyName Field = "family_name"
	FieldBirthDate  Field = "birthdate"
	FieldPhone      Field = "phone"
)

// Limits.
const (
	MinKeySize     = 32  // bytes of HMAC key
	MaxKeyIDLength = 64  // bytes, printable ASCII without ':'
	MaxFieldLength = 64  // bytes, [a-z0-9_]
	MaxValueLength = 256 // bytes of input value, checked before any work
)

// Errors a caller can tell apart with errors.Is.
var (
	ErrInvalidValue = errors.New("blindindex: value does not normalize")
	ErrUnknownField = errors.New("blindindex: field has no normalizer")
	ErrConfig       = errors.New("blindindex: invalid key or keyring")
)

// macDomain prefixes every MAC input; subkeyInfo is the HKDF info prefix
// of a field's subkey. Version 2 derives one subkey per field (version 1
// used the key itself for every field; its fingerprints do not match).
const (
	macDomain  = "piivault/blindindex/v2\x00"
	subkeyInfo = "piivault/blindindex/v2/field\x00"
)

// builtinFields have their subkeys derived once, when the keyring is made.
var builtinFields = [...]Field{FieldSSN, FieldGivenName, FieldFamilyName, FieldBirthDate, FieldPhone}

// fieldSubkey derives the 32-byte subkey of field from a key's secret:
// HKDF-SHA256(IKM = secret, salt = none, info = subkeyInfo || field).
func fieldSubkey(secret []byte, field Field) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, subkeyInfo+string(field), sha256.Size)
	if err != nil {
		panic("blindindex: " + err.Error()) // unreachable: 32 bytes is within HKDF's limit
	}
	return k
}

// Key is one HMAC key of a [Keyring]: ID is 1 to MaxKeyIDLength bytes of
// printable ASCII without ':'; Secret is at least MinKeySize random bytes.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring holds the HMAC keys, one current and any number of older ones,
// in the order given. Each key's secret is used only to derive one subkey
// per field (see # FORMAT in the package doc), so the subkeys of one field
// can be handed to a service that must index that field alone
// ([Keyring.FieldKeys], [NewFieldKeyring]); they reveal neither the
// secret nor any other field's subkey. It keeps copies of the secrets and
// is safe for concurrent use, Close included.
type Keyring struct {
	mu   sync.RWMutex
	keys []keyEntry // keys[0] is current; nil once closed
	// only is set for a keyring made by NewFieldKeyring: it holds that
	// field's subkeys and no secret.
	only Field
}

type keyEntry struct {
	id     string
	secret []byte           // nil in a field keyring
	subs   map[Field][]byte // derived subkeys (the built-in fields; or only)
}

// subkey returns e's subkey for field, derived on the fly for fields that
// are not built in; ok is false if e cannot serve field.
func (e *keyEntry) subkey(field Field) (k []byte, derived bool) {
	if k, ok := e.subs[field]; ok {
		return k, false
	}
	if e.secret == nil {
		return nil, false
	}
	return fieldSubkey(e.secret, field), true
}

// NewKeyring returns a keyring whose current key is current, followed by
// older (newest first). Ids must be distinct.
func NewKeyring(current Key, older ...Key) (*Keyring, error) {
	kr := &Keyring{}
	err := checkKeys(append([]Key{current}, older...), func(k Key) {
		e := keyEntry{id: k.ID, secret: append([]byte(nil), k.Secret...), subs: map[Field][]byte{}}
		for _, f := range builtinFields {
			e.subs[f] = fieldSubkey(e.secret, f)
		}
		kr.keys = append(kr.keys, e)
	})
	if err != nil {
		return nil, err
	}
	return kr, nil
}

// NewFieldKeyring returns a keyring that fingerprints field only, from the
// subkeys [Keyring.FieldKeys] exported for it (current first; same ids).
// Its fingerprints equal those of the full keyring for that field; for any
// other field it fails with ErrConfig.
func NewFieldKeyring(field Field, current Key, older ...Key) (*Keyring, error) {
	if !validField(field) {
		return nil, fmt.Errorf("%w: invalid field name", ErrUnknownField)
	}
	kr := &Keyring{only: field}
	err := checkKeys(append([]Key{current}, older...), func(k Key) {
		kr.keys = append(kr.keys, keyEntry{id: k.ID, subs: map[Field][]byte{field: append([]byte(nil), k.Secret...)}})
	})
	if err != nil {
		return nil, err
	}
	return kr, nil
}

func checkKeys(keys []Key, add func(Key)) error {
	seen := map[string]bool{}
	for _, k := range keys {
		if !validKeyID(k.ID) {
			return fmt.Errorf("%w: key id %q", ErrConfig, k.ID)
		}
		if len(k.Secret) < MinKeySize {
			return fmt.Errorf("%w: key %q shorter than %d bytes", ErrConfig, k.ID, MinKeySize)
		}
		if seen[k.ID] {
			return fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.ID)
		}
		seen[k.ID] = true
		add(k)
	}
	return nil
}

// FieldKeys returns field's subkey under every key of the ring, current
// first, each as a Key with the same id: what to give a service that must
// fingerprint field and nothing else (it builds a keyring from them with
// NewFieldKeyring). The secrets returned are copies; clear them when
// stored elsewhere.
func (kr *Keyring) FieldKeys(field Field) ([]Key, error) {
	if !validField(field) {
		return nil, fmt.Errorf("%w: invalid field name", ErrUnknownField)
	}
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if err := kr.serves(field); err != nil {
		return nil, err
	}
	out := make([]Key, len(kr.keys))
	for i := range kr.keys {
		k, derived := kr.keys[i].subkey(field)
		if !derived {
			k = append([]byte(nil), k...)
		}
		out[i] = Key{ID: kr.keys[i].id, Secret: k}
	}
	return out, nil
}

// serves reports whether kr (read-locked) can fingerprint field.
func (kr *Keyring) serves(field Field) error {
	switch {
	case len(kr.keys) == 0:
		return errClosed
	case kr.only != "" && field != kr.only:
		return fmt.Errorf("%w: keyring holds the keys of field %q only", ErrConfig, kr.only)
	}
	return nil
}

// CurrentID returns the id of the key [Keyring.Fingerprint] uses.
// It returns "" once the keyring is closed.
func (kr *Keyring) CurrentID() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if len(kr.keys) == 0 {
		return ""
	}
	return kr.keys[0].id
}

var errClosed = fmt.Errorf("%w: keyring closed", ErrConfig)

// Close clears the keyring's copies of the secrets and subkeys (not copies
// the runtime may have made). Afterwards every method fails with
// ErrConfig. Close waits for calls in progress.
func (kr *Keyring) Close() {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for _, e := range kr.keys {
		clear(e.secret)
		for _, k := range e.subs {
			clear(k)
		}
	}
	kr.keys = nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > MaxKeyIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e || id[i] == ':' {
			return false
		}
	}
	return true
}

func validField(f Field) bool {
	if len(f) == 0 || len(f) > MaxFieldLength {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Fingerprint is the blind index of one value of one field under one key.
type Fingerprint struct {
	KeyID string
	Field Field
	MAC   [sha256.Size]byte
}

// String returns "<key id>:<field>:<base64url MAC>", a form fit for a
// database column; equal fingerprints give equal strings.
func (fp Fingerprint) String() string {
	return fp.KeyID + ":" + string(fp.Field) + ":" + base64.RawURLEncoding.EncodeToString(fp.MAC[:])
}

// Fingerprint normalizes value for field (see [Normalize]) and returns its
// fingerprint under the current key.
func (kr *Keyring) Fingerprint(field Field, value string) (Fingerprint, error) {
	n, err := Normalize(field, value)
	if err != nil {
		return Fingerprint{}, err
	}
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if err := kr.serves(field); err != nil {
		return Fingerprint{}, err
	}
	return kr.mac(&kr.keys[0], field, n), nil
}

// Fingerprints normalizes value for field and returns its fingerprint under
// every key of the ring, the current key first: the set to look duplicates
// up with while older keys are still in use.
func (kr *Keyring) Fingerprints(field Field, value string) ([]Fingerprint, error) {
	n, err := Normalize(field, value)
	if err != nil {
		return nil, err
	}
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if err := kr.serves(field); err != nil {
		return nil, err
	}
	out := make([]Fingerprint, len(kr.keys))
	for i := range kr.keys {
		out[i] = kr.mac(&kr.keys[i], field, n)
	}
	return out, nil
}

// FingerprintNormalized fingerprints an already-normalized value of any
// valid field name ([a-z0-9_], 1 to MaxFieldLength bytes) under the current
// key, for fields without a built-in normalizer. Most users won't need it:
// a value not normalized consistently never matches.
func (kr *Keyring) FingerprintNormalized(field Field, normalized string) (Fingerprint, error) {
	if !validField(field) {
		return Fingerprint{}, fmt.Errorf("%w: invalid field name", ErrUnknownField)
	}
	if len(normalized) == 0 || len(normalized) > MaxValueLength {
		return Fingerprint{}, fmt.Errorf("%w: empty or too long", ErrInvalidValue)
	}
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if err := kr.serves(field); err != nil {
		return Fingerprint{}, err
	}
	return kr.mac(&kr.keys[0], field, normalized), nil
}

// mac computes the fingerprint of v for field under e's subkey for field.
// The caller holds kr.mu and has checked kr.serves(field).
func (kr *Keyring) mac(e *keyEntry, field Field, v string) Fingerprint {
	sub, derived := e.subkey(field)
	if derived {
		defer clear(sub)
	}
	m := hmac.New(sha256.New, sub)
	m.Write([]byte(macDomain))
	var l [4]byte
	binary.BigEndian.PutUint16(l[:2], uint16(len(field)))
	m.Write(l[:2])
	m.Write([]byte(field))
	binary.BigEndian.PutUint32(l[:], uint32(len(v)))
	m.Write(l[:])
	m.Write([]byte(v))
	fp := Fingerprint{KeyID: e.id, Field: field}
	m.Sum(fp.MAC[:0])
	return fp
}

// Normalize applies the normalizer of field: FieldSSN [NormalizeSSN],
// FieldGivenName and FieldFamilyName [NormalizeName], FieldBirthDate
// [NormalizeBirthDate], FieldPhone [NormalizePhone]. Other fields are
// ErrUnknownField.
func Normalize(field Field, value string) (string, error) {
	if len(value) > MaxValueLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxValueLength)
	}
	switch field {
	case FieldSSN:
		return NormalizeSSN(value)
	case FieldGivenName, FieldFamilyName:
		return NormalizeName(value)
	case FieldBirthDate:
		return NormalizeBirthDate(value)
	case FieldPhone:
		return NormalizePhone(value)
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownField, field)
}

// NormalizeSSN returns the nine digits of an SSN written with or without
// dashes or spaces ("900-12-3456", "900 12 3456", "900123456"). Anything
// else (letters, other punctuation, a digit count other than nine) is
// ErrInvalidValue. It does not check SSA issuance rules: test numbers in
// the 900 range normalize.
func NormalizeSSN(s string) (string, error) {
	return digits(s, "- ", 9, 9)
}

// NormalizePhone returns the digits of a phone number, dropping '+', spaces,
// dashes, dots and parentheses; the result must have 7 to 15 digits (E.164
// allows 15). It does not add a country code: store numbers in E.164 form
// ("+1 ...") so that "+1 202 555 0100" and "202 555 0100" are not taken
// for different people, or for the same person when they are not.
func NormalizePhone(s string) (string, error) {
	return digits(s, "+ -.()", 7, 15)
}

func digits(s, drop string, minN, maxN int) (string, error) {
	if len(s) > MaxValueLength {
		return "", fmt.Errorf("%w: too long", ErrInvalidValue)
	}
	b := make([]byte, 0, maxN)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(b) == maxN {
				return "", fmt.Errorf("%w: more than %d digits", ErrInvalidValue, maxN)
			}
			b = append(b, c)
		case strings.IndexByte(drop, c) >= 0:
		default:
			return "", fmt.Errorf("%w: unexpected character", ErrInvalidValue)
		}
	}
	if len(b) < minN {
		return "", fmt.Errorf("%w: fewer than %d digits", ErrInvalidValue, minN)
	}
	return string(b), nil
}

// NormalizeName returns name in Unicode NFKC form, case-folded, without
// default-ignorable code points (zero-width space and joiners, soft
// hyphen, byte-order mark, bidirectional controls, variation selectors,
// tags: Unicode's Default_Ignorable_Code_Point property, which renders as
// nothing), with leading and trailing white space removed and inner runs
// of white space collapsed to one space: " Jane  SAMPLE ", "jane sample"
// and "Sam\u200bple" for "Sample" index alike. Diacritics and punctuation
// are kept ("José" and "Jose", "O'Neil" and "ONeil" differ). Invalid
// UTF-8, control characters and names that are empty after trimming are
// ErrInvalidValue.
func NormalizeName(name string) (string, error) {
	if len(name) > MaxValueLength || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: invalid UTF-8 or too long", ErrInvalidValue)
	}
	// NFKC and case folding do not commute for every script (Cherokee
	// folds to upper case): iterate to a fixed point, which keeps the
	// normalizer idempotent, and refuse the rare string that has none.
	s := name
	for i := 0; ; i++ {
		next := stripIgnorable(norm.NFKC.String(cases.Fold().String(norm.NFKC.String(stripIgnorable(s)))))
		if next == s {
			break
		}
		if i == 3 {
			return "", fmt.Errorf("%w: no stable case-folded form", ErrInvalidValue)
		}
		s = next
	}
	var sb strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = sb.Len() > 0
			continue
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: control character", ErrInvalidValue)
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	if sb.Len() == 0 {
		return "", fmt.Errorf("%w: empty name", ErrInvalidValue)
	}
	return sb.String(), nil
}

// isDefaultIgnorable reports whether r has Unicode's derived property
// Default_Ignorable_Code_Point (DerivedCoreProperties.txt):
// Other_Default_Ignorable_Code_Point, format characters (Cf) and variation
// selectors, less white space, the interlinear annotation characters
// U+FFF9..U+FFFB, the Egyptian hieroglyph format controls U+13430..U+1343F
// and the prepended concatenation marks (which are visible).
func isDefaultIgnorable(r rune) bool {
	switch {
	case r < 0xAD: // U+00AD SOFT HYPHEN is the first; ASCII names pay nothing
		return false
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r):
		return !unicode.Is(unicode.White_Space, r)
	case !unicode.Is(unicode.Cf, r),
		unicode.Is(unicode.White_Space, r),
		r >= 0xFFF9 && r <= 0xFFFB,
		r >= 0x13430 && r <= 0x1343F,
		unicode.Is(unicode.Prepended_Concatenation_Mark, r):
		return false
	}
	return true
}

// stripIgnorable removes default-ignorable code points from s.
func stripIgnorable(s string) string {
	i := strings.IndexFunc(s, isDefaultIgnorable)
	if i < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.WriteString(s[:i])
	for _, r := range s[i:] {
		if !isDefaultIgnorable(r) {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// NormalizeBirthDate accepts exactly a calendar date written YYYY-MM-DD
// (surrounding white space trimmed) and returns it unchanged; impossible
// dates ("2001-02-29") and other layouts are ErrInvalidValue.
func NormalizeBirthDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return "", fmt.Errorf("%w: not a YYYY-MM-DD date", ErrInvalidValue)
	}
	return s, nil
}
