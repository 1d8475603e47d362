package lettercode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Defaults applied when the corresponding [Config] field is zero.
const (
	DefaultLength      = 10                  // characters, 50 bits
	DefaultValidity    = 30 * 24 * time.Hour // see the package doc, # Validity
	DefaultMaxAttempts = 5
	DefaultWindow      = 10 * time.Minute
)

// Limits on configuration and on the stored encodings.
const (
	MinLength        = 8  // 40 bits: shorter codes are refused
	MaxLength        = 32 // 160 bits
	MaxValidity      = 366 * 24 * time.Hour
	MaxAttemptsLimit = 64  // largest MaxAttempts (the state stores one time per attempt)
	MaxKeyIDLength   = 64  // bytes
	MaxSubjectLength = 255 // bytes
	MinKeySize       = 32  // bytes of HMAC key
	maxInputLength   = 4 * MaxLength
)

// Alphabet is Crockford's base32 alphabet, in value order.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Errors a caller can tell apart with errors.Is.
var (
	ErrExpired         = errors.New("lettercode: code expired")
	ErrTooManyAttempts = errors.New("lettercode: too many attempts, try later")
	ErrMismatch        = errors.New("lettercode: code does not match")
	ErrMalformed       = errors.New("lettercode: malformed input or encoding")
	ErrUnknownKey      = errors.New("lettercode: record made under a key not in the keyring")
	ErrConfig          = errors.New("lettercode: invalid configuration")
)

const macDomain = "piivault/lettercode/v1\x00"

// Key is one HMAC key of a [Keyring]. ID is printable ASCII, 1 to
// MaxKeyIDLength bytes; Secret is at least MinKeySize random bytes.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring holds the HMAC keys by id, one of them current. It is safe for
// concurrent use once built; it keeps its own copies of the secrets.
type Keyring struct {
	current string
	keys    map[string][]byte
}

// NewKeyring returns a keyring whose current key (used for new codes) is
// current, and which also verifies records made under older. Ids must be
// distinct and valid, secrets at least MinKeySize bytes; the secrets are
// copied, so the caller may clear its own.
func NewKeyring(current Key, older ...Key) (*Keyring, error) {
	kr := &Keyring{current: current.ID, keys: make(map[string][]byte, 1+len(older))}
	for _, k := range append([]Key{current}, older...) {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("%w: key id %q", ErrConfig, k.ID)
		}
		if len(k.Secret) < MinKeySize {
			return nil, fmt.Errorf("%w: key %q shorter than %d bytes", ErrConfig, k.ID, MinKeySize)
		}
		if _, dup := kr.keys[k.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.ID)
		}
		kr.keys[k.ID] = append([]byte(nil), k.Secret...)
	}
	return kr, nil
}

// CurrentID returns the id of the key new codes are made under.
func (kr *Keyring) CurrentID() string { return kr.current }

