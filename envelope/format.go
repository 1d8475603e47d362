package envelope

import (
	"encoding/binary"
	"fmt"
)

// Format identifiers. They are persisted and never change meaning.
const (
	// Version1 is the first header format and the record format this
	// package reads and writes. WrapKey, Rewrap of a version-1 header and
	// Seal write it; every release reads it.
	Version1 = 1
	// Version3 is the header format with an authenticated generation
	// counter, a key generation and older keys wrapped under the current
	// one (FORMAT.md section 2.9). WrapKeyV3, RewrapWith and Rotate write
	// it; the vault writes only version-3 account headers. Byte 2 is never
	// used for headers: the version-1 vectors use it as their example of an
	// unknown version, and they must keep passing.
	Version3 = 3
	// SuiteAES256GCM is suite 1: AES-256-GCM with random 12-byte nonces
	// under single-use subkeys, HKDF-SHA256 and HMAC-SHA256 (FIPS
	// 140-approved primitives only; it runs under GODEBUG=fips140=only).
	SuiteAES256GCM = 1
)

// Limits, checked before anything is allocated.
const (
	MaxStanzas       = 16      // stanzas in one header
	MaxStanzaType    = 32      // bytes of a stanza type
	MaxKeyID         = 255     // bytes of a stanza key id
	MaxStanzaBody    = 4096    // bytes of a stanza body
	MaxBindingField  = 255     // bytes of Binding.UserID and Binding.Label
	MaxRecordSize    = 1 << 24 // bytes of plaintext in one record (16 MiB)
	CommitmentSize   = 32      // bytes of a key commitment
	MACSize          = 32      // bytes of the header MAC
	RecordSaltSize   = 32      // bytes of a record's random salt
	RecordHeaderSize = 4 + 1 + 1 + RecordSaltSize + CommitmentSize
	// RecordOverhead is the length of a record sealed by RecordKey.Seal
	// (version 3) minus its plaintext; RecordOverheadV1 is version 1's.
	RecordOverhead = 4 + 1 + 1 + 4 + CommitmentSize + gcmNonceSize + gcmTagSize
	// MaxOlderKeys bounds the older keys a version-3 header carries.
	MaxOlderKeys = 32
	// MaxHeaderSizeV1 is the longest version-1 header (70,263 bytes).
	MaxHeaderSizeV1 = headerPrefixSize + 1 + MaxStanzas*(1+MaxStanzaType+1+MaxKeyID+2+MaxStanzaBody) + CommitmentSize + MACSize
	// MaxHeaderSize is the longest encoding ParseHeader accepts (the
	// longest version-3 header: MaxHeaderSizeV1 plus the generation, the
	// key generation, the older-key count and MaxOlderKeys older keys).
	MaxHeaderSize = MaxHeaderSizeV1 + v3FieldsSize + 1 + MaxOlderKeys*olderKeySize
)

const (
	headerMagic      = "PVEH" // piivault envelope header
	recordMagic      = "PVER" // piivault envelope record
	headerPrefixSize = 4 + 1 + 1
	v3FieldsSize     = 8 + 4           // generation, key generation
	olderKeySize     = 4 + wrappedSize // key generation, committing wrap
	gcmTagSize       = 16
	gcmNonceSize     = 12
)

// appendBinding appends the canonical encoding of b: u8 len, UserID, u8 len,
// Label. It assumes b is valid.
func appendBinding(dst []byte, b Binding) []byte {
	dst = append(dst, byte(len(b.UserID)))
	dst = append(dst, b.UserID...)
	dst = append(dst, byte(len(b.Label)))
	return append(dst, b.Label...)
}

func checkBinding(b Binding) error {
	if len(b.UserID) == 0 || len(b.UserID) > MaxBindingField {
		return fmt.Errorf("envelope: binding user id must be 1..%d bytes: %w", MaxBindingField, ErrInvalidBinding)
	}
	if len(b.Label) == 0 || len(b.Label) > MaxBindingField {
		return fmt.Errorf("envelope: binding label must be 1..%d bytes: %w", MaxBindingField, ErrInvalidBinding)
	}
	return nil
}

