package logingov

import (
	"bytes"
	"context"
	"crypto/fips140"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"
	"unicode/utf8"

	"github.com/piivault/piivault/kdf"
)

// DefaultMemoryBudget bounds the memory of all concurrent scrypt runs of a
// Reader when Config.MemoryBudget is 0: sixteen production runs (64 MiB).
const DefaultMemoryBudget = 1 << 30

// maxUUIDLen bounds the user uuid (36 bytes in practice).
const maxUUIDLen = 255

// Config configures a Reader. The zero Config opens nothing but reports
// what it sees (Inspect works, every Open gives ErrNoKey).
type Config struct {
	// KMS opens KMSc and KMSx values. nil: they give ErrNoKey.
	KMS KMS
	// Local opens LOCc and unprefixed values (KMS-off deployments). nil:
	// they give ErrNoKey.
	Local *LocalKeys
	// MemoryBudget bounds the bytes all concurrent scrypt runs may hold;
	// runs beyond it wait (honouring their context). 0: DefaultMemoryBudget.
	MemoryBudget int64
}

// Reader opens Login.gov's encrypted PII values. It is safe for concurrent
// use.
type Reader struct {
	kms   KMS
	local *LocalKeys
	lim   *kdf.Limiter

	// scryptRuns counts scrypt runs, read by tests: each Open costs at
	// most one.
	scryptRuns atomic.Int64
}

