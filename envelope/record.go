package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// Record format version 3 (FORMAT.md section 4.1): the version
// RecordKey.Seal writes. Version-1 records (Version1) keep opening. Version
// byte 2 is reserved and refused: the version-1 golden vectors use it as
// their example of an unknown version, and golden files never change.
const (
	// RecordVersion3 is the record version that names its key generation.
	RecordVersion3 = 3
	// RecordGenerationSize is the size of a version-3 record's key
	// generation field (a big-endian uint32).
	RecordGenerationSize = 4
	// RecordOverheadV1 is the length of a version-1 record minus its
	// plaintext (98 bytes; version 3's, RecordOverhead, is 70): the larger,
	// so records of any version are at most MaxRecordSize+RecordOverheadV1
	// bytes.
	RecordOverheadV1 = RecordHeaderSize + gcmNonceSize + gcmTagSize
)

const (
	recordV3PrefixSize = 4 + 1 + 1 + RecordGenerationSize // magic, version, suite, generation
	recordV3HeaderSize = recordV3PrefixSize + CommitmentSize

	labelRecordV3Salt   = "piivault/envelope/v3/record"
	labelRecordV3GCM    = "piivault/envelope/v3/record-gcm"
	labelRecordV3Commit = "piivault/envelope/v3/record-commitment"
)

// ErrGeneration is returned (wrapped) by RecordKey.Open for a record sealed
// under another key generation than the RecordKey's: the caller holds the
// wrong key for this record (typically an older or newer account key after
// a rotation) and should pick the key that RecordGeneration names.
var ErrGeneration = errors.New("envelope: record sealed under another key generation")

// RecordKey seals and opens records under a key of one key generation. It is
// safe for concurrent use by Seal and Open; Destroy must not run
// concurrently with them.
//
// Seal writes version-3 records (FORMAT.md section 4.1):
//
//	"PVER" || version (3) || suite (1) || generation (u32) || commitment (32) ||
//	nonce (12) || AES-256-GCM ciphertext || tag (16)
//
// under two keys derived once per RecordKey:
//
//	PRK        = HKDF-Extract(salt = "piivault/envelope/v3/record", IKM = key)
//	enc_key    = HKDF-Expand(PRK, "piivault/envelope/v3/record-gcm" || u32 generation, 32)
//	commit_key = HKDF-Expand(PRK, "piivault/envelope/v3/record-commitment" || u32 generation, 32)
//	commitment = HMAC-SHA256(commit_key, record[:10] || nonce || binding)
//	ciphertext || tag = AES-256-GCM(enc_key, nonce, plaintext, record[:10] || binding)
//
// The commitment is checked in constant time before decryption: it binds
// the key, the generation, the nonce and the binding, and AES-GCM under a
// committed key and nonce has exactly one plaintext for a ciphertext, so a
// record opens under one key and one binding only (CMT-4, as version 1).
//
// Open also reads version-1 records (a fresh per-record subkey from a 256-bit
// salt, FORMAT.md section 4.2), which belong to generation 0.
//
// # How many records
//
// Version-3 records of one key and generation share one AES-GCM key with
// random 96-bit nonces, so NIST SP 800-38D section 8.3 limits them to 2^32
// records per key and generation (after q records two share a nonce with
// probability below q^2/2^97: 2^-33 at q = 2^32). Rotate the key (a new
// generation) long before: a vault account key seals one user's records,
// orders of magnitude fewer. The limit is across all processes using the
// key; RecordKey does not count.
type RecordKey struct {
	gen         uint32
	rand        io.Reader // nil: crypto/rand
	fips        bool      // fips140.Enabled(): the module's HMAC, HKDF and nonces
	gcm         cipher.AEAD
	moduleNonce bool // gcm is cipher.NewGCMWithRandomNonce's
	commit      hmacKey
	commitKey   []byte // FIPS mode only: commit_key for crypto/hmac
	prefix      [recordV3PrefixSize]byte

	// Streams (stream.go): HKDF-Extract(salt = labelStreamSalt, IKM = key).
	stream    hmacKey
	streamPRK []byte // FIPS mode only: for crypto/hkdf

	// Version 1 (generation 0 only).
	v1    hmacKey
	v1PRK []byte // FIPS mode only: for crypto/hkdf
	hasV1 bool

	pool      sync.Pool
	destroyed bool
}