// Close clears the keyring's copies of the secrets. Go's garbage collector
// may have copied them elsewhere in memory; Close clears only what it holds.
// A closed keyring verifies nothing (every record reports ErrUnknownKey).
func (kr *Keyring) Close() {
	for id, s := range kr.keys {
		clear(s)
		delete(kr.keys, id)
	}
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > MaxKeyIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// Config configures an [Issuer]. Zero fields take the defaults.
type Config struct {
	Keys        *Keyring      // required
	Length      int           // code length in characters; 0: DefaultLength
	Validity    time.Duration // 0: DefaultValidity; at most MaxValidity
	MaxAttempts int           // per Window; 0: DefaultMaxAttempts; at most MaxAttemptsLimit
	Window      time.Duration // 0: DefaultWindow
	Rand        io.Reader     // nil: crypto/rand
}

// Issuer issues and verifies codes. It is safe for concurrent use if its
// Rand is.
type Issuer struct {
	keys        *Keyring
	length      int
	validity    time.Duration
	maxAttempts int
	window      time.Duration
	rand        io.Reader
}

// New checks cfg and returns an Issuer.
func New(cfg Config) (*Issuer, error) {
	is := &Issuer{
		keys: cfg.Keys, length: cfg.Length, validity: cfg.Validity,
		maxAttempts: cfg.MaxAttempts, window: cfg.Window, rand: cfg.Rand,
	}
	if is.keys == nil || len(is.keys.keys) == 0 {
		return nil, fmt.Errorf("%w: no keyring", ErrConfig)
	}
	if is.length == 0 {
		is.length = DefaultLength
	}
	if is.validity == 0 {
		is.validity = DefaultValidity
	}
	if is.maxAttempts == 0 {
		is.maxAttempts = DefaultMaxAttempts
	}
	if is.window == 0 {
		is.window = DefaultWindow
	}
	if is.rand == nil {
		is.rand = rand.Reader
	}
	switch {
	case is.length < MinLength || is.length > MaxLength:
		return nil, fmt.Errorf("%w: length %d not in [%d, %d]", ErrConfig, is.length, MinLength, MaxLength)
	case is.validity < 0 || is.validity > MaxValidity:
		return nil, fmt.Errorf("%w: validity %v not in (0, %v]", ErrConfig, is.validity, MaxValidity)
	case is.maxAttempts < 0 || is.maxAttempts > MaxAttemptsLimit:
		return nil, fmt.Errorf("%w: max attempts %d not in [1, %d]", ErrConfig, is.maxAttempts, MaxAttemptsLimit)
	case is.window < 0:
		return nil, fmt.Errorf("%w: negative window", ErrConfig)
	}
	return is, nil
}

// Record is what the caller stores for an issued code: never the code, only
// its HMAC under the key named KeyID, bound to Subject and to both times.
type Record struct {
	KeyID     string
	Subject   string // caller's identifier of the user (e.g. account id); may be empty
	Length    int    // characters in the code
	IssuedAt  time.Time
	ExpiresAt time.Time
	MAC       [sha256.Size]byte
}

// Issue returns a fresh code, in its grouped display form ("ABCDE-FGHJK"),
// and the Record to store. The code is valid from now until
// now+Validity (excluded), for subject only (at most MaxSubjectLength bytes;
// may be empty). The caller prints the code in the letter and forgets it.
func (is *Issuer) Issue(subject string, now time.Time) (code string, rec Record, err error) {
	if len(subject) > MaxSubjectLength {
		return "", Record{}, fmt.Errorf("%w: subject longer than %d bytes", ErrMalformed, MaxSubjectLength)
	}
	exp := now.Add(is.validity)
	if !representable(now) || !representable(exp) {
		return "", Record{}, fmt.Errorf("%w: time out of range", ErrMalformed)
	}
	raw := make([]byte, is.length)
	if _, err := io.ReadFull(is.rand, raw); err != nil {
		return "", Record{}, fmt.Errorf("lettercode: reading randomness: %w", err)
	}
	for i, b := range raw {
		raw[i] = Alphabet[b&31] // 256 is a multiple of 32: uniform
	}
	defer clear(raw)
	rec = Record{
		KeyID: is.keys.current, Subject: subject, Length: is.length,
		IssuedAt: time.Unix(0, now.UnixNano()).UTC(), ExpiresAt: time.Unix(0, exp.UnixNano()).UTC(),
	}
	rec.MAC = rec.mac(is.keys.keys[rec.KeyID], raw)
	return Group(string(raw)), rec, nil
}

func representable(t time.Time) bool {
	return t.Equal(time.Unix(0, t.UnixNano())) && t.UnixNano() != math.MinInt64
}

func (r *Record) mac(key, normalized []byte) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macDomain))
	m.Write(r.header())
	m.Write(normalized)
	m.Sum(sum[:0])
	return sum
}

// header is the record encoding between the version byte and the MAC.
func (r *Record) header() []byte {
	b := make([]byte, 0, 3+len(r.KeyID)+len(r.Subject)+16)
	b = append(b, byte(r.Length), byte(len(r.KeyID)))
	b = append(b, r.KeyID...)
	b = append(b, byte(len(r.Subject)))
	b = append(b, r.Subject...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.IssuedAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.ExpiresAt.UnixNano()))
	return b
}

