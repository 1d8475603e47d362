package lettercode

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// Defaults applied when the corresponding [Config] field is zero.
const (
	DefaultLength      = 10                  // characters, 50 bits
	DefaultValidity    = 30 * 24 * time.Hour // see the package doc, # Validity
	DefaultMaxAttempts = 5
	DefaultWindow      = 10 * time.Minute
	// DefaultMaxAttemptsPerSubject bounds the attempts on all of one
	// subject's records together in a Window, so that requesting several
	// letters does not multiply the guesses.
	DefaultMaxAttemptsPerSubject = 10
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
	// ErrNotYetValid: the verification time is before the record's
	// IssuedAt (a code is valid only from IssuedAt on). Not counted.
	ErrNotYetValid = errors.New("lettercode: code not valid yet")
	// ErrKeyringClosed: Issue on an Issuer whose Keyring was closed.
	ErrKeyringClosed = errors.New("lettercode: keyring closed")
)

const macDomain = "piivault/lettercode/v1\x00"

// Key is one HMAC key of a [Keyring]. ID is printable ASCII, 1 to
// MaxKeyIDLength bytes; Secret is at least MinKeySize random bytes.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring holds the HMAC keys by id, one of them current. It is safe for
// concurrent use, Close included; it keeps its own copies of the secrets.
type Keyring struct {
	current string
	mu      sync.RWMutex
	keys    map[string][]byte // nil once closed
}

// withKey calls f with the secret of key id under the read lock (so Close
// cannot clear it meanwhile) and reports whether the key exists; a closed
// keyring has none.
func (kr *Keyring) withKey(id string, f func(key []byte)) bool {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	k, ok := kr.keys[id]
	if ok {
		f(k)
	}
	return ok
}

