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
// A record costs a fixed ~1.1-1.5 microseconds on top of AES-GCM: a random
// salt, two HMAC-SHA256 blocks of HKDF, and a fresh AES key schedule and GCM
// state for its one-use subkey, which crypto/aes and crypto/cipher allocate
// (Seal and Open make 3 allocations, 2 when dst has room). Measured against
// tink-go's AES256GCM on one core of a Xeon with SHA-NI: about 6x slower for
// 64-byte records, 3.5-4x for 1 KiB, and on par (0.93-0.96x) for 64 KiB.
// That is the price of committing, context-bound records with per-record
// keys; it is small next to one password derivation.
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