// checkStanza checks the limits and character set of one stanza.
func checkStanza(s *Stanza) error {
	if s == nil {
		return fmt.Errorf("envelope: nil stanza: %w", ErrMalformed)
	}
	if len(s.Type) == 0 || len(s.Type) > MaxStanzaType {
		return fmt.Errorf("envelope: stanza type must be 1..%d bytes: %w", MaxStanzaType, ErrMalformed)
	}
	for i := 0; i < len(s.Type); i++ {
		c := s.Type[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("envelope: stanza type has a byte outside [a-z0-9._-]: %w", ErrMalformed)
		}
	}
	if len(s.KeyID) > MaxKeyID {
		return fmt.Errorf("envelope: stanza key id longer than %d bytes: %w", MaxKeyID, ErrTooLarge)
	}
	if len(s.Body) == 0 {
		return fmt.Errorf("envelope: empty stanza body: %w", ErrMalformed)
	}
	if len(s.Body) > MaxStanzaBody {
		return fmt.Errorf("envelope: stanza body longer than %d bytes: %w", MaxStanzaBody, ErrTooLarge)
	}
	return nil
}

func appendStanza(dst []byte, s *Stanza) []byte {
	dst = append(dst, byte(len(s.Type)))
	dst = append(dst, s.Type...)
	dst = append(dst, byte(len(s.KeyID)))
	dst = append(dst, s.KeyID...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s.Body)))
	return append(dst, s.Body...)
}

// appendHeaderBody appends every header byte before the commitment: magic,
// version, suite, (version 3: generation, key generation), count, stanzas
// and (version 3) the older keys.
func appendHeaderBody(dst []byte, h *Header) ([]byte, error) {
	stanzas := h.Stanzas
	if len(stanzas) == 0 {
		return nil, fmt.Errorf("envelope: header without stanzas: %w", ErrMalformed)
	}
	if len(stanzas) > MaxStanzas {
		return nil, fmt.Errorf("envelope: more than %d stanzas: %w", MaxStanzas, ErrTooLarge)
	}
	passwords := 0
	for _, s := range stanzas {
		if err := checkStanza(s); err != nil {
			return nil, err
		}
		if s.Type == TypePassword {
			passwords++
		}
	}
	v := h.Version()
	switch v {
	case Version1:
	case Version3:
		if passwords > 1 {
			return nil, fmt.Errorf("envelope: %d password stanzas, at most 1: %w", passwords, ErrMalformed)
		}
		if h.generation == 0 {
			return nil, fmt.Errorf("envelope: version-3 header with generation 0: %w", ErrMalformed)
		}
		if err := checkOlderKeys(h.keyGen, h.older); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("envelope: header version %d: %w", v, ErrVersion)
	}
	dst = append(dst, headerMagic...)
	dst = append(dst, byte(v), SuiteAES256GCM)
	if v == Version3 {
		dst = binary.BigEndian.AppendUint64(dst, h.generation)
		dst = binary.BigEndian.AppendUint32(dst, h.keyGen)
	}
	dst = append(dst, byte(len(stanzas)))
	for _, s := range stanzas {
		dst = appendStanza(dst, s)
	}
	if v == Version3 {
		dst = append(dst, byte(len(h.older)))
		for _, o := range h.older {
			dst = binary.BigEndian.AppendUint32(dst, o.gen)
			dst = append(dst, o.wrapped...)
		}
	}
	return dst, nil
}

// checkOlderKeys checks the older keys of a version-3 header: at most
// MaxOlderKeys, generations strictly decreasing and below keyGen, each
// wrap wrappedSize bytes.
func checkOlderKeys(keyGen uint32, older []olderKey) error {
	if len(older) > MaxOlderKeys {
		return fmt.Errorf("envelope: %d older keys, limit %d: %w", len(older), MaxOlderKeys, ErrTooLarge)
	}
	prev := keyGen
	for _, o := range older {
		if o.gen >= prev {
			return fmt.Errorf("envelope: older key generation %d not below %d: %w", o.gen, prev, ErrMalformed)
		}
		if len(o.wrapped) != wrappedSize {
			return fmt.Errorf("envelope: older key wrap of %d bytes: %w", len(o.wrapped), ErrMalformed)
		}
		prev = o.gen
	}
	return nil
}

// reader is a bounds-checked cursor over untrusted bytes.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() int {
	s := r.take(1)
	if s == nil {
		return 0
	}
	return int(s[0])
}

func (r *reader) u32() uint32 {
	s := r.take(4)
	if s == nil {
		return 0
	}
	return binary.BigEndian.Uint32(s)
}

