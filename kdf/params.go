package kdf

// Algorithm names a password KDF. The numeric values are persisted in the
// binary encoding and never change.
type Algorithm uint8

const (
	Argon2id     Algorithm = 1 // RFC 9106 Argon2id, version 0x13
	Scrypt       Algorithm = 2 // RFC 7914 scrypt
	PBKDF2SHA256 Algorithm = 3 // RFC 8018 PBKDF2 with HMAC-SHA256 (FIPS)
)

// Params is one complete parameter set. Only the fields of its Algorithm are
// meaningful; the others must be zero.
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
// Deriver reserves from its budget before running it.
func (p Params) MemoryBytes() int64 {
	switch p.Algorithm {
	case Argon2id:
		return int64(p.MemoryKiB) * 1024
	case Scrypt:
		return 128 * int64(p.BlockSize) * ((int64(1) << p.LogN) + int64(p.Parallelism))
	default:
		return 0
	}
}
