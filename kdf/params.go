package kdf

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// Algorithm names a password KDF. The numeric values are persisted in the
// binary encoding and never change.
type Algorithm uint8

const (
	Argon2id     Algorithm = 1 // RFC 9106 Argon2id, version 0x13
	Scrypt       Algorithm = 2 // RFC 7914 scrypt
	PBKDF2SHA256 Algorithm = 3 // RFC 8018 PBKDF2 with HMAC-SHA256 (FIPS)
)

// String returns the algorithm's PHC identifier ("argon2id", "scrypt",
// "pbkdf2-sha256"), or "unknown" for any other value.
func (a Algorithm) String() string {
	switch a {
	case Argon2id:
		return "argon2id"
	case Scrypt:
		return "scrypt"
	case PBKDF2SHA256:
		return "pbkdf2-sha256"
	}
	return "unknown"
}

// Params is one complete parameter set. Only the fields of its Algorithm are
// meaningful; the others must be zero.
//
// A Params is valid when it names a known algorithm, its own fields are in
// range and every other field is zero (see [Policy.Check] for the exact
// rules). Only valid Params can be encoded; both encodings are canonical:
// one Params has exactly one text and one binary spelling, and parsing
// either gives back the same Params.
type Params struct {
	Algorithm Algorithm

	// Argon2id.
	MemoryKiB uint32 // m, in KiB
	Passes    uint32 // t
	Threads   uint8  // p (lanes)

	// scrypt: N = 1<<LogN, r = BlockSize, p = Parallelism.
	LogN        uint8
	BlockSize   uint32
	Parallelism uint32

	// PBKDF2-HMAC-SHA256.
	Iterations uint32
}

// MemoryBytes is the memory one derivation with p takes, in bytes: what the
// Deriver reserves from its budget before running it. For Argon2id it is
// m KiB (the block matrix; implementations round m down to a multiple of
// 4*p blocks, never up); for scrypt 128*r*(N+p+2) bytes (the V array, the
// p blocks of B, and the XY scratch of 256*r bytes); for PBKDF2 zero
// (a few hundred bytes of hash state). Small per-call buffers are not
// counted. The result saturates at the largest int64 instead of
// overflowing, whatever the fields hold.
func (p Params) MemoryBytes() int64 {
	switch p.Algorithm {
	case Argon2id:
		return int64(p.MemoryKiB) * 1024
	case Scrypt:
		if p.LogN > maxScryptLogN {
			return math.MaxInt64
		}
		hi, lo := bits.Mul64(128*uint64(p.BlockSize), uint64(1)<<p.LogN+uint64(p.Parallelism)+2)
		if hi != 0 || lo > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(lo)
	default:
		return 0
	}
}

// Work is the total work of one derivation with p, in its algorithm's own
// unit, the one the policy's work cap (Caps.MaxWorkMultiple) compares:
//
//   - Argon2id: m*t, the KiB blocks computed over all passes (lanes split
//     the same blocks, so p does not change the total);
//   - scrypt: N*r*p, the 128-byte blocks each of the p ROMix runs writes
//     and reads back;
//   - PBKDF2: the iteration count.
//
// Works of different algorithms are not comparable. The result saturates
// at the largest uint64 instead of overflowing, whatever the fields hold.
func (p Params) Work() uint64 {
	switch p.Algorithm {
	case Argon2id:
		return uint64(p.MemoryKiB) * uint64(p.Passes)
	case Scrypt:
		if p.LogN > 63 {
			return math.MaxUint64
		}
		return satMul(satMul(uint64(1)<<p.LogN, uint64(p.BlockSize)), uint64(p.Parallelism))
	case PBKDF2SHA256:
		return uint64(p.Iterations)
	}
	return 0
}

// satMul is a*b, saturating at the largest uint64.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// Structural limits, independent of any policy.
const (
	argon2Version = 0x13 // v=19, the only version RFC 9106 specifies
	minScryptLogN = 1
	maxScryptLogN = 62 // N = 1<<LogN must fit in a signed 64-bit integer
)

