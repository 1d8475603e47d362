// Package envelope is the sealed format of piivault: a random 256-bit key
// wrapped for one or more recipients (a header), and records sealed under
// keys derived from it. FORMAT.md specifies every byte and every check.
//
// The design follows age (filippo.io/age): a Recipient wraps a key into
// stanzas, an Identity unwraps it from them and reports ErrNoMatch when no
// stanza is for it. Recipients here: a password (PasswordRecipient, one
// memory-hard KDF run with parameters stored in the stanza and capped before
// deriving), a high-entropy recovery key (RecoveryRecipient, HKDF only) and
// any tink.AEAD, such as a KMS-held key (AEADRecipient).
//
// # Key commitment and binding
//
// Every wrap whose key an attacker could guess or choose (password and
// recovery stanzas) and every record is key-committing: a 32-byte commitment
// derived with HKDF together with the one-use encryption key is stored and
// compared in constant time before decryption (the UtC and HtE transforms of
// Bellare and Hoang, EUROCRYPT 2022). The header stores a commitment to the
// file key and an HMAC under a subkey of it, as age does, so every recipient
// provably gets the same key. The caller's Binding (user id and label), the
// version and the suite are bound into every stanza, header and record.
//
// # Performance
//
// Version-3 records (what Seal writes) derive their AES-GCM and commitment
// keys once per RecordKey; a record then costs one HMAC-SHA256 (two SHA-256
// blocks, about 180 ns of CPU with SHA-NI) on top of AES-GCM and a random
// nonce, and allocates nothing but its output, nothing at all when dst has
// room. Measured against tink-go's AES256GCM, interleaved in one run on a
// shared 2-core AMD EPYC (BenchmarkRecordVsTink, thread CPU time, n=10):
// 1 KiB seal 0.93x and open 1.06x with room in dst, 1.4x both when the
// output is allocated; 64-byte records 1.6-2.1x. The HMAC is the price of
// key commitment, binding and unlinkable records; version 1's per-record
// AES key schedule cost about 2 µs and two allocations more.
//
// Streams (NewStreamWriter, NewStreamReader) seal data of any length in
// constant memory, at the speed of AES-GCM over the same chunk size.
// OpenStreamBytes opens a stream held in memory all or nothing, decrypting
// straight into the caller's buffer.
//
// # Backwards compatibility
//
// Version 1 headers and records open forever: golden files in
// testdata/envelope are checked by the tests of every release.
//
// # Security
//
// Keys this package derives are cleared with clear() after use; the AES key
// schedules inside crypto/aes and the hash states inside crypto/hmac are
// copies Go does not let us reach (see the kdf package's Security section for
// what clear() does and does not promise).
package envelope