// recScratch is per-operation working memory, pooled so that Seal and Open
// allocate nothing but their output.
type recScratch struct {
	hashScratch
	mac    hash.Hash // FIPS mode: crypto/hmac keyed with commit_key
	nonce  [gcmNonceSize]byte
	hdr    [RecordHeaderSize]byte // version 1
	rnd    [RecordSaltSize + gcmNonceSize]byte
	t1, t2 [sha256.Size]byte
	ad     []byte // record header || binding
	msg    []byte // version 3: the commitment's message
}

// NewRecordKey prepares key for sealing records of key generation 0 (the
// generation of every version-1 record): NewRecordKeyForGeneration(key, 0, r).
func NewRecordKey(key []byte, r io.Reader) (*RecordKey, error) {
	return NewRecordKeyForGeneration(key, 0, r)
}

// NewRecordKeyForGeneration prepares key, the key of generation gen, for
// sealing and opening records. Records it seals carry gen; Open refuses a
// record of another generation with ErrGeneration before any cryptographic
// work. Only a generation-0 key opens version-1 records. r supplies the
// per-record nonces and the per-stream salts (crypto/rand when nil; under
// FIPS 140-3 mode the module draws the nonces). It must be a CSPRNG, safe
// for concurrent use if Seal is: a repeated nonce or salt under one key
// breaks confidentiality and authenticity. Nonces are drawn per record,
// never buffered, so that a virtual machine restored twice from one
// snapshot does not repeat them (Go's crypto/rand reseeds on such a fork
// where the kernel's vDSO getrandom does). key is not retained (only keys
// derived from it); clear your copy when done.
func NewRecordKeyForGeneration(key []byte, gen uint32, r io.Reader) (*RecordKey, error) {
	return newRecordKey(key, gen, r, fips140.Enabled())
}

// newRecordKey is NewRecordKeyForGeneration with the FIPS 140-3 code path
// chosen by the caller (tests run both and compare).
func newRecordKey(key []byte, gen uint32, r io.Reader, fips bool) (*RecordKey, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	k := &RecordKey{gen: gen, rand: r, fips: fips}
	if r == rand.Reader {
		k.rand = nil
	}
	copy(k.prefix[:], recordMagic)
	k.prefix[4], k.prefix[5] = RecordVersion3, SuiteAES256GCM
	binary.BigEndian.PutUint32(k.prefix[6:], gen)

	var encKey [KeySize]byte
	defer clear(encKey[:])
	if fips {
		if err := k.deriveModule(key, &encKey); err != nil {
			return nil, err
		}
	} else {
		s := newHashScratch()
		k.derive(key, &encKey, &s)
	}
	block, err := aes.NewCipher(encKey[:])
	if err != nil {
		return nil, fmt.Errorf("envelope: aes: %w", err)
	}
	if k.fips {
		k.gcm, err = cipher.NewGCMWithRandomNonce(block)
		k.moduleNonce = true
	} else {
		k.gcm, err = cipher.NewGCM(block)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: gcm: %w", err)
	}
	k.pool.New = func() any {
		s := &recScratch{hashScratch: newHashScratch(), ad: make([]byte, 0, RecordHeaderSize+2+2*MaxBindingField),
			msg: make([]byte, 0, recordV3PrefixSize+gcmNonceSize+2+2*MaxBindingField)}
		if k.fips {
			s.mac = hmac.New(sha256.New, k.commitKey)
		}
		return s
	}
	return k, nil
}