// Group returns code in dashed groups of five characters, as printed in a
// letter. It does not validate code.
func Group(code string) string {
	var sb strings.Builder
	for i := 0; i < len(code); i += 5 {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(code[i:min(i+5, len(code))])
	}
	return sb.String()
}

// Normalize maps what a user typed to the canonical code: letters are
// upper-cased, dashes and spaces removed, I and L read as 1 and O as 0. Any
// other character, or a result whose length is not length, is
// ErrMalformed. The result is a fresh slice the caller may clear.
func Normalize(input string, length int) ([]byte, error) {
	if len(input) > maxInputLength {
		return nil, fmt.Errorf("%w: input too long", ErrMalformed)
	}
	out := make([]byte, 0, length)
	for i := 0; i < len(input); i++ {
		c := input[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch c {
		case '-', ' ':
			continue
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		if strings.IndexByte(Alphabet, c) < 0 {
			clear(out)
			return nil, fmt.Errorf("%w: character not in the code alphabet", ErrMalformed)
		}
		out = append(out, c)
	}
	if len(out) != length {
		clear(out)
		return nil, fmt.Errorf("%w: code must have %d characters", ErrMalformed, length)
	}
	return out, nil
}

// Attempts is the attempt-limit state of one record: the times of the
// attempts counted in the current window, oldest first. The zero value is
// the state of a fresh record.
type Attempts struct {
	times []int64 // Unix nanoseconds, non-decreasing
}

// Count returns how many attempts the state holds.
func (a Attempts) Count() int { return len(a.times) }

// prune drops attempts older than the window ending at now. An attempt at
// t counts while now < t + window; if the clock went backwards nothing is
// dropped.
func (a Attempts) prune(now int64, window time.Duration) Attempts {
	i := 0
	for i < len(a.times) && now-a.times[i] >= int64(window) {
		i++
	}
	return Attempts{times: append([]int64(nil), a.times[i:]...)}
}

// Verify checks input (as typed by the user, see [Normalize]) against rec
// for subject at time now, and returns the attempt state to store in place
// of st whatever the outcome. Errors, in the order checked:
// [ErrMalformed] (input cannot be a code; not counted), [ErrExpired] (not
// counted), [ErrUnknownKey], [ErrTooManyAttempts] (MaxAttempts already
// counted in the last Window; the code is not examined), then the attempt
// is counted and the HMAC compared in constant time: [ErrMismatch] or nil.
// A different subject than the one the record was issued for is
// ErrMismatch.
func (is *Issuer) Verify(subject string, rec Record, st Attempts, input string, now time.Time) (Attempts, error) {
	st = st.prune(now.UnixNano(), is.window)
	if rec.Length < MinLength || rec.Length > MaxLength {
		return st, fmt.Errorf("%w: record code length", ErrMalformed)
	}
	code, err := Normalize(input, rec.Length)
	if err != nil {
		return st, err
	}
	defer clear(code)
	if !now.Before(rec.ExpiresAt) {
		return st, ErrExpired
	}
	key, ok := is.keys.keys[rec.KeyID]
	if !ok {
		return st, fmt.Errorf("%w: %q", ErrUnknownKey, rec.KeyID)
	}
	if len(st.times) >= is.maxAttempts {
		return st, ErrTooManyAttempts
	}
	t := now.UnixNano()
	if n := len(st.times); n > 0 && st.times[n-1] > t {
		t = st.times[n-1] // clock went backwards: keep the state ordered
	}
	st.times = append(st.times, t)
	if len(subject) > MaxSubjectLength {
		return st, ErrMismatch
	}
	cand := rec
	cand.Subject = subject
	sum := cand.mac(key, code)
	if !hmac.Equal(sum[:], rec.MAC[:]) {
		return st, ErrMismatch
	}
	return st, nil
}
