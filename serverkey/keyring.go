package serverkey

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/piivault/piivault/envelope"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Sizes and limits, checked before anything is allocated.
const (
	// DataKeySize is the size of a data key.
	DataKeySize = 32
	// MaxKeyIDLen bounds a key id: 1 to 64 bytes of printable ASCII
	// (0x21..0x7e) without ':'.
	MaxKeyIDLen = 64
	// MaxUserIDLen and MaxAttributeLen bound the binding (the envelope
	// format's limit).
	MaxUserIDLen    = envelope.MaxBindingField
	MaxAttributeLen = envelope.MaxBindingField
	// MaxPlaintext bounds one attribute value: server-readable attributes
	// are small (an address, a phone number, a TOTP seed).
	MaxPlaintext = 64 << 10
	// Overhead is the length of a ciphertext Seal writes minus its
	// plaintext and key id.
	Overhead = prefixSize + 1 + envelope.RecordOverhead
	// MaxCiphertext is the longest ciphertext Open accepts (a version-1
	// ciphertext, whose record has the larger overhead).
	MaxCiphertext = prefixSize + 1 + MaxKeyIDLen + envelope.RecordOverheadV1 + MaxPlaintext
)

// Format identifiers (FORMAT.md). They are persisted and never change
// meaning.
const (
	magic      = "PVSK"
	version1   = 1 // read only: one attribute key per data key, version-1 records
	version3   = 3 // written: one attribute key per data key and user (2 is reserved: the version-1 vectors use it as an unknown version)
	prefixSize = 4 + 1

	labelDataKey     = "piivault/serverkey/v1/data-key"
	labelDerive      = "piivault/serverkey/v1"
	infoAttribute    = "attribute\x00"
	infoFingerprint  = "fingerprint\x00"
	wrappedPlainSize = len(labelDataKey) + 1 + DataKeySize // + key id
)

// WrappedKey is a data key as the operator keeps it (in configuration or a
// secrets store): its id and its ciphertext under the key-encryption key.
// Neither field is secret without the key-encryption key.
type WrappedKey struct {
	ID      string
	Wrapped []byte
}

// Config configures a Keyring.
type Config struct {
	// KEK wraps the data keys: a KMS or HSM key through any tink.AEAD
	// (Tink's AWS, GCP and Vault KMS clients, integrations/pkcs11hsm). If
	// it also implements tink.AEADWithContext, the context is passed on.
	KEK tink.AEAD
	// Current seals new data and computes new fingerprints.
	Current WrappedKey
	// Older keys still open data and match fingerprints, newest first.
	Older []WrappedKey
	// CacheFor is how long an unwrapped data key is used before the KEK is
	// asked again. 0: for the life of the Keyring, so one KMS call per data
	// key per process. When a refresh fails the key is dropped and the
	// operation fails (fail closed: a disabled KMS key stops the service
	// within CacheFor).
	CacheFor time.Duration
	// PhoneCountryCode is the country calling code assumed for phone
	// numbers written without '+' (see NormalizePhone). "": "1" (NANP).
	PhoneCountryCode string
	// Rand supplies salts and nonces. nil: crypto/rand.
	Rand io.Reader
	// Now is the clock for CacheFor. nil: time.Now.
	Now func() time.Time
	// UserKeyCache is how many per-user attribute keys (one per data key
	// and user, FORMAT.md 1.2) the Keyring keeps prepared for the users it
	// served last, so that their next Seal or Open skips the key
	// derivation: about 95% of its time and all its allocations but the
	// output's. 0: DefaultUserKeyCache (1024). Negative: none kept (each
	// Seal and Open derives its key and destroys it after, as before there
	// was a cache). The cache is shared by all the data keys of the
	// Keyring, split into up to 16 independently locked shards by a keyed
	// hash of the user id, least recently used first out in each shard;
	// it never holds more than UserKeyCache keys. A prepared key takes
	// about 1.9 KiB of memory (AES-GCM and HMAC states, the user id, the
	// bookkeeping; up to about 4 KiB while the scratch memory of its last
	// operation is still pooled), so the default is about 2 MiB. A miss costs about 10%
	// more than no cache (the eviction); Rotate walks every user once and so
	// replaces the cached users with the ones it rotates. The keys of a
	// data key are destroyed with it (Close, a CacheFor refresh or its
	// failure); see the package's security notes.
	UserKeyCache int
}