// validate checks that p describes a parameter set its algorithm accepts.
// It never allocates: every error is a paramError constant.
func (p Params) validate() error {
	switch p.Algorithm {
	case Argon2id:
		if p.LogN != 0 || p.BlockSize != 0 || p.Parallelism != 0 || p.Iterations != 0 {
			return errStrayFields
		}
		switch {
		case p.Threads == 0:
			return errArgon2Threads
		case p.Passes == 0:
			return errArgon2Passes
		case uint64(p.MemoryKiB) < 8*uint64(p.Threads):
			return errArgon2Memory
		}
	case Scrypt:
		if p.MemoryKiB != 0 || p.Passes != 0 || p.Threads != 0 || p.Iterations != 0 {
			return errStrayFields
		}
		switch {
		case p.LogN < minScryptLogN || p.LogN > maxScryptLogN:
			return errScryptLogN
		case p.BlockSize == 0:
			return errScryptR
		case p.Parallelism == 0:
			return errScryptP
		case uint64(p.BlockSize)*uint64(p.Parallelism) >= 1<<30:
			return errScryptRP
		}
	case PBKDF2SHA256:
		if p.MemoryKiB != 0 || p.Passes != 0 || p.Threads != 0 ||
			p.LogN != 0 || p.BlockSize != 0 || p.Parallelism != 0 {
			return errStrayFields
		}
		if p.Iterations == 0 {
			return errPBKDF2Iterations
		}
	default:
		return errUnknownAlgorithm
	}
	return nil
}

// Text encoding (PHC string format, parameters only):
//
//	$argon2id$v=19$m=<m>,t=<t>,p=<p>
//	$scrypt$ln=<log2 N>,r=<r>,p=<p>
//	$pbkdf2-sha256$i=<iterations>
//
// Numbers are decimal without sign or leading zeros; keys appear exactly
// once, in this order; nothing follows. See FORMAT.md.

// String returns the canonical text encoding of p if p is valid. For an
// invalid p it returns a diagnostic that no parser accepts, so a String
// result that parses is always canonical.
func (p Params) String() string {
	b, err := p.AppendText(nil)
	if err != nil {
		return "!invalid(" + err.Error() + ")"
	}
	return string(b)
}

// AppendText appends the canonical text encoding of p to b. It returns
// ErrMalformedParams, and b unchanged, if p is not valid.
func (p Params) AppendText(b []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return b, err
	}
	switch p.Algorithm {
	case Argon2id:
		b = append(b, "$argon2id$v=19$m="...)
		b = strconv.AppendUint(b, uint64(p.MemoryKiB), 10)
		b = append(b, ",t="...)
		b = strconv.AppendUint(b, uint64(p.Passes), 10)
		b = append(b, ",p="...)
		b = strconv.AppendUint(b, uint64(p.Threads), 10)
	case Scrypt:
		b = append(b, "$scrypt$ln="...)
		b = strconv.AppendUint(b, uint64(p.LogN), 10)
		b = append(b, ",r="...)
		b = strconv.AppendUint(b, uint64(p.BlockSize), 10)
		b = append(b, ",p="...)
		b = strconv.AppendUint(b, uint64(p.Parallelism), 10)
	case PBKDF2SHA256:
		b = append(b, "$pbkdf2-sha256$i="...)
		b = strconv.AppendUint(b, uint64(p.Iterations), 10)
	}
	return b, nil
}

