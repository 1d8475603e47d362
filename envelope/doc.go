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