// Keyring seals and opens server-readable attributes and computes look-up
// fingerprints under a queue of data keys: the current key for new data,
// older keys for data not yet rotated. It is safe for concurrent use.
type Keyring struct {
	kek      tink.AEAD
	order    []*entry // current first
	byID     map[string]*entry
	cacheFor time.Duration
	phoneCC  string
	rand     io.Reader
	now      func() time.Time
	users    *userCache // nil: per-user keys are not cached
	unwraps  atomic.Int64
	derives  atomic.Int64 // per-user key derivations (tests)
	closed   atomic.Bool
}

type entry struct {
	id      string
	wrapped []byte

	mu      sync.RWMutex
	prk     []byte              // HKDF-Extract of the data key; nil until unwrapped, and after Close
	rk1     *envelope.RecordKey // version-1 attribute key
	fpKey   []byte
	fetched time.Time
}

// GenerateDataKey makes a fresh random data key named id and wraps it under
// kek (one KMS call). Store the result in configuration; the plaintext key
// is cleared before return.
func GenerateDataKey(ctx context.Context, kek tink.AEAD, id string, r io.Reader) (WrappedKey, error) {
	if kek == nil {
		return WrappedKey{}, fmt.Errorf("%w: nil key-encryption key", ErrInvalidInput)
	}
	if err := checkKeyID(id); err != nil {
		return WrappedKey{}, err
	}
	if r == nil {
		r = rand.Reader
	}
	pt := dataKeyPlaintext(id)
	defer clear(pt)
	if _, err := io.ReadFull(r, pt[len(pt)-DataKeySize:]); err != nil {
		return WrappedKey{}, fmt.Errorf("serverkey: reading data key: %w", err)
	}
	var ct []byte
	var err error
	if c, ok := kek.(tink.AEADWithContext); ok {
		ct, err = c.EncryptWithContext(ctx, pt, dataKeyAD(id))
	} else {
		if err := ctx.Err(); err != nil {
			return WrappedKey{}, fmt.Errorf("serverkey: %w", err)
		}
		ct, err = kek.Encrypt(pt, dataKeyAD(id))
	}
	if err != nil {
		return WrappedKey{}, fmt.Errorf("%w: wrapping data key %q: %w", ErrKMS, id, err)
	}
	return WrappedKey{ID: id, Wrapped: ct}, nil
}

// dataKeyAD is the associated data of a wrapped data key:
// "piivault/serverkey/v1/data-key" || u8 len(id) || id.
func dataKeyAD(id string) []byte {
	ad := make([]byte, 0, len(labelDataKey)+1+len(id))
	ad = append(ad, labelDataKey...)
	ad = append(ad, byte(len(id)))
	return append(ad, id...)
}

// dataKeyPlaintext returns dataKeyAD(id) followed by DataKeySize zero
// bytes, where the key goes. The id is inside the plaintext because some
// KMS backends ignore associated data.
func dataKeyPlaintext(id string) []byte {
	pt := make([]byte, 0, wrappedPlainSize+len(id))
	pt = append(pt, dataKeyAD(id)...)
	return append(pt, make([]byte, DataKeySize)...)
}

func checkKeyID[T string | []byte](id T) error {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d bytes", ErrInvalidInput, MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e || c == ':' {
			return fmt.Errorf("%w: key id byte %#x not printable ASCII without ':'", ErrInvalidInput, c)
		}
	}
	return nil
}

// New returns a Keyring for cfg. It makes no KMS call: data keys are
// unwrapped on first use (or all at once by Warm, at start-up).
func New(cfg Config) (*Keyring, error) {
	if cfg.KEK == nil {
		return nil, fmt.Errorf("%w: nil key-encryption key", ErrInvalidInput)
	}
	if cfg.CacheFor < 0 {
		return nil, fmt.Errorf("%w: negative CacheFor", ErrInvalidInput)
	}
	cc := cfg.PhoneCountryCode
	if cc == "" {
		cc = "1"
	}
	if !validCountryCode(cc) {
		return nil, fmt.Errorf("%w: phone country code %q is not 1 to 3 digits without a leading 0", ErrInvalidInput, cc)
	}
	size := cfg.UserKeyCache
	if size == 0 {
		size = DefaultUserKeyCache
	}
	kr := &Keyring{
		kek:      cfg.KEK,
		byID:     map[string]*entry{},
		cacheFor: cfg.CacheFor,
		phoneCC:  cc,
		rand:     cfg.Rand,
		now:      cfg.Now,
		users:    newUserCache(size),
	}
	if kr.rand == nil {
		kr.rand = rand.Reader
	}
	if kr.now == nil {
		kr.now = time.Now
	}
	for _, wk := range append([]WrappedKey{cfg.Current}, cfg.Older...) {
		if err := checkKeyID(wk.ID); err != nil {
			return nil, err
		}
		if len(wk.Wrapped) == 0 {
			return nil, fmt.Errorf("%w: key %q has no wrapped bytes", ErrInvalidInput, wk.ID)
		}
		if kr.byID[wk.ID] != nil {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrInvalidInput, wk.ID)
		}
		e := &entry{id: wk.ID, wrapped: append([]byte(nil), wk.Wrapped...)}
		kr.byID[wk.ID] = e
		kr.order = append(kr.order, e)
	}
	return kr, nil
}

