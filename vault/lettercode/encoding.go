package lettercode

import (
	"encoding/binary"
	"fmt"
	"time"
)

const (
	recordMagic   = "PVLC"
	attemptsMagic = "PVLA"
	formatVersion = 1
	// maxRecordSize bounds a Record encoding: magic, version, 3 length bytes,
	// key id, subject, two times and the MAC.
	maxRecordSize = 4 + 1 + 3 + MaxKeyIDLength + MaxSubjectLength + 16 + 32
)

// MarshalBinary returns the canonical encoding of r (see the package doc,
// # FORMAT). It fails with ErrMalformed if r could not have been issued.
func (r Record) MarshalBinary() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, maxRecordSize)
	b = append(b, recordMagic...)
	b = append(b, formatVersion)
	b = append(b, r.header()...)
	b = append(b, r.MAC[:]...)
	return b, nil
}

func (r Record) check() error {
	switch {
	case r.Length < MinLength || r.Length > MaxLength:
		return fmt.Errorf("%w: code length %d", ErrMalformed, r.Length)
	case !validKeyID(r.KeyID):
		return fmt.Errorf("%w: key id", ErrMalformed)
	case len(r.Subject) > MaxSubjectLength:
		return fmt.Errorf("%w: subject too long", ErrMalformed)
	case !representable(r.IssuedAt) || !representable(r.ExpiresAt):
		return fmt.Errorf("%w: time out of range", ErrMalformed)
	case !r.ExpiresAt.After(r.IssuedAt):
		return fmt.Errorf("%w: expiry not after issue time", ErrMalformed)
	}
	return nil
}

// ParseRecord parses the canonical encoding of a Record, strictly: any
// other byte string is ErrMalformed.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) > maxRecordSize || len(b) < 4+1+3+1+16+32 {
		return r, fmt.Errorf("%w: record size", ErrMalformed)
	}
	if string(b[:4]) != recordMagic || b[4] != formatVersion {
		return r, fmt.Errorf("%w: record magic or version", ErrMalformed)
	}
	p := b[5:]
	r.Length = int(p[0])
	n := int(p[1])
	p = p[2:]
	if len(p) < n+1 {
		return r, fmt.Errorf("%w: truncated key id", ErrMalformed)
	}
	r.KeyID, p = string(p[:n]), p[n:]
	m := int(p[0])
	p = p[1:]
	if len(p) != m+16+32 {
		return r, fmt.Errorf("%w: record length", ErrMalformed)
	}
	r.Subject, p = string(p[:m]), p[m:]
	r.IssuedAt = time.Unix(0, int64(binary.BigEndian.Uint64(p))).UTC()
	r.ExpiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(p[8:]))).UTC()
	copy(r.MAC[:], p[16:])
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// MarshalBinary returns the canonical encoding of a (see the package doc,
// # FORMAT).
func (a Attempts) MarshalBinary() ([]byte, error) {
	if len(a.times) > MaxAttemptsLimit {
		return nil, fmt.Errorf("%w: too many attempts in state", ErrMalformed)
	}
	b := make([]byte, 0, 6+8*len(a.times))
	b = append(b, attemptsMagic...)
	b = append(b, formatVersion, byte(len(a.times)))
	for _, t := range a.times {
		b = binary.BigEndian.AppendUint64(b, uint64(t))
	}
	return b, nil
}

// ParseAttempts parses the canonical encoding of an Attempts value,
// strictly. A caller with no stored state uses the zero Attempts instead.
func ParseAttempts(b []byte) (Attempts, error) {
	if len(b) < 6 || len(b) > 6+8*MaxAttemptsLimit {
		return Attempts{}, fmt.Errorf("%w: attempts size", ErrMalformed)
	}
	if string(b[:4]) != attemptsMagic || b[4] != formatVersion {
		return Attempts{}, fmt.Errorf("%w: attempts magic or version", ErrMalformed)
	}
	k := int(b[5])
	if k > MaxAttemptsLimit || len(b) != 6+8*k {
		return Attempts{}, fmt.Errorf("%w: attempts length", ErrMalformed)
	}
	var a Attempts
	if k > 0 {
		a.times = make([]int64, k)
	}
	for i := range a.times {
		a.times[i] = int64(binary.BigEndian.Uint64(b[6+8*i:]))
		if i > 0 && a.times[i] < a.times[i-1] {
			return Attempts{}, fmt.Errorf("%w: attempt times out of order", ErrMalformed)
		}
	}
	return a, nil
}
