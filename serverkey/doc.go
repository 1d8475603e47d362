// Package serverkey keeps what the server must read without the user
// present (e-mail addresses, phone numbers, TOTP seeds) encrypted under
// server-held data keys, and computes look-up fingerprints of e-mail
// addresses and phone numbers. It is the counterpart of the vault package,
// whose records only the user's secrets open.
//
// What the server only has to check, never read (backup codes, one-time
// codes), is better not encrypted at all: store a fingerprint
// (Keyring.FingerprintNormalized, kind "backup_code") and compare with
// Fingerprint.Equal.
//
// # Keys
//
// A data key is 32 random bytes wrapped by a key-encryption key: a KMS or
// HSM key behind any tink.AEAD ([GenerateDataKey]). The operator keeps the
// wrapped keys in configuration, newest first: a [Keyring] seals new data
// under the current key and opens data under any key of the queue. Each
// data key is unwrapped once (one KMS call) on first use or at start-up
// ([Keyring.Warm]) and cached for the life of the Keyring, or for
// Config.CacheFor when set (then one KMS call per key per interval, and a
// failed refresh fails closed). [Keyring.Unwraps] counts the calls.
//
// # Ciphertexts
//
// Every ciphertext names its key id and is an envelope record (see
// envelope/FORMAT.md, section 4) under a key derived from the data key, the
// key id and the user id, bound to (user id, attribute name):
// key-committing, so it opens under no other key, for no other user and
// for no other attribute. One derived key per data key and user keeps each
// AES-GCM key far below its 2^32-message limit, however many users a data
// key serves. Every byte is specified in FORMAT.md next to this file, with
// vectors in testdata/serverkey (version 1, read only, and v3, written).
//
// Cost: after the data key is cached, a Seal or Open makes no KMS call.
// The per-user key is derived on a user's first operation (about 10
// microseconds, 71 allocations) and kept in a bounded cache of the users
// served last (Config.UserKeyCache, default 1024 keys, about 1.9 KiB
// each): a hit is a record seal or open, about 0.05x the time of a
// derivation (BenchmarkAttribute), with one allocation (the output).
//
// # Rotation
//
// Generate a new data key, put it first in Config (the old one goes to
// Older), deploy, then run [Rotate] over the attribute table: it
// re-encrypts what is under older keys with compare-and-swap and reports
// progress. Keep an old key in the queue as long as any backup that may be
// restored holds data under it. Fingerprints move the same way: look up
// with [Keyring.Fingerprints] (one per key, current first) and store
// [Keyring.Fingerprint] (current key) when you next write the value.
//
// # What the server can read
//
// Anything sealed here is readable by whoever runs the server with access
// to the KMS key: that is the point (sending mail, SMS codes, checking TOTP
// codes). Keep the user's identity data (name, SSN, address, ID document)
// in vault records, which the server cannot open. Fingerprints are
// deterministic: they leak which accounts share an e-mail address or phone
// number, and with the key, a phone fingerprint is a lookup table over
// all numbers (about 10^10 per country).
//
// # Key material
//
// Unwrapped data keys are cleared by Close and when a refresh (CacheFor)
// replaces them or fails. The cached per-user keys of a data key are
// destroyed (envelope.RecordKey.Destroy) at the same moments, while no
// operation is using them (an operation holds its data key's lock, which
// Close and a refresh take for writing). A per-user key that leaves a
// full cache while another goroutine is sealing with it is destroyed when
// that goroutine is done (reference count), never before. Caching them
// widens nothing: a per-user key is derived from the data key held in the
// same memory for as long, and reveals nothing that key does not.
// Go cannot promise more (copies the runtime made, the stack, the AES key
// schedules inside crypto/cipher that Destroy cannot reach).
package serverkey