func (kr *Keyring) closed() bool {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.keys == nil
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
// A closed keyring verifies nothing (every record reports ErrUnknownKey)
// and issues nothing (ErrKeyringClosed). Close waits for Issue and Verify
// calls using a key to finish with it, and may be called more than once.
func (kr *Keyring) Close() {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for _, s := range kr.keys {
		clear(s)
	}
	kr.keys = nil
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
	MaxAttempts int           // per record per Window; 0: DefaultMaxAttempts; at most MaxAttemptsLimit
	// MaxAttemptsPerSubject bounds the attempts on all records of one
	// (non-empty) subject per Window; 0: DefaultMaxAttemptsPerSubject; at
	// most MaxAttemptsLimit.
	MaxAttemptsPerSubject int
	Window                time.Duration // 0: DefaultWindow
	Rand                  io.Reader     // nil: crypto/rand
	// Attempts is where attempt counts live (see [AttemptStore]). nil: a
	// new [MemoryStore], which counts within this process only; a service
	// with several instances must share one store among them.
	Attempts AttemptStore
}

// Issuer issues and verifies codes. It is safe for concurrent use if its
// Rand and its AttemptStore are.
type Issuer struct {
	keys          *Keyring
	length        int
	validity      time.Duration
	maxAttempts   int
	maxPerSubject int
	window        time.Duration
	rand          io.Reader
	attempts      AttemptStore
}

// New checks cfg and returns an Issuer.
func New(cfg Config) (*Issuer, error) {
	is := &Issuer{
		keys: cfg.Keys, length: cfg.Length, validity: cfg.Validity,
		maxAttempts: cfg.MaxAttempts, maxPerSubject: cfg.MaxAttemptsPerSubject,
		window: cfg.Window, rand: cfg.Rand, attempts: cfg.Attempts,
	}
	if is.keys == nil || is.keys.closed() {
		return nil, fmt.Errorf("%w: no keyring, or a closed one", ErrConfig)
	}
	if is.maxPerSubject == 0 {
		is.maxPerSubject = DefaultMaxAttemptsPerSubject
	}
	if is.attempts == nil {
		is.attempts = NewMemoryStore()
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
	case is.maxPerSubject < 0 || is.maxPerSubject > MaxAttemptsLimit:
		return nil, fmt.Errorf("%w: max attempts per subject %d not in [1, %d]", ErrConfig, is.maxPerSubject, MaxAttemptsLimit)
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
	if !is.keys.withKey(rec.KeyID, func(key []byte) { rec.MAC = rec.mac(key, raw) }) {
		return "", Record{}, ErrKeyringClosed
	}
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
// for subject at time now. Errors, in the order checked, none of them
// counted as an attempt until the reservation step:
//
//  1. [ErrMalformed]: input cannot be a code;
//  2. [ErrMismatch]: subject is not the record's Subject (the stored Subject
//     is also covered by the MAC, so editing it in storage fails step 6);
//  3. [ErrNotYetValid] before rec.IssuedAt, [ErrExpired] from rec.ExpiresAt
//     on (valid: IssuedAt <= now < ExpiresAt);
//  4. [ErrUnknownKey]: rec's key is not in the keyring (or it was closed);
//  5. the attempt is reserved in the AttemptStore, by compare-and-swap,
//     first against the record's limit (MaxAttempts per Window), then
//     against the subject's (MaxAttemptsPerSubject per Window, all of the
//     subject's records together; not for an empty subject):
//     [ErrTooManyAttempts] if either is full, and the code is not
//     examined. Concurrent calls cannot all read the same stale count:
//     each attempt is stored before its code is checked;
//  6. the HMAC is compared in constant time: [ErrMismatch] or nil.
//
// An error from the store is returned wrapped and nothing is checked. A
// successful verification does not consume the record: the caller deletes
// it (codes are single use).
func (is *Issuer) Verify(ctx context.Context, subject string, rec Record, input string, now time.Time) error {
	if rec.Length < MinLength || rec.Length > MaxLength {
		return fmt.Errorf("%w: record code length", ErrMalformed)
	}
	code, err := Normalize(input, rec.Length)
	if err != nil {
		return err
	}
	defer clear(code)
	if subject != rec.Subject {
		return ErrMismatch
	}
	if now.Before(rec.IssuedAt) {
		return ErrNotYetValid
	}
	if !now.Before(rec.ExpiresAt) {
		return ErrExpired
	}
	if !is.keys.withKey(rec.KeyID, func([]byte) {}) {
		return fmt.Errorf("%w: %q", ErrUnknownKey, rec.KeyID)
	}
	t := now.UnixNano()
	if err := is.reserve(ctx, recordKey(&rec), is.maxAttempts, t); err != nil {
		return err
	}
	if subject != "" {
		if err := is.reserve(ctx, subjectKey(subject), is.maxPerSubject, t); err != nil {
			return err
		}
	}
	var sum [sha256.Size]byte
	if !is.keys.withKey(rec.KeyID, func(key []byte) { sum = rec.mac(key, code) }) {
		return fmt.Errorf("%w: %q", ErrUnknownKey, rec.KeyID) // closed meanwhile
	}
	if !hmac.Equal(sum[:], rec.MAC[:]) {
		return ErrMismatch
	}
	return nil
}

// maxCASRetries bounds the compare-and-swap loop of reserve. Each lost
// round means another caller's attempt was stored, so the limit is reached
// after at most MaxAttemptsLimit lost rounds in one window; the bound only
// guards against a store that never agrees.
const maxCASRetries = 1000

// reserve adds an attempt at t to the state under key, unless it already
// holds limit attempts in the window ending at t (ErrTooManyAttempts).
func (is *Issuer) reserve(ctx context.Context, key string, limit int, t int64) error {
	for range maxCASRetries {
		old, err := is.attempts.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("lettercode: attempt store: %w", err)
		}
		var st Attempts
		if old != nil {
			if st, err = ParseAttempts(old); err != nil {
				return fmt.Errorf("attempt state under %q: %w", key, err)
			}
		}
		st = st.prune(t, is.window)
		if len(st.times) >= limit {
			return ErrTooManyAttempts
		}
		at := t
		if n := len(st.times); n > 0 && st.times[n-1] > at {
			at = st.times[n-1] // clock went backwards: keep the state ordered
		}
		st.times = append(st.times, at)
		b, err := st.MarshalBinary()
		if err != nil {
			return err
		}
		ok, err := is.attempts.CompareAndSwap(ctx, key, old, b)
		if err != nil {
			return fmt.Errorf("lettercode: attempt store: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%w: attempt state kept changing under %q", ErrTooManyAttempts, key)
}

// recordKey and subjectKey name the attempt states in the AttemptStore.
// A record is named by its MAC, unique per issued code.
func recordKey(r *Record) string { return "lettercode/v1/record/" + hex.EncodeToString(r.MAC[:]) }
func subjectKey(subject string) string {
	return "lettercode/v1/subject/" + hex.EncodeToString([]byte(subject))
}

// AttemptStore keeps attempt states ([Attempts] encodings) by key. The
// Issuer reads a state, adds the new attempt, and writes it back with
// CompareAndSwap, retrying if another call changed it meanwhile: the
// attempt is counted before the code is checked, whatever the concurrency.
// A database implements CompareAndSwap as a conditional write ("UPDATE ...
// WHERE state = old", or an insert that fails if the row exists when old
// is nil).
type AttemptStore interface {
	// Get returns the state stored under key, or nil if there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// CompareAndSwap stores new under key if the stored state is still old
	// (nil: no state stored), atomically, and reports whether it did.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error)
}

// MemoryStore is an AttemptStore in process memory, safe for concurrent
// use. It counts attempts within one process only and forgets them on
// restart; services with several instances need a shared store. It keeps
// one small state (at most 6+8*MaxAttemptsLimit bytes) per record and per
// subject ever attempted.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string][]byte{}} }

// Get implements AttemptStore.
func (s *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return append([]byte{}, v...), nil
	}
	return nil, nil
}

// CompareAndSwap implements AttemptStore.
func (s *MemoryStore) CompareAndSwap(_ context.Context, key string, old, new []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[key]
	if ok != (old != nil) || (ok && string(cur) != string(old)) {
		return false, nil
	}
	s.m[key] = append([]byte(nil), new...)
	return true, nil
}
