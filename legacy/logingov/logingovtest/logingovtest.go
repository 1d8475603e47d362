// Package logingovtest writes values in Login.gov's encrypted-PII format,
// for tests and examples: the stored value of a profile's password copy or
// personal-key copy, under every KMS layer (KMSc, LOCc, KMSx, unprefixed
// local), and an in-memory KMS stand-in that binds the encryption context
// and counts calls.
//
// It is written from the byte description in the piivault repository's
// shared context (logingov-pii-format.md, sections 4 to 9), not from the
// reader in package logingov, so that the two check each other. It is an
// encoder only and never reads a value. Test data made with it must use
// synthetic identities only.
package logingovtest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/scrypt"
)

// Encrypter is the KMS Encrypt call: plaintext (at most 4096 bytes) under
// an encryption context (nil for the legacy contextless values).
type Encrypter interface {
	Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error)
}

// Layer names, as in the format document's section 5.1.
const (
	KMSc  = "KMSc"
	LOCc  = "LOCc"
	KMSx  = "KMSx"
	Local = "local" // no prefix: contextless local mode
)

// Options says how Seal writes a value. The zero value is not usable:
// set KMS (KMSc, KMSx) or Pepper (LOCc, Local).
type Options struct {
	Layer string // KMSc (default), LOCc, KMSx or Local
	// Cost is the scrypt cost string; "" gives "800$8$1$" (Login.gov's
	// test environment, N = 2048). Production is "10000$8$1$".
	Cost string
	// Salt is the salt string; "" gives 64 random lowercase hex
	// characters, as Login.gov has written since 2018-08.
	Salt string
	// KMS encrypts KMSc and KMSx chunks.
	KMS Encrypter
	// Pepper is password_pepper (LOCc, Local); at least 32 bytes.
	Pepper []byte
	// FingerprintKey is hmac_fingerprinter_key (LOCc, Local); nil gives
	// Login.gov's development default, 128 'a'.
	FingerprintKey []byte
	// KMSxArray writes a KMSx value as a JSON array of base64 blobs even
	// when the AES layer fits one KMS call (Login.gov does so only above
	// 4096 bytes).
	KMSxArray bool
	// Rand supplies salts and IVs; nil: crypto/rand.
	Rand io.Reader
}

// PIIContext returns the encryption context of a PII value for uuid.
func PIIContext(uuid string) map[string]string {
	return map[string]string{"context": "pii-encryption", "user_uuid": uuid}
}

// Seal returns the stored value (the text of one PII column) holding
// plaintext under secret: the password's bytes, or a personal key in its
// normalized form ("ABCD EFGH JKMN PQRS", see PersonalKey).
func Seal(ctx context.Context, uuid string, secret, plaintext []byte, o Options) ([]byte, error) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	cost := o.Cost
	if cost == "" {
		cost = "800$8$1$"
	}
	salt := o.Salt
	if salt == "" {
		b := make([]byte, 32)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		salt = hex.EncodeToString(b)
	}
	k, err := Key(secret, salt, cost)
	if err != nil {
		return nil, err
	}
	a, err := aesEnvelope(k, plaintext, r)
	if err != nil {
		return nil, err
	}
	w, err := wrap(ctx, uuid, a, o, r)
	if err != nil {
		return nil, err
	}
	// Written by hand to keep Login.gov's key order and no white space.
	out := `{"encrypted_data":` + jsonStr(base64.StdEncoding.EncodeToString(w)) +
		`,"salt":` + jsonStr(salt) + `,"cost":` + jsonStr(cost) + `}`
	return []byte(out), nil
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Key derives K as the scrypt gem does for Login.gov: the gem is handed
// cost + hex(SHA-256(salt text)); it reads N, r, p as hex, strips leading
// "00" pairs from the hex salt and hex-decodes the rest; K is 32 bytes of
// scrypt output.
func Key(secret []byte, salt, cost string) ([]byte, error) {
	d := sha256.Sum256([]byte(salt))
	hexSalt := hex.EncodeToString(d[:])
	for strings.HasPrefix(hexSalt, "00") {
		hexSalt = hexSalt[2:]
	}
	s, err := hex.DecodeString(hexSalt)
	if err != nil {
		return nil, err
	}
	f := strings.Split(cost, "$")
	if len(f) != 4 || f[3] != "" {
		return nil, fmt.Errorf("logingovtest: cost %q is not N$r$p$", cost)
	}
	var v [3]int
	for i := range v {
		n, err := strconv.ParseInt(f[i], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("logingovtest: cost %q: %w", cost, err)
		}
		v[i] = int(n)
	}
	return scrypt.Key(secret, s, v[0], v[1], v[2], 32)
}