// CurrentID returns the id of the key new data is sealed under.
func (kr *Keyring) CurrentID() string { return kr.order[0].id }

// KeyIDs returns the ids of the queue, current first.
func (kr *Keyring) KeyIDs() []string {
	ids := make([]string, len(kr.order))
	for i, e := range kr.order {
		ids[i] = e.id
	}
	return ids
}

// Unwraps returns how many times the Keyring has called the key-encryption
// key's Decrypt (KMS calls), successful or not.
func (kr *Keyring) Unwraps() int64 { return kr.unwraps.Load() }

// Warm unwraps every data key of the queue now (one KMS call each), so that
// later operations make none until CacheFor runs out. Call it at start-up
// to fail fast on a misconfigured KMS.
func (kr *Keyring) Warm(ctx context.Context) error {
	for _, e := range kr.order {
		if err := kr.use(ctx, e, func(*entry) error { return nil }); err != nil {
			return err
		}
	}
	return nil
}

// Close clears every unwrapped data key and destroys every per-user key
// derived from them. It is safe to call concurrently with other calls:
// those already using a key finish first (Close waits for them), later
// ones fail with ErrClosed.
func (kr *Keyring) Close() {
	kr.closed.Store(true)
	for _, e := range kr.order {
		e.mu.Lock()
		kr.drop(e)
		e.mu.Unlock()
	}
}

// drop clears e's unwrapped keys and destroys its cached per-user keys.
// Called with e.mu held for writing: no goroutine is using any of them
// (they are used only under e.mu), so every one is destroyed here.
func (kr *Keyring) drop(e *entry) {
	if kr.users != nil {
		kr.users.purge(e)
	}
	if e.rk1 != nil {
		e.rk1.Destroy()
		e.rk1 = nil
	}
	clear(e.prk)
	clear(e.fpKey)
	e.prk, e.fpKey = nil, nil
}

func (kr *Keyring) fresh(e *entry) bool {
	return e.prk != nil && (kr.cacheFor == 0 || kr.now().Sub(e.fetched) < kr.cacheFor)
}

// use runs f with e's unwrapped keys, unwrapping (one KMS call) when they
// are missing or older than CacheFor. The unwrap holds e's lock, so calls
// needing that key wait for it (one KMS call serves them all) whatever
// their own context says.
func (kr *Keyring) use(ctx context.Context, e *entry, f func(*entry) error) error {
	if kr.closed.Load() {
		return ErrClosed
	}
	e.mu.RLock()
	if kr.fresh(e) {
		defer e.mu.RUnlock()
		return f(e)
	}
	e.mu.RUnlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if kr.closed.Load() {
		return ErrClosed
	}
	if !kr.fresh(e) {
		kr.drop(e)
		if err := kr.unwrap(ctx, e); err != nil {
			return err
		}
	}
	return f(e)
}