func (r *reader) u64() uint64 {
	s := r.take(8)
	if s == nil {
		return 0
	}
	return binary.BigEndian.Uint64(s)
}

func (r *reader) u16() int {
	s := r.take(2)
	if s == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(s))
}

// parseHeaderPrefix parses one header at the start of data and returns it
// and its length. Every length is checked against the limits before the
// stanza is copied; see FORMAT.md section 2.1 for the order of the checks.
func parseHeaderPrefix(data []byte) (*Header, int, error) {
	if len(data) < headerPrefixSize {
		return nil, 0, fmt.Errorf("envelope: header shorter than its prefix: %w", ErrMalformed)
	}
	if string(data[:4]) != headerMagic {
		return nil, 0, fmt.Errorf("envelope: not a header (bad magic): %w", ErrMalformed)
	}
	if (data[4] != Version1 && data[4] != Version3) || data[5] != SuiteAES256GCM {
		return nil, 0, fmt.Errorf("envelope: header version %d suite %d: %w", data[4], data[5], ErrVersion)
	}
	version := data[4]
	r := &reader{b: data, off: headerPrefixSize}
	h := &Header{version: version}
	if version == Version3 {
		h.generation = r.u64()
		h.keyGen = r.u32()
		if !r.bad && h.generation == 0 {
			return nil, 0, fmt.Errorf("envelope: version-3 header with generation 0: %w", ErrMalformed)
		}
	}
	n := r.u8()
	if r.bad {
		return nil, 0, fmt.Errorf("envelope: truncated header: %w", ErrMalformed)
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("envelope: header without stanzas: %w", ErrMalformed)
	}
	if n > MaxStanzas {
		return nil, 0, fmt.Errorf("envelope: header has %d stanzas, limit %d: %w", n, MaxStanzas, ErrTooLarge)
	}
	h.Stanzas = make([]*Stanza, 0, n)
	passwords := 0
	for i := 0; i < n; i++ {
		tl := r.u8()
		if !r.bad && (tl == 0 || tl > MaxStanzaType) {
			return nil, 0, fmt.Errorf("envelope: stanza type length %d: %w", tl, ErrMalformed)
		}
		typ := r.take(tl)
		kl := r.u8()
		kid := r.take(kl)
		bl := r.u16()
		if !r.bad && bl > MaxStanzaBody {
			return nil, 0, fmt.Errorf("envelope: stanza body of %d bytes, limit %d: %w", bl, MaxStanzaBody, ErrTooLarge)
		}
		body := r.take(bl)
		if r.bad {
			return nil, 0, fmt.Errorf("envelope: truncated stanza: %w", ErrMalformed)
		}
		s := &Stanza{Type: string(typ), Body: append([]byte(nil), body...)}
		if kl > 0 {
			s.KeyID = append([]byte(nil), kid...)
		}
		if err := checkStanza(s); err != nil {
			return nil, 0, err
		}
		if s.Type == TypePassword {
			passwords++
			if passwords > 1 && version >= Version3 {
				// One password stanza: one KDF run and one guess per unlock.
				return nil, 0, fmt.Errorf("envelope: more than one password stanza: %w", ErrMalformed)
			}
		}
		h.Stanzas = append(h.Stanzas, s)
	}
	if version == Version3 {
		m := r.u8()
		if !r.bad && m > MaxOlderKeys {
			return nil, 0, fmt.Errorf("envelope: header has %d older keys, limit %d: %w", m, MaxOlderKeys, ErrTooLarge)
		}
		for i := 0; i < m && !r.bad; i++ {
			gen := r.u32()
			w := r.take(wrappedSize)
			if r.bad {
				break
			}
			h.older = append(h.older, olderKey{gen: gen, wrapped: append([]byte(nil), w...)})
		}
		if r.bad {
			return nil, 0, fmt.Errorf("envelope: truncated header: %w", ErrMalformed)
		}
		if err := checkOlderKeys(h.keyGen, h.older); err != nil {
			return nil, 0, err
		}
	}
	c := r.take(CommitmentSize)
	m := r.take(MACSize)
	if r.bad {
		return nil, 0, fmt.Errorf("envelope: truncated header: %w", ErrMalformed)
	}
	copy(h.commitment[:], c)
	copy(h.mac[:], m)
	h.sealed = true
	return h, r.off, nil
}
