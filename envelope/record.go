package envelope

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"sync"
)

// RecordKey seals and opens records under single-use subkeys derived from
// a key. It is safe for concurrent use by Seal and Open; Destroy must not
// run concurrently with them.
//
// A record is
//
//	"PVER" || version (1) || suite (1) || salt (32) || commitment (32) ||
//	nonce (12) || AES-256-GCM ciphertext || tag (16)
//
// with, for each record, a fresh random salt and
//
//	PRK = HKDF-Extract(salt = "piivault/envelope/v1/record", IKM = key)   (once, in NewRecordKey)
//	encKey || commitment = HKDF-Expand(PRK, info = record[:38] || binding, 64)
//
// encKey seals the plaintext (and nothing else) with a random nonce and
// associated data record[:70] || binding; commitment is stored and checked in
// constant time before decryption. See FORMAT.md.
//
// # How many records
//
// Each record uses a fresh key derived from a 256-bit random salt, so the only
// way two records share an AES key and nonce is a salt collision: after 2^48
// records under one key its probability is below 2^-160 (birthday bound
// q^2/2^257), and it stays below 2^-32 up to 2^112 records. No per-key
// usage limit of AES-GCM (NIST SP 800-38D's 2^32 random nonces) applies,
// because every GCM key seals exactly one message. In practice the bound
// is the 16 MiB plaintext limit per record, not the number of records.
type RecordKey struct {
	hmacKey   // HMAC-SHA256 keyed with PRK
	rand      io.Reader
	pool      sync.Pool
	destroyed bool
}

// recScratch is per-operation working memory, pooled so that Seal and Open
// allocate nothing but their output.
type recScratch struct {
	hashScratch
	hdr    [RecordHeaderSize]byte
	rnd    [RecordSaltSize + gcmNonceSize]byte
	t1, t2 [sha256.Size]byte
	ad     []byte // record header || binding
}

// NewRecordKey prepares key for sealing records; r supplies per-record salts
// (crypto/rand when nil). key is copied (as HKDF-Extract output); clear
// your copy when done.
func NewRecordKey(key []byte, r io.Reader) (*RecordKey, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	prk, err := hkdf.Extract(sha256.New, key, []byte(labelRecordSalt))
	if err != nil {
		return nil, fmt.Errorf("envelope: hkdf: %w", err)
	}
	defer clear(prk)
	k := &RecordKey{hmacKey: newHMACKey(prk), rand: r}
	k.pool.New = func() any {
		return &recScratch{hashScratch: newHashScratch(), ad: make([]byte, 0, RecordHeaderSize+2+2*MaxBindingField)}
	}
	return k, nil
}

// Destroy clears the key material held by k; Seal and Open fail afterwards.
// Hash states left in pooled scratch memory hold only values derived through
// SHA-256 and are overwritten by reuse, not cleared.
func (k *RecordKey) Destroy() {
	k.hmacKey.destroy()
	k.destroyed = true
}

// derive fills s.t1 (encryption key) and s.t2 (commitment) from the
// first 38 bytes of s.hdr and b: HKDF-Expand(PRK, s.hdr[:38] || binding, 64).
func (k *RecordKey) derive(s *recScratch, b Binding) {
	s.ad = appendBinding(append(s.ad[:0], s.hdr[:4+1+1+RecordSaltSize]...), b)
	info := s.ad
	s.tmp[0] = 1
	k.sum(&s.hashScratch, &s.t1, nil, info, s.tmp[:1])
	s.tmp[0] = 2
	k.sum(&s.hashScratch, &s.t2, s.t1[:], info, s.tmp[:1])
}

// setAD sets s.ad to the AEAD's associated data: the whole record header
// (with the commitment) followed by the binding.
func (s *recScratch) setAD(b Binding) {
	s.ad = appendBinding(append(s.ad[:0], s.hdr[:]...), b)
}

func (s *recScratch) wipe() {
	clear(s.t1[:])
	clear(s.tmp[:])
}