// Subkeys of a record key (FORMAT.md 4.1), the same in both code paths:
//
//	prk        = HKDF-Extract(salt = labelRecordV3Salt, IKM = key)
//	gcm key    = HKDF-Expand(prk, labelRecordV3GCM || u32 gen, 32)
//	commit key = HKDF-Expand(prk, labelRecordV3Commit || u32 gen, 32)
//	stream PRK = HKDF-Extract(salt = labelStreamSalt, IKM = key)
//	v1 PRK     = HKDF-Extract(salt = labelRecordSalt, IKM = key)  (gen 0 only)
//
// For 32-byte outputs HKDF-Expand is one HMAC, T(1) = HMAC(prk, info ||
// 0x01), and HKDF-Extract is HMAC(salt, IKM). derive computes them with
// hmacKey, whose states for the three constant salts are hashed once per
// process; deriveModule with crypto/hkdf, inside the FIPS 140-3 module.
// TestRecordKeySubkeysAgreeWithCryptoHKDF checks that both give the same
// keys.

// saltKeys are the HMAC states of the constant HKDF-Extract salts.
var saltKeys = sync.OnceValue(func() *[3]hmacKey {
	return &[3]hmacKey{
		newHMACKey([]byte(labelRecordV3Salt)),
		newHMACKey([]byte(labelStreamSalt)),
		newHMACKey([]byte(labelRecordSalt)),
	}
})

// derive sets k's subkeys from key with this package's HMAC-SHA256, and
// writes the GCM key to encKey for the caller to expand and clear. It
// computes with s and wipes it: the last HKDF-Extract's inner hash would
// otherwise stay in s, and with the public salt's outer state give a PRK.
func (k *RecordKey) derive(key []byte, encKey *[KeySize]byte, s *hashScratch) {
	defer s.scrub()
	salts := saltKeys()
	var prk [sha256.Size]byte
	defer clear(prk[:])
	one := []byte{1}
	salts[0].sum(s, &prk, key, nil, nil)
	pk := newHMACKey(prk[:])
	pk.sum(s, encKey, []byte(labelRecordV3GCM), k.prefix[6:], one)
	var commitKey [sha256.Size]byte
	pk.sum(s, &commitKey, []byte(labelRecordV3Commit), k.prefix[6:], one)
	pk.destroy()
	k.commit = newHMACKey(commitKey[:])
	clear(commitKey[:])
	salts[1].sum(s, &prk, key, nil, nil)
	k.stream = newHMACKey(prk[:])
	if k.gen == 0 {
		salts[2].sum(s, &prk, key, nil, nil)
		k.v1 = newHMACKey(prk[:])
		k.hasV1 = true
	}
}

// deriveModule is derive through crypto/hkdf (FIPS 140-3 mode), keeping
// the PRKs and the commitment key for the module's HKDF and HMAC.
func (k *RecordKey) deriveModule(key []byte, encKey *[KeySize]byte) error {
	prk, err := hkdf.Extract(sha256.New, key, []byte(labelRecordV3Salt))
	if err != nil {
		return fmt.Errorf("envelope: hkdf: %w", err)
	}
	defer clear(prk)
	ek, err := hkdf.Expand(sha256.New, prk, labelRecordV3GCM+string(k.prefix[6:]), KeySize)
	if err != nil {
		return fmt.Errorf("envelope: hkdf: %w", err)
	}
	copy(encKey[:], ek)
	clear(ek)
	if k.commitKey, err = hkdf.Expand(sha256.New, prk, labelRecordV3Commit+string(k.prefix[6:]), KeySize); err != nil {
		return fmt.Errorf("envelope: hkdf: %w", err)
	}
	if k.streamPRK, err = hkdf.Extract(sha256.New, key, []byte(labelStreamSalt)); err != nil {
		return fmt.Errorf("envelope: hkdf: %w", err)
	}
	if k.gen == 0 {
		if k.v1PRK, err = hkdf.Extract(sha256.New, key, []byte(labelRecordSalt)); err != nil {
			return fmt.Errorf("envelope: hkdf: %w", err)
		}
		k.hasV1 = true
	}
	return nil
}

// Generation returns the key generation k seals under and opens.
func (k *RecordKey) Generation() uint32 { return k.gen }

// Destroy clears the key material held by k that Go lets a program reach;
// Seal and Open fail afterwards. Not cleared (Go offers no way): the AES
// key schedule and GCM state inside crypto/cipher, and, under FIPS 140-3
// mode, the HMAC states of pooled crypto/hmac instances; hash states left in
// pooled scratch memory hold only values derived through SHA-256 and are
// overwritten by reuse.
func (k *RecordKey) Destroy() {
	k.commit.destroy()
	k.v1.destroy()
	k.stream.destroy()
	clear(k.commitKey)
	clear(k.v1PRK)
	clear(k.streamPRK)
	k.gcm = nil
	k.destroyed = true
}