// unwrap asks the KEK for e's data key and derives the attribute and
// fingerprint keys from it. Called with e.mu held for writing.
func (kr *Keyring) unwrap(ctx context.Context, e *entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("serverkey: %w", err)
	}
	kr.unwraps.Add(1)
	ad := dataKeyAD(e.id)
	var pt []byte
	var err error
	if c, ok := kr.kek.(tink.AEADWithContext); ok {
		pt, err = c.DecryptWithContext(ctx, e.wrapped, ad)
	} else {
		pt, err = kr.kek.Decrypt(e.wrapped, ad)
	}
	if err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrKMS, e.id, err)
	}
	defer clear(pt)
	if len(pt) != len(ad)+DataKeySize || subtle.ConstantTimeCompare(pt[:len(ad)], ad) != 1 {
		return fmt.Errorf("%w: key %q: the KEK returned something else than this key's data key", ErrKMS, e.id)
	}
	prk, err := hkdf.Extract(sha256.New, pt[len(ad):], []byte(labelDerive))
	if err != nil {
		return fmt.Errorf("serverkey: hkdf: %w", err)
	}
	ak, err := hkdf.Expand(sha256.New, prk, infoAttribute+e.id, envelope.KeySize)
	if err != nil {
		clear(prk)
		return fmt.Errorf("serverkey: hkdf: %w", err)
	}
	defer clear(ak)
	fk, err := hkdf.Expand(sha256.New, prk, infoFingerprint+e.id, sha256.Size)
	if err != nil {
		clear(prk)
		return fmt.Errorf("serverkey: hkdf: %w", err)
	}
	rk1, err := envelope.NewRecordKey(ak, kr.rand)
	if err != nil {
		clear(prk)
		clear(fk)
		return fmt.Errorf("serverkey: %w", err)
	}
	e.prk, e.rk1, e.fpKey, e.fetched = prk, rk1, fk, kr.now()
	return nil
}

// userRecordKey derives the version-2 attribute key of e for userID:
// HKDF-Expand(PRK, "attribute" 0x00 || u8 len(id) || id || u8 len(user id)
// || user id, 32). One key per data key and user keeps every AES-GCM key
// far below its 2^32-message limit (envelope/FORMAT.md 4.1), whatever the
// number of users. Called with e.mu held; see userKey for the cached
// version.
func (kr *Keyring) userRecordKey(e *entry, userID string) (*envelope.RecordKey, error) {
	kr.derives.Add(1)
	info := make([]byte, 0, len(infoAttribute)+2+len(e.id)+len(userID))
	info = append(info, infoAttribute...)
	info = append(info, byte(len(e.id)))
	info = append(info, e.id...)
	info = append(info, byte(len(userID)))
	info = append(info, userID...)
	k, err := hkdf.Expand(sha256.New, e.prk, string(info), envelope.KeySize)
	if err != nil {
		return nil, fmt.Errorf("serverkey: hkdf: %w", err)
	}
	defer clear(k)
	rk, err := envelope.NewRecordKey(k, kr.rand)
	if err != nil {
		return nil, fmt.Errorf("serverkey: %w", err)
	}
	return rk, nil
}

func checkBinding(userID, attribute string) (envelope.Binding, error) {
	if userID == "" || len(userID) > MaxUserIDLen {
		return envelope.Binding{}, fmt.Errorf("%w: user id must be 1 to %d bytes", ErrInvalidInput, MaxUserIDLen)
	}
	if attribute == "" || len(attribute) > MaxAttributeLen {
		return envelope.Binding{}, fmt.Errorf("%w: attribute name must be 1 to %d bytes", ErrInvalidInput, MaxAttributeLen)
	}
	return envelope.Binding{UserID: userID, Label: attribute}, nil
}