// aesEnvelope writes section 6's {"iv","ciphertext","tag"} JSON:
// AES-256-GCM under key[:32], 12-byte random IV, AAD "PII", tag apart.
func aesEnvelope(key, plaintext []byte, r io.Reader) ([]byte, error) {
	b, err := aes.NewCipher(key[:32])
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, 12)
	if _, err := io.ReadFull(r, iv); err != nil {
		return nil, err
	}
	sealed := g.Seal(nil, iv, plaintext, []byte("PII"))
	ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
	e := base64.StdEncoding.EncodeToString
	return []byte(`{"iv":"` + e(iv) + `","ciphertext":"` + e(ct) + `","tag":"` + e(tag) + `"}`), nil
}

// Chunks cuts a as Login.gov's chunk_plaintext does (section 5.6): k = n
// div 4096 pieces plus one, each n div (k+1) bytes, the last one shorter.
func Chunks(a []byte) [][]byte {
	n := len(a)
	size := n / (n/4096 + 1)
	if size == 0 {
		return [][]byte{a}
	}
	var out [][]byte
	for i := 0; i < n; i += size {
		out = append(out, a[i:min(i+size, n)])
	}
	return out
}

func wrap(ctx context.Context, uuid string, a []byte, o Options, r io.Reader) ([]byte, error) {
	e := base64.StdEncoding.EncodeToString
	layer := o.Layer
	if layer == "" {
		layer = KMSc
	}
	switch layer {
	case KMSc, KMSx:
		if o.KMS == nil {
			return nil, errors.New("logingovtest: no KMS for a KMS layer")
		}
		var ec map[string]string
		if layer == KMSc {
			ec = PIIContext(uuid)
		}
		if layer == KMSx && len(a) <= 4096 && !o.KMSxArray {
			blob, err := o.KMS.Encrypt(ctx, a, nil)
			if err != nil {
				return nil, err
			}
			return append([]byte("KMSx"), blob...), nil
		}
		var arr []string
		for _, c := range Chunks(a) {
			blob, err := o.KMS.Encrypt(ctx, c, ec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, e(blob))
		}
		j, _ := json.Marshal(arr)
		return append([]byte(layer), j...), nil
	case LOCc:
		if len(o.Pepper) < 32 {
			return nil, errors.New("logingovtest: LOCc needs a pepper of 32 bytes or more")
		}
		// L = HMAC-SHA256(pepper, the context's keys and values sorted
		// by byte value and joined with nothing).
		parts := []string{"context", "pii-encryption", "user_uuid", uuid}
		sort.Strings(parts)
		m := hmac.New(sha256.New, o.Pepper)
		m.Write([]byte(strings.Join(parts, "")))
		l := m.Sum(nil)
		var arr []string
		for _, c := range Chunks(a) {
			ee, err := aesEncryptor(l, c, o.FingerprintKey, r)
			if err != nil {
				return nil, err
			}
			arr = append(arr, e(ee))
		}
		j, _ := json.Marshal(arr)
		return append([]byte("LOCc"), j...), nil
	case Local:
		if len(o.Pepper) < 32 {
			return nil, errors.New("logingovtest: a local value needs a pepper of 32 bytes or more")
		}
		return aesEncryptor(o.Pepper[:32], a, o.FingerprintKey, r)
	}
	return nil, fmt.Errorf("logingovtest: unknown layer %q", layer)
}

// aesEncryptor is Login.gov's AesEncryptor (section 5.3): E = b64 of the
// AES envelope over b64(c) + "." + b64(lowercase hex HMAC-SHA256(fpKey, c)).
func aesEncryptor(key, c, fpKey []byte, r io.Reader) ([]byte, error) {
	if fpKey == nil {
		fpKey = []byte(strings.Repeat("a", 128))
	}
	m := hmac.New(sha256.New, fpKey)
	m.Write(c)
	fp := hex.EncodeToString(m.Sum(nil))
	e := base64.StdEncoding.EncodeToString
	payload := e(c) + "." + e([]byte(fp))
	env, err := aesEnvelope(key, []byte(payload), r)
	if err != nil {
		return nil, err
	}
	return []byte(e(env)), nil
}

// PersonalKey draws an 80-bit Login.gov personal key and returns it as
// shown to the user ("ABCD-EFGH-JKMN-PQRS") and in the normalized form
// used as the scrypt secret ("ABCD EFGH JKMN PQRS").
func PersonalKey(r io.Reader) (shown, normalized string, err error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 10)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", "", err
	}
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var sym []byte
	for i := 0; i < 16; i++ {
		// 5-bit groups, most significant first.
		bit := i * 5
		v := uint16(b[bit/8]) << 8
		if bit/8+1 < len(b) {
			v |= uint16(b[bit/8+1])
		}
		sym = append(sym, alphabet[(v>>(11-bit%8))&31])
	}
	s := string(sym)
	g := []string{s[0:4], s[4:8], s[8:12], s[12:16]}
	return strings.Join(g, "-"), strings.Join(g, " "), nil
}