func (k *RecordKey) usable() error {
	if k == nil || k.destroyed || k.gcm == nil {
		return fmt.Errorf("envelope: record key destroyed or not made by NewRecordKey: %w", ErrInvalidKey)
	}
	return nil
}

// commitment computes HMAC-SHA256(commit_key, prefix || nonce || binding)
// into out; s.ad must hold prefix || binding.
func (k *RecordKey) commitment(s *recScratch, out *[sha256.Size]byte, nonce []byte) {
	if k.fips {
		s.mac.Reset()
		s.mac.Write(s.ad[:recordV3PrefixSize])
		s.mac.Write(nonce)
		s.mac.Write(s.ad[recordV3PrefixSize:])
		s.mac.Sum(out[:0])
		return
	}
	// One contiguous message: SHA-256's Write is cheapest called once.
	s.msg = append(append(append(s.msg[:0], s.ad[:recordV3PrefixSize]...), nonce...), s.ad[recordV3PrefixSize:]...)
	k.commit.sum(&s.hashScratch, out, s.msg, nil, nil)
}

func (s *recScratch) wipe() {
	clear(s.t1[:])
	clear(s.tmp[:])
}

// Seal appends the sealed version-3 record of plaintext, bound to b, to
// dst, and returns the extended slice (len(plaintext)+RecordOverhead bytes
// longer). plaintext may overlap the returned slice (sealing in place with
// plaintext[:0] as dst works); it is never modified otherwise. It allocates
// only the output, and only when dst lacks the capacity.
func (k *RecordKey) Seal(dst []byte, b Binding, plaintext []byte) ([]byte, error) {
	if err := k.usable(); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxRecordSize {
		return nil, fmt.Errorf("envelope: record plaintext of %d bytes, limit %d: %w", len(plaintext), MaxRecordSize, ErrTooLarge)
	}
	s := k.pool.Get().(*recScratch)
	defer k.pool.Put(s)
	s.ad = appendBinding(append(s.ad[:0], k.prefix[:]...), b)

	ret, out := sliceForAppend(dst, RecordOverhead+len(plaintext))
	body := out[recordV3HeaderSize:] // nonce || ciphertext || tag
	if k.moduleNonce {
		// The module draws the nonce and writes nonce || ciphertext || tag;
		// it accepts only plaintext that starts where its output starts.
		if anyOverlap(out, plaintext) {
			copy(body, plaintext)
			plaintext = body[:len(plaintext)]
		}
		k.gcm.Seal(body[:0], nil, plaintext, s.ad)
		copy(s.nonce[:], body)
	} else {
		if err := k.readNonce(s.nonce[:]); err != nil {
			return nil, err
		}
		ct := body[gcmNonceSize:]
		if anyOverlap(out, plaintext) {
			// Move the plaintext out of the way of the header and nonce.
			copy(ct, plaintext)
			plaintext = ct[:len(plaintext)]
		}
		k.gcm.Seal(ct[:0], s.nonce[:], plaintext, s.ad)
		copy(body, s.nonce[:])
	}
	copy(out, k.prefix[:])
	k.commitment(s, (*[sha256.Size]byte)(out[recordV3PrefixSize:recordV3HeaderSize]), s.nonce[:])
	return ret, nil
}

func (k *RecordKey) readNonce(nonce []byte) error {
	if k.rand == nil {
		rand.Read(nonce) // never fails (crypto/rand)
		return nil
	}
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return fmt.Errorf("envelope: reading record nonce: %w", err)
	}
	return nil
}

