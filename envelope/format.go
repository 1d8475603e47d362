package envelope

import (
	"encoding/binary"
	"fmt"
)

// Format identifiers. They are persisted and never change meaning.
const (
	// Version1 is the only format version this package writes and reads.
	Version1 = 1
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
	// RecordOverhead is the length of a sealed record minus its plaintext.
	RecordOverhead = RecordHeaderSize + gcmNonceSize + gcmTagSize
	// MaxHeaderSize is the longest encoding ParseHeader accepts.
	MaxHeaderSize = headerPrefixSize + 1 + MaxStanzas*(1+MaxStanzaType+1+MaxKeyID+2+MaxStanzaBody) + CommitmentSize + MACSize
)

const (
	headerMagic      = "PVEH" // piivault envelope header
	recordMagic      = "PVER" // piivault envelope record
	headerPrefixSize = 4 + 1 + 1
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

// appendHeaderBody appends magic, version, suite, count and stanzas: the
// bytes the commitment follows.
func appendHeaderBody(dst []byte, stanzas []*Stanza) ([]byte, error) {
	if len(stanzas) == 0 {
		return nil, fmt.Errorf("envelope: header without stanzas: %w", ErrMalformed)
	}
	if len(stanzas) > MaxStanzas {
		return nil, fmt.Errorf("envelope: more than %d stanzas: %w", MaxStanzas, ErrTooLarge)
	}
	for _, s := range stanzas {
		if err := checkStanza(s); err != nil {
			return nil, err
		}
	}
	dst = append(dst, headerMagic...)
	dst = append(dst, Version1, SuiteAES256GCM, byte(len(stanzas)))
	for _, s := range stanzas {
		dst = appendStanza(dst, s)
	}
	return dst, nil
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

func (r *reader) u16() int {
	s := r.take(2)
	if s == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(s))
}

// parseHeaderPrefix parses one header at the start of data and returns it
// and its length. Every length is checked against the limits before the
// stanza is copied.
func parseHeaderPrefix(data []byte) (*Header, int, error) {
	if len(data) < headerPrefixSize {
		return nil, 0, fmt.Errorf("envelope: header shorter than its prefix: %w", ErrMalformed)
	}
	if string(data[:4]) != headerMagic {
		return nil, 0, fmt.Errorf("envelope: not a header (bad magic): %w", ErrMalformed)
	}
	if data[4] != Version1 || data[5] != SuiteAES256GCM {
		return nil, 0, fmt.Errorf("envelope: header version %d suite %d: %w", data[4], data[5], ErrVersion)
	}
	r := &reader{b: data, off: headerPrefixSize}
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
	h := &Header{Stanzas: make([]*Stanza, 0, n)}
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
		h.Stanzas = append(h.Stanzas, s)
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