// Seal appends the sealed record of plaintext, bound to b, to dst, and
// returns the extended slice (len(plaintext)+RecordOverhead bytes longer).
// plaintext may overlap the returned slice (sealing in place with
// plaintext[:0] as dst works); it is never modified otherwise. Besides the
// output (allocated only when dst lacks the capacity), each call allocates
// the AES key schedule and GCM state of its one-use subkey (crypto/aes and
// crypto/cipher offer no way to rekey without allocating).
func (k *RecordKey) Seal(dst []byte, b Binding, plaintext []byte) ([]byte, error) {
	if k.destroyed || k.inner == nil {
		return nil, fmt.Errorf("envelope: record key destroyed or not made by NewRecordKey: %w", ErrInvalidKey)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxRecordSize {
		return nil, fmt.Errorf("envelope: record plaintext of %d bytes, limit %d: %w", len(plaintext), MaxRecordSize, ErrTooLarge)
	}
	s := k.pool.Get().(*recScratch)
	defer k.pool.Put(s)
	defer s.wipe()
	// One read for the salt and the nonce.
	if _, err := io.ReadFull(k.rand, s.rnd[:]); err != nil {
		return nil, fmt.Errorf("envelope: reading record salt: %w", err)
	}
	copy(s.hdr[:], recordMagic)
	s.hdr[4], s.hdr[5] = Version1, SuiteAES256GCM
	copy(s.hdr[6:6+RecordSaltSize], s.rnd[:RecordSaltSize])
	k.derive(s, b)
	copy(s.hdr[6+RecordSaltSize:], s.t2[:])
	s.setAD(b)

	ret, out := sliceForAppend(dst, RecordOverhead+len(plaintext))
	body := out[RecordHeaderSize:] // nonce || ciphertext || tag
	if anyOverlap(out, plaintext) {
		// Move the plaintext out of the way of the record header; gcmSeal
		// handles the rest of the overlap.
		copy(body, plaintext)
		plaintext = body[:len(plaintext)]
	}
	copy(out, s.hdr[:])
	gcmSeal(body[:0], s.t1[:], s.rnd[RecordSaltSize:], plaintext, s.ad)
	return ret, nil
}

// Open appends the plaintext of record, which must have been sealed under
// the same key and b, to dst. On any failure it returns nil and an error,
// and the bytes it wrote past len(dst) are cleared: no unauthenticated
// plaintext is ever returned. Checks, in order: length (ErrMalformed,
// ErrTooLarge), magic (ErrMalformed), version and suite (ErrVersion), key
// commitment (ErrCommitment: another key or binding), tag (ErrPayloadAuth).
// record may overlap dst's spare capacity (opening in place with record[:0]
// as dst works). Allocations are as for Seal.
func (k *RecordKey) Open(dst []byte, b Binding, record []byte) ([]byte, error) {
	if k.destroyed || k.inner == nil {
		return nil, fmt.Errorf("envelope: record key destroyed or not made by NewRecordKey: %w", ErrInvalidKey)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if err := checkRecord(record); err != nil {
		return nil, err
	}
	s := k.pool.Get().(*recScratch)
	defer k.pool.Put(s)
	defer s.wipe()
	copy(s.hdr[:], record)
	k.derive(s, b)
	if subtle.ConstantTimeCompare(s.t2[:], s.hdr[6+RecordSaltSize:]) != 1 {
		return nil, fmt.Errorf("envelope: record commitment does not match this key and binding: %w", ErrCommitment)
	}
	s.setAD(b)
	data := record[RecordHeaderSize:] // nonce || ciphertext || tag
	ret, out := sliceForAppend(dst, len(data)-gcmNonceSize-gcmTagSize)
	if anyOverlap(out, data) && &out[0] != &data[0] {
		// Move the sealed data to where the plaintext goes, so that the
		// AEAD sees an exact overlap.
		if cap(ret)-len(dst) >= len(data) {
			buf := ret[len(dst) : len(dst)+len(data)]
			copy(buf, data)
			data = buf
		} else {
			data = append([]byte(nil), data...)
		}
	}
	if _, err := gcmOpen(out[:0], s.t1[:], data, s.ad); err != nil {
		clear(out)
		return nil, fmt.Errorf("envelope: record: %w", ErrPayloadAuth)
	}
	return ret, nil
}

// checkRecord checks the length, magic, version and suite of a record.
func checkRecord(record []byte) error {
	if len(record) > MaxRecordSize+RecordOverhead {
		return fmt.Errorf("envelope: record of %d bytes, limit %d: %w", len(record), MaxRecordSize+RecordOverhead, ErrTooLarge)
	}
	if len(record) < RecordOverhead {
		return fmt.Errorf("envelope: record of %d bytes, shorter than %d: %w", len(record), RecordOverhead, ErrMalformed)
	}
	if string(record[:4]) != recordMagic {
		return fmt.Errorf("envelope: not a record (bad magic): %w", ErrMalformed)
	}
	if record[4] != Version1 || record[5] != SuiteAES256GCM {
		return fmt.Errorf("envelope: record version %d suite %d: %w", record[4], record[5], ErrVersion)
	}
	return nil
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