// Open appends the plaintext of record, which must have been sealed under
// the same key, generation and b, to dst. On any failure it returns nil and
// an error, and the bytes it wrote past len(dst) are cleared: no
// unauthenticated plaintext is ever returned. Checks, in order: length
// (ErrMalformed, ErrTooLarge), magic (ErrMalformed), version and suite
// (ErrVersion), generation (ErrGeneration), key commitment (ErrCommitment:
// another key or binding, or an altered nonce), tag (ErrPayloadAuth).
// record may overlap dst's spare capacity (opening in place with record[:0]
// as dst works). It allocates only the output, and only when dst lacks the
// capacity (version-1 records: also the one-use subkey's AES and GCM state).
func (k *RecordKey) Open(dst []byte, b Binding, record []byte) ([]byte, error) {
	if err := k.usable(); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	v, err := recordVersion(record)
	if err != nil {
		return nil, err
	}
	if gen := recordGen(v, record); gen != k.gen {
		return nil, fmt.Errorf("envelope: record of key generation %d opened with generation %d: %w", gen, k.gen, ErrGeneration)
	}
	if v == Version1 {
		return k.openV1(dst, b, record)
	}
	s := k.pool.Get().(*recScratch)
	defer k.pool.Put(s)
	s.ad = appendBinding(append(s.ad[:0], record[:recordV3PrefixSize]...), b)
	data := record[recordV3HeaderSize:] // nonce || ciphertext || tag
	k.commitment(s, &s.t2, data[:gcmNonceSize])
	if subtle.ConstantTimeCompare(s.t2[:], record[recordV3PrefixSize:recordV3HeaderSize]) != 1 {
		return nil, fmt.Errorf("envelope: record commitment does not match this key and binding: %w", ErrCommitment)
	}
	ret, out := sliceForAppend(dst, len(data)-gcmNonceSize-gcmTagSize)
	if k.moduleNonce {
		if anyOverlap(out, data) && (&out[0] != &data[0] || cap(out) < len(data)) {
			data = moveTo(ret, len(dst), data)
		}
		_, err = k.gcm.Open(out[:0], nil, data, s.ad)
	} else {
		copy(s.nonce[:], data)
		ct := data[gcmNonceSize:]
		if anyOverlap(out, ct) && &out[0] != &ct[0] {
			ct = moveTo(ret, len(dst), ct)
		}
		_, err = k.gcm.Open(out[:0], s.nonce[:], ct, s.ad)
	}
	if err != nil {
		clear(out)
		return nil, fmt.Errorf("envelope: record: %w", ErrPayloadAuth)
	}
	return ret, nil
}

// moveTo copies data to ret[at:] when ret has the capacity, or to a new
// buffer, so that an AEAD writing to ret[at:] sees an exact overlap or
// none.
func moveTo(ret []byte, at int, data []byte) []byte {
	if cap(ret)-at >= len(data) {
		buf := ret[at : at+len(data)]
		copy(buf, data)
		return buf
	}
	return append([]byte(nil), data...)
}

// openV1 opens a version-1 record (FORMAT.md section 4.2): a subkey and
// commitment derived per record from its salt.
func (k *RecordKey) openV1(dst []byte, b Binding, record []byte) ([]byte, error) {
	if !k.hasV1 {
		return nil, fmt.Errorf("envelope: version-1 record needs a generation-0 key: %w", ErrGeneration)
	}
	s := k.pool.Get().(*recScratch)
	defer k.pool.Put(s)
	defer s.wipe()
	copy(s.hdr[:], record)
	if err := k.deriveV1(s, b); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(s.t2[:], s.hdr[6+RecordSaltSize:]) != 1 {
		return nil, fmt.Errorf("envelope: record commitment does not match this key and binding: %w", ErrCommitment)
	}
	s.ad = appendBinding(append(s.ad[:0], s.hdr[:]...), b)
	data := record[RecordHeaderSize:] // nonce || ciphertext || tag
	ret, out := sliceForAppend(dst, len(data)-gcmNonceSize-gcmTagSize)
	if anyOverlap(out, data) && (&out[0] != &data[0] || cap(out) < len(data)) {
		// Move the sealed data to where the plaintext goes, so that the
		// AEAD sees an exact overlap (cipher.NewGCMWithRandomNonce shifts
		// it left inside out's capacity, which must hold all of it), or
		// out of the way when the capacity is short.
		data = moveTo(ret, len(dst), data)
	}
	if _, err := gcmOpen(out[:0], s.t1[:], data, s.ad); err != nil {
		clear(out)
		return nil, fmt.Errorf("envelope: record: %w", ErrPayloadAuth)
	}
	return ret, nil
}