// Seal encrypts plaintext under the current data key, bound to userID and
// attribute (an e-mail address: "email"; a TOTP seed: "totp_seed"; ...):
//
//	"PVSK" || 03 || u8 len(key id) || key id || envelope record
//
// The record is sealed under a key derived from the data key, the key id
// and the user id; it is key-committing and bound to (userID, attribute),
// so it opens for no other user or attribute and under no other key
// (FORMAT.md).
// After the first use of the current key (or Warm), Seal makes no KMS call
// until CacheFor runs out; after a user's first Seal or Open, the user's
// key comes from the cache (Config.UserKeyCache) while it stays there.
func (kr *Keyring) Seal(ctx context.Context, userID, attribute string, plaintext []byte) ([]byte, error) {
	b, err := checkBinding(userID, attribute)
	if err != nil {
		return nil, err
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("%w: plaintext of %d bytes, limit %d", ErrTooLarge, len(plaintext), MaxPlaintext)
	}
	e := kr.order[0]
	out := make([]byte, 0, Overhead+len(e.id)+len(plaintext))
	out = append(out, magic...)
	out = append(out, version3, byte(len(e.id)))
	out = append(out, e.id...)
	err = kr.use(ctx, e, func(e *entry) error {
		rk, held, err := kr.userKey(e, userID)
		if err != nil {
			return err
		}
		defer kr.release(rk, held)
		out, err = rk.Seal(out, b, plaintext)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// KeyIDOf returns the id of the data key ciphertext was sealed under,
// without decrypting: rotation uses it to skip what is already current.
func KeyIDOf(ciphertext []byte) (string, error) {
	_, id, _, err := parse(ciphertext)
	return id, err
}

// parse splits a ciphertext into version, key id and envelope record,
// checking length, magic and version before anything else.
func parse(ct []byte) (version byte, id string, record []byte, err error) {
	version, idb, record, err := parseBytes(ct)
	return version, string(idb), record, err
}

// parseBytes is parse with the key id left in ct (no allocation).
func parseBytes(ct []byte) (version byte, id []byte, record []byte, err error) {
	id, record, err = parseV(ct)
	if err != nil {
		return 0, nil, nil, err
	}
	return ct[4], id, record, nil
}

func parseV(ct []byte) (id []byte, record []byte, err error) {
	if len(ct) > MaxCiphertext {
		return nil, nil, fmt.Errorf("%w: ciphertext of %d bytes, limit %d", ErrTooLarge, len(ct), MaxCiphertext)
	}
	if len(ct) < prefixSize+1 || string(ct[:4]) != magic {
		return nil, nil, fmt.Errorf("%w: not a serverkey ciphertext", ErrMalformed)
	}
	minRecord := envelope.RecordOverhead
	switch ct[4] {
	case version3:
	case version1:
		minRecord = envelope.RecordOverheadV1
	default:
		return nil, nil, fmt.Errorf("%w: version %d", ErrVersion, ct[4])
	}
	n := int(ct[prefixSize])
	rest := ct[prefixSize+1:]
	if n == 0 || n > MaxKeyIDLen || n > len(rest) {
		return nil, nil, fmt.Errorf("%w: key id length %d", ErrMalformed, n)
	}
	id = rest[:n]
	if err := checkKeyID(id); err != nil {
		return nil, nil, fmt.Errorf("%w: invalid key id", ErrMalformed)
	}
	record = rest[n:]
	if len(record) < minRecord {
		return nil, nil, fmt.Errorf("%w: record of %d bytes", ErrMalformed, len(record))
	}
	return id, record, nil
}

// Open returns the plaintext of a ciphertext sealed by Seal for the same
// userID and attribute, under any key of the queue. Errors: ErrMalformed,
// ErrTooLarge, ErrVersion (checked before any key is touched),
// ErrUnknownKey, ErrKMS, ErrDecrypt (wrapping envelope.ErrCommitment:
// another user, attribute or key; envelope.ErrPayloadAuth: altered). No
// unauthenticated plaintext is ever returned.
func (kr *Keyring) Open(ctx context.Context, userID, attribute string, ciphertext []byte) ([]byte, error) {
	b, err := checkBinding(userID, attribute)
	if err != nil {
		return nil, err
	}
	v, id, record, err := parseBytes(ciphertext)
	if err != nil {
		return nil, err
	}
	e := kr.byID[string(id)]
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	var pt []byte
	err = kr.use(ctx, e, func(e *entry) error {
		rk := e.rk1
		if v == version3 {
			urk, held, err := kr.userKey(e, userID)
			if err != nil {
				return err
			}
			defer kr.release(urk, held)
			rk = urk
		}
		var err error
		pt, err = rk.Open(nil, b, record)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDecrypt, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// NeedsRotation reports whether ciphertext is sealed under a key other than
// the current one, or in version 1 (an unparsable ciphertext reports
// false).
func (kr *Keyring) NeedsRotation(ciphertext []byte) bool {
	v, id, _, err := parse(ciphertext)
	return err == nil && (id != kr.CurrentID() || v != version3)
}

// Reseal opens ciphertext (under any key of the queue) and seals it again
// under the current key. A ciphertext already under the current key, in
// the current version, is returned as is (the same slice).
func (kr *Keyring) Reseal(ctx context.Context, userID, attribute string, ciphertext []byte) ([]byte, error) {
	if _, _, _, err := parse(ciphertext); err != nil {
		return nil, err
	}
	if !kr.NeedsRotation(ciphertext) {
		return ciphertext, nil
	}
	pt, err := kr.Open(ctx, userID, attribute, ciphertext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return kr.Seal(ctx, userID, attribute, pt)
}