// MarshalText implements encoding.TextMarshaler with the canonical text
// encoding. It fails with ErrMalformedParams for an invalid p.
func (p Params) MarshalText() ([]byte, error) { return p.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseParams]'s
// strict rules. On error *p is left unchanged.
func (p *Params) UnmarshalText(text []byte) error {
	q, err := parseText(text)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// maxTextLen bounds the text encoding: the longest valid one is
// "$argon2id$v=19$m=4294967295,t=4294967295,p=255" (46 bytes).
const maxTextLen = 64

// ParseParams parses the canonical text encoding of Params (PHC style, for
// example "$argon2id$v=19$m=65536,t=3,p=4"). Parsing is strict: unknown
// algorithm, version other than 19, unknown, duplicate, missing or
// reordered keys, signs, leading zeros, values out of range, and trailing
// bytes (such as a PHC salt or hash) are refused with ErrMalformedParams.
// The result is valid, and p.String() returns s byte for byte.
//
// ParseParams does not apply any Policy: a parsed Params may still be above
// the caps; [Policy.Check] (which [Deriver.Derive] runs first) decides.
func ParseParams(s string) (Params, error) {
	if len(s) > maxTextLen { // before copying s
		return Params{}, errTextTooLong
	}
	return parseText([]byte(s))
}

type textParser struct {
	s   []byte
	off int
}

func (t *textParser) literal(lit string) bool {
	if len(t.s)-t.off < len(lit) || string(t.s[t.off:t.off+len(lit)]) != lit {
		return false
	}
	t.off += len(lit)
	return true
}

// field reads "<key>=<number>" where number is canonical decimal <= max.
// seen lists the keys already read, to tell a duplicate from an unknown key.
func (t *textParser) field(key string, max uint64, seen ...string) (uint64, error) {
	start := t.off
	for t.off < len(t.s) && t.s[t.off] != '=' && t.s[t.off] != ',' && t.s[t.off] != '$' {
		t.off++
	}
	got := t.s[start:t.off]
	if string(got) != key {
		for _, k := range seen {
			if string(got) == k {
				return 0, errTextDuplicateKey
			}
		}
		if len(got) == 0 {
			return 0, errTextMissingKey
		}
		return 0, errTextUnexpectedKey
	}
	if t.off == len(t.s) || t.s[t.off] != '=' {
		return 0, errTextSyntax
	}
	t.off++
	start = t.off
	var v uint64
	for t.off < len(t.s) && '0' <= t.s[t.off] && t.s[t.off] <= '9' {
		v = v*10 + uint64(t.s[t.off]-'0')
		t.off++
		if v > max {
			return 0, errTextRange
		}
	}
	switch n := t.off - start; {
	case n == 0:
		return 0, errTextSyntax
	case n > 1 && t.s[start] == '0':
		return 0, errTextLeadingZero
	}
	return v, nil
}

func parseText(s []byte) (Params, error) {
	if len(s) > maxTextLen {
		return Params{}, errTextTooLong
	}
	t := &textParser{s: s}
	var p Params
	switch {
	case t.literal("$argon2id$"):
		v, err := t.field("v", 255)
		if err != nil {
			return Params{}, err
		}
		if v != argon2Version {
			return Params{}, errArgon2Version
		}
		if !t.literal("$") {
			return Params{}, errTextSyntax
		}
		m, err := t.field("m", 1<<32-1, "v")
		if err != nil {
			return Params{}, err
		}
		if !t.literal(",") {
			return Params{}, errTextSyntax
		}
		tt, err := t.field("t", 1<<32-1, "v", "m")
		if err != nil {
			return Params{}, err
		}
		if !t.literal(",") {
			return Params{}, errTextSyntax
		}
		pp, err := t.field("p", 255, "v", "m", "t")
		if err != nil {
			return Params{}, err
		}
		p = Params{Algorithm: Argon2id, MemoryKiB: uint32(m), Passes: uint32(tt), Threads: uint8(pp)}
	case t.literal("$scrypt$"):
		ln, err := t.field("ln", 255)
		if err != nil {
			return Params{}, err
		}
		if !t.literal(",") {
			return Params{}, errTextSyntax
		}
		r, err := t.field("r", 1<<32-1, "ln")
		if err != nil {
			return Params{}, err
		}
		if !t.literal(",") {
			return Params{}, errTextSyntax
		}
		pp, err := t.field("p", 1<<32-1, "ln", "r")
		if err != nil {
			return Params{}, err
		}
		p = Params{Algorithm: Scrypt, LogN: uint8(ln), BlockSize: uint32(r), Parallelism: uint32(pp)}
	case t.literal("$pbkdf2-sha256$"):
		i, err := t.field("i", 1<<32-1)
		if err != nil {
			return Params{}, err
		}
		p = Params{Algorithm: PBKDF2SHA256, Iterations: uint32(i)}
	default:
		return Params{}, errUnknownAlgorithm
	}
	if t.off != len(t.s) {
		if t.s[t.off] == ',' {
			return Params{}, errTextUnexpectedKey
		}
		return Params{}, errTextTrailing
	}
	if err := p.validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

// Binary encoding (see FORMAT.md): one algorithm byte, then fixed-width
// big-endian fields. Every valid Params has exactly one encoding and its
// length is fixed by the algorithm byte.
//
//	Argon2id      0x01 | version (1) = 0x13 | m (4) | t (4) | p (1)   11 bytes
//	scrypt        0x02 | log2 N (1) | r (4) | p (4)                   10 bytes
//	PBKDF2-SHA256 0x03 | iterations (4)                                5 bytes
const (
	binaryLenArgon2id = 11
	binaryLenScrypt   = 10
	binaryLenPBKDF2   = 5
)

// MaxBinaryLen is the length of the longest binary encoding of Params.
const MaxBinaryLen = binaryLenArgon2id

// AppendBinary appends the canonical binary encoding of p to b
// (encoding.BinaryAppender). It returns ErrMalformedParams, and b
// unchanged, if p is not valid.
func (p Params) AppendBinary(b []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return b, err
	}
	b = append(b, byte(p.Algorithm))
	switch p.Algorithm {
	case Argon2id:
		b = append(b, argon2Version)
		b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
		b = binary.BigEndian.AppendUint32(b, p.Passes)
		b = append(b, p.Threads)
	case Scrypt:
		b = append(b, p.LogN)
		b = binary.BigEndian.AppendUint32(b, p.BlockSize)
		b = binary.BigEndian.AppendUint32(b, p.Parallelism)
	case PBKDF2SHA256:
		b = binary.BigEndian.AppendUint32(b, p.Iterations)
	}
	return b, nil
}

// MarshalBinary implements encoding.BinaryMarshaler with the canonical
// binary encoding.
func (p Params) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler with
// [ParseBinary]'s rules. On error *p is left unchanged.
func (p *Params) UnmarshalBinary(b []byte) error {
	q, err := ParseBinary(b)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParseBinary parses exactly one canonical binary encoding of Params: b must
// have the exact length its algorithm byte implies, and the result must be
// valid; anything else is ErrMalformedParams. AppendBinary of the result
// gives back b byte for byte. Like ParseParams, it applies no Policy.
func ParseBinary(b []byte) (Params, error) {
	if len(b) == 0 {
		return Params{}, errBinaryLength
	}
	var p Params
	switch Algorithm(b[0]) {
	case Argon2id:
		if len(b) != binaryLenArgon2id {
			return Params{}, errBinaryLength
		}
		if b[1] != argon2Version {
			return Params{}, errArgon2Version
		}
		p = Params{
			Algorithm: Argon2id,
			MemoryKiB: binary.BigEndian.Uint32(b[2:6]),
			Passes:    binary.BigEndian.Uint32(b[6:10]),
			Threads:   b[10],
		}
	case Scrypt:
		if len(b) != binaryLenScrypt {
			return Params{}, errBinaryLength
		}
		p = Params{
			Algorithm:   Scrypt,
			LogN:        b[1],
			BlockSize:   binary.BigEndian.Uint32(b[2:6]),
			Parallelism: binary.BigEndian.Uint32(b[6:10]),
		}
	case PBKDF2SHA256:
		if len(b) != binaryLenPBKDF2 {
			return Params{}, errBinaryLength
		}
		p = Params{Algorithm: PBKDF2SHA256, Iterations: binary.BigEndian.Uint32(b[1:5])}
	default:
		return Params{}, errUnknownAlgorithm
	}
	if err := p.validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}