// deriveV1 fills s.t1 (encryption key) and s.t2 (commitment) from the
// first 38 bytes of s.hdr and b: HKDF-Expand(PRK, s.hdr[:38] || binding, 64),
// with crypto/hkdf under FIPS 140-3 mode and the precomputed HMAC otherwise.
func (k *RecordKey) deriveV1(s *recScratch, b Binding) error {
	s.ad = appendBinding(append(s.ad[:0], s.hdr[:4+1+1+RecordSaltSize]...), b)
	info := s.ad
	if k.fips {
		okm, err := hkdf.Expand(sha256.New, k.v1PRK, string(info), KeySize+CommitmentSize)
		if err != nil {
			return fmt.Errorf("envelope: hkdf: %w", err)
		}
		copy(s.t1[:], okm)
		copy(s.t2[:], okm[KeySize:])
		clear(okm)
		return nil
	}
	s.tmp[0] = 1
	k.v1.sum(&s.hashScratch, &s.t1, nil, info, s.tmp[:1])
	s.tmp[0] = 2
	k.v1.sum(&s.hashScratch, &s.t2, s.t1[:], info, s.tmp[:1])
	return nil
}

// RecordGeneration returns the key generation record was sealed under,
// without a key: the field of a version-3 record, 0 for a version-1 record.
// It checks what Open checks first (length, magic, version and suite); the
// generation is not authenticated until Open succeeds.
func RecordGeneration(record []byte) (uint32, error) {
	v, err := recordVersion(record)
	if err != nil {
		return 0, err
	}
	return recordGen(v, record), nil
}

func recordGen(version byte, record []byte) uint32 {
	if version == Version1 {
		return 0
	}
	return binary.BigEndian.Uint32(record[6:recordV3PrefixSize])
}

// checkRecord checks the length, magic, version and suite of a record.
func checkRecord(record []byte) error {
	_, err := recordVersion(record)
	return err
}

// recordVersion checks the length, magic, version and suite of a record
// and returns its version. The longest version-1 record bounds every
// record before anything else is read.
func recordVersion(record []byte) (byte, error) {
	if len(record) > MaxRecordSize+RecordOverheadV1 {
		return 0, fmt.Errorf("envelope: record of %d bytes, limit %d: %w", len(record), MaxRecordSize+RecordOverheadV1, ErrTooLarge)
	}
	if len(record) < RecordOverhead {
		return 0, fmt.Errorf("envelope: record of %d bytes, shorter than %d: %w", len(record), RecordOverhead, ErrMalformed)
	}
	if string(record[:4]) != recordMagic {
		return 0, fmt.Errorf("envelope: not a record (bad magic): %w", ErrMalformed)
	}
	v := record[4]
	if (v != Version1 && v != RecordVersion3) || record[5] != SuiteAES256GCM {
		return 0, fmt.Errorf("envelope: record version %d suite %d: %w", record[4], record[5], ErrVersion)
	}
	overhead := RecordOverhead
	if v == Version1 {
		overhead = RecordOverheadV1
	}
	if len(record) < overhead {
		return 0, fmt.Errorf("envelope: version-%d record of %d bytes, shorter than %d: %w", v, len(record), overhead, ErrMalformed)
	}
	if len(record) > MaxRecordSize+overhead {
		return 0, fmt.Errorf("envelope: record of %d bytes, limit %d: %w", len(record), MaxRecordSize+overhead, ErrTooLarge)
	}
	return v, nil
}

// sliceForAppend extends in by n bytes, allocating exactly once when its
// capacity is short, and returns the whole and the new part.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}

// anyOverlap reports whether x and y share memory (crypto/internal/alias).
func anyOverlap(x, y []byte) bool {
	return len(x) > 0 && len(y) > 0 &&
		uintptrOf(x) <= uintptrOf(y[len(y)-1:]) &&
		uintptrOf(y) <= uintptrOf(x[len(x)-1:])
}