// Members is the member order of Pii::Attributes at identity-idp
// e4407766eb (section 9).
var Members = []string{
	"first_name", "middle_name", "last_name",
	"address1", "address2", "city", "state", "zipcode",
	"ipp_current_address_matches_id",
	"identity_doc_address1", "identity_doc_address2", "identity_doc_city",
	"identity_doc_zipcode", "state_id_jurisdiction", "identity_doc_address_state",
	"ssn", "dob", "phone",
	"issuing_country_code",
	"otp", "same_address_as_id",
	"prev_address1", "prev_address2", "prev_city", "prev_state", "prev_zipcode",
}

// PIIJSON writes a plaintext the way Rails serializes Pii::Attributes:
// every member in order, unset ones as null, no white space; values are
// strings, booleans or nil. Keys of values that are not in members are
// appended in sorted order (an older or newer struct).
func PIIJSON(members []string, values map[string]any) []byte {
	seen := map[string]bool{}
	var b strings.Builder
	b.WriteByte('{')
	put := func(k string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(values[k])
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		seen[k] = true
	}
	for _, k := range members {
		put(k)
	}
	var rest []string
	for k := range values {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		put(k)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// MemKMS is an in-memory stand-in for AWS KMS Encrypt/Decrypt with an
// encryption context: a blob opens only under the exact context it was
// made with. It counts Decrypt calls. Its blobs are not AWS's.
type MemKMS struct {
	block    cipher.Block
	ivKey    [32]byte
	decrypts atomic.Int64
	encrypts atomic.Int64
}

// NewMemKMS returns a MemKMS whose key is SHA-256(seed).
func NewMemKMS(seed []byte) *MemKMS {
	k := sha256.Sum256(seed)
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic("memkms: " + err.Error()) // a 32-byte key cannot fail
	}
	return &MemKMS{block: b, ivKey: sha256.Sum256(k[:])}
}

// contextAD encodes an encryption context canonically (sorted keys,
// length-prefixed).
func contextAD(ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ad []byte
	for _, k := range keys {
		ad = strconv.AppendInt(ad, int64(len(k)), 10)
		ad = append(ad, ':')
		ad = append(ad, k...)
		ad = strconv.AppendInt(ad, int64(len(ec[k])), 10)
		ad = append(ad, ':')
		ad = append(ad, ec[k]...)
	}
	return ad
}

// Encrypt implements Encrypter. Plaintexts over 4096 bytes are refused,
// as AWS KMS does. It is deterministic (a test stand-in, not a KMS).
func (m *MemKMS) Encrypt(_ context.Context, pt []byte, ec map[string]string) ([]byte, error) {
	if len(pt) > 4096 {
		return nil, errors.New("memkms: plaintext over 4096 bytes")
	}
	m.encrypts.Add(1)
	// A synthetic IV (HMAC of context and plaintext) keeps generated test
	// data reproducible; equal inputs give equal blobs.
	ad := contextAD(ec)
	h := hmac.New(sha256.New, m.ivKey[:])
	h.Write(ad)
	h.Write([]byte{0})
	h.Write(pt)
	nonce := h.Sum(nil)[:12]
	g, err := cipher.NewGCM(m.block) // refused under GODEBUG=fips140=only (caller-chosen nonce)
	if err != nil {
		return nil, fmt.Errorf("memkms: %w", err)
	}
	return g.Seal(append([]byte("memkms1"), nonce...), nonce, pt, ad), nil
}

// Decrypt is the KMS Decrypt call (it satisfies logingov.KMS).
func (m *MemKMS) Decrypt(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error) {
	m.decrypts.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(blob) < 7+12+16 || string(blob[:7]) != "memkms1" {
		return nil, errors.New("memkms: InvalidCiphertextException")
	}
	// nonce || ciphertext || tag, opened as the module allows in every mode.
	g, err := cipher.NewGCMWithRandomNonce(m.block)
	if err != nil {
		return nil, fmt.Errorf("memkms: %w", err)
	}
	pt, err := g.Open(nil, nil, blob[7:], contextAD(ec))
	if err != nil {
		return nil, errors.New("memkms: InvalidCiphertextException")
	}
	return pt, nil
}

// Decrypts returns the number of Decrypt calls so far.
func (m *MemKMS) Decrypts() int64 { return m.decrypts.Load() }