// NewReader returns a Reader for cfg, or an error wrapping ErrInvalidInput
// for a pepper shorter than 32 bytes or a negative budget.
func NewReader(cfg Config) (*Reader, error) {
	if cfg.MemoryBudget < 0 {
		return nil, errf(ErrInvalidInput, "negative memory budget")
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	r := &Reader{kms: cfg.KMS, lim: kdf.NewLimiter(cfg.MemoryBudget)}
	if cfg.Local != nil {
		if len(cfg.Local.Pepper) < 32 {
			return nil, errf(ErrInvalidInput, "local pepper shorter than 32 bytes")
		}
		l := &LocalKeys{Pepper: bytes.Clone(cfg.Local.Pepper)}
		for _, k := range cfg.Local.FingerprintKeys {
			l.FingerprintKeys = append(l.FingerprintKeys, bytes.Clone(k))
		}
		r.local = l
	}
	return r, nil
}

// Info describes a stored value without opening it. It holds no secret
// and no PII.
type Info struct {
	Format string // "v1": the JSON format in use since August 2018
	Layer  Layer  // the KMS layer
	Chunks int    // KMS chunks (one KMS call each)
	Cost   Cost   // scrypt cost
}

// stored is a parsed v1 value.
type stored struct {
	salt string
	cost Cost
	kms  *kmsLayer
}

// Inspect parses a stored value (one column of one profile) and reports
// its format, KMS layer, chunk count and scrypt cost, calling no KMS and
// running no scrypt. It returns the same errors Open would for the value's
// shape: ErrUnsupported for the formats Login.gov can no longer read and
// the v2 draft, ErrParams for a refused cost, a malformed kind otherwise.
func Inspect(value []byte) (Info, error) {
	st, err := parseStored(value)
	if err != nil {
		return Info{}, err
	}
	return Info{Format: "v1", Layer: st.kms.layer, Chunks: len(st.kms.chunks), Cost: st.cost}, nil
}

// parseStored reads the outer value (section 4) and the KMS layer's
// structure, in order of cost: size, first byte, JSON, cost, salt, base64,
// prefix and chunks.
func parseStored(v []byte) (*stored, error) {
	switch {
	case len(v) == 0:
		return nil, errf(ErrJSON, "empty stored value")
	case len(v) > MaxStoredSize:
		return nil, errf(ErrTooLarge, "stored value of %d bytes, limit %d", len(v), MaxStoredSize)
	}
	switch c := v[0]; {
	case c == '{':
	case 0x80 <= c && c <= 0x8f, c == 0xde, c == 0xdf:
		return nil, errf(ErrUnsupported, `MessagePack "v2" draft value (never merged into Login.gov)`)
	case bytes.IndexByte(v, '.') > 0 && isB64URLDot(v):
		return nil, errf(ErrUnsupported, "2016-2018 user-access-key value (needs the password_salt columns Login.gov dropped in 2018)")
	default:
		if w, err := decodeB64(v, "value"); err == nil && bytes.HasPrefix(w, []byte("KMSx")) {
			return nil, errf(ErrUnsupported, "June 2018 bare-base64 KMSx value (needs the salt columns Login.gov dropped in 2018)")
		}
		return nil, errf(ErrJSON, "stored value is not a JSON object")
	}
	m, err := jsonObject(v, "stored value")
	if err != nil {
		return nil, err
	}
	data, err := jsonString(m, "encrypted_data", "stored value")
	if err != nil {
		return nil, err
	}
	salt, err := jsonString(m, "salt", "stored value")
	if err != nil {
		return nil, err
	}
	costStr, err := jsonString(m, "cost", "stored value")
	if err != nil {
		return nil, err
	}
	cost, err := ParseCost(costStr)
	if err != nil {
		return nil, err
	}
	if !isHex64(salt) {
		if len(salt) == 20 && isB64URLDot([]byte(salt)) {
			return nil, errf(ErrUnsupported, "value written June-August 2018 (20-character salt, truncated-hex key)")
		}
		return nil, errf(ErrMalformed, "salt is not 64 lowercase hex characters")
	}
	w, err := decodeB64([]byte(data), "encrypted_data")
	if err != nil {
		return nil, err
	}
	l, err := parseKMSLayer(w)
	if err != nil {
		return nil, err
	}
	return &stored{salt: salt, cost: cost, kms: l}, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isB64URLDot reports whether every byte is in the base64 (standard or
// URL-safe) alphabet, '=' or '.'.
func isB64URLDot(b []byte) bool {
	for _, c := range b {
		if !(isWord(c) || c == '-' || c == '+' || c == '/' || c == '=' || c == '.') {
			return false
		}
	}
	return len(b) > 0
}

// OpenPassword opens a password copy (profiles.encrypted_pii_multi_region,
// or the legacy encrypted_pii) of the user whose users.uuid is uuid, with
// the password exactly as typed.
//
// Cost: one KMS call per chunk (one for every real value) and one scrypt
// run. Every cheap check (shape, cost caps, chunk list, AES layer shape)
// runs before KMS; KMS runs before scrypt, so a wrong uuid costs no
// scrypt. Nothing is returned unless the AES-256-GCM tag verified and the
// plaintext is a JSON object; the literal null gives ErrNoPII.
func (r *Reader) OpenPassword(ctx context.Context, uuid string, value, password []byte) (*PII, error) {
	if len(password) == 0 {
		return nil, errf(ErrInvalidInput, "empty password")
	}
	return r.open(ctx, uuid, value, password)
}

// OpenPersonalKey opens a personal-key copy
// (profiles.encrypted_pii_recovery_multi_region, or the legacy
// encrypted_pii_recovery) with the personal key as the user typed it,
// normalized by NormalizePersonalKey first (an invalid key gives
// ErrInvalidPersonalKey with no KMS call and no scrypt run). Otherwise as
// OpenPassword.
func (r *Reader) OpenPersonalKey(ctx context.Context, uuid string, value []byte, personalKey string) (*PII, error) {
	secret, err := NormalizePersonalKey(personalKey)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	return r.open(ctx, uuid, value, secret)
}

func (r *Reader) open(ctx context.Context, uuid string, value, secret []byte) (*PII, error) {
	if uuid == "" || len(uuid) > maxUUIDLen {
		return nil, errf(ErrInvalidInput, "user uuid must be 1 to %d bytes", maxUUIDLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("logingov: %w", err)
	}
	st, err := parseStored(value)
	if err != nil {
		return nil, err
	}
	if fips140.Enforced() {
		// Refused before any KMS call: the key is scrypt's.
		return nil, errf(ErrUnsupported, "Login.gov values need scrypt, which is not FIPS 140-3 approved; migrate under GODEBUG=fips140=on or off, not fips140=only")
	}
	a, err := r.unwrap(ctx, st.kms, uuid)
	if err != nil {
		return nil, err
	}
	defer clear(a)
	env, err := parseEnvelope(a, "AES layer")
	if err != nil {
		return nil, err
	}
	r.scryptRuns.Add(1)
	k, err := deriveKey(ctx, r.lim, secret, st.salt, st.cost)
	if err != nil {
		return nil, err
	}
	p, err := env.open(k)
	clear(k)
	if err != nil {
		return nil, err
	}
	pii, err := parsePlaintext(p)
	if err != nil {
		clear(p)
		return nil, err
	}
	return pii, nil
}

// unwrap removes the KMS layer: one KMS call (or local open) per chunk,
// the plaintexts concatenated in order.
func (r *Reader) unwrap(ctx context.Context, l *kmsLayer, uuid string) ([]byte, error) {
	var out []byte
	fail := func(err error) ([]byte, error) {
		clear(out)
		return nil, err
	}
	switch l.layer {
	case LayerKMSc, LayerKMSx:
		if r.kms == nil {
			return nil, errf(ErrNoKey, "%s value and no KMS configured", l.layer)
		}
		var ec map[string]string
		if l.layer == LayerKMSc {
			ec = encryptionContext(uuid)
		}
		for i, c := range l.chunks {
			pt, err := r.kms.Decrypt(ctx, c, ec)
			if err != nil {
				if ctx.Err() != nil {
					return fail(fmt.Errorf("logingov: %w", ctx.Err()))
				}
				return fail(fmt.Errorf("%w: %s chunk %d: %w", ErrKMS, l.layer, i, err))
			}
			out = append(out, pt...)
			clear(pt)
			if len(out) > MaxStoredSize {
				return fail(errf(ErrTooLarge, "KMS plaintext over %d bytes", MaxStoredSize))
			}
		}
	case LayerLOCc, LayerLocal:
		if r.local == nil {
			return nil, errf(ErrNoKey, "%s value and no local keys configured", l.layer)
		}
		var key []byte
		if l.layer == LayerLOCc {
			key = localContextKey(r.local.Pepper, uuid)
		} else {
			key = bytes.Clone(r.local.Pepper[:32])
		}
		defer clear(key)
		for i, c := range l.chunks {
			pt, err := openLocalChunk(c, key, r.local.FingerprintKeys, fmt.Sprintf("%s chunk %d", l.layer, i))
			if err != nil {
				return fail(err)
			}
			out = append(out, pt...)
			clear(pt)
		}
	default:
		panic("logingov: unknown layer " + string(l.layer))
	}
	return out, nil
}

// PII is an opened copy: the plaintext JSON object, every key kept.
type PII struct {
	raw   []byte
	attrs map[string]json.RawMessage
}

// parsePlaintext reads P (section 9): the literal null is ErrNoPII;
// otherwise valid UTF-8 holding one JSON object.
func parsePlaintext(p []byte) (*PII, error) {
	if string(p) == "null" {
		return nil, errf(ErrNoPII, "the copy holds null")
	}
	if !utf8.Valid(p) {
		return nil, errf(ErrJSON, "plaintext is not valid UTF-8")
	}
	m, err := jsonObject(p, "plaintext")
	if err != nil {
		return nil, err
	}
	return &PII{raw: p, attrs: m}, nil
}

// JSON returns the plaintext exactly as decrypted (UTF-8 JSON). It is the
// PII's own buffer: Clear overwrites it.
func (p *PII) JSON() []byte { return p.raw }

// Names returns the attribute names present with a non-null value, sorted.
func (p *PII) Names() []string {
	var out []string
	for k, v := range p.attrs {
		if string(v) != "null" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Value returns the raw JSON value of attribute name (nil if absent).
func (p *PII) Value(name string) json.RawMessage { return p.attrs[name] }

// Clear overwrites the plaintext. The parsed values share nothing with it
// but are Go strings and maps that cannot be cleared (see the package
// documentation).
func (p *PII) Clear() {
	clear(p.raw)
	for k, v := range p.attrs {
		clear(v)
		delete(p.attrs, k)
	}
}
