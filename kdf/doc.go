// Package kdf turns a password into keys: one memory-hard derivation
// (Argon2id by default, scrypt, or PBKDF2-HMAC-SHA256 for FIPS deployments)
// produces a master [Secret], from which HKDF-SHA256 expands independent,
// labelled subkeys (a key-encryption key, a verifier). A login therefore
// costs exactly one KDF run.
//
// Parameters ([Params]) are a value type with one canonical text encoding
// (PHC style) and one canonical binary encoding. A [Policy] says which
// parameters new accounts get, below which an account should be upgraded
// ([Policy.NeedsUpgrade]), and above which parameters are refused before
// any memory is taken ([Policy.Check]). A [Deriver] applies a Policy, a
// memory budget shared by all concurrent derivations, and an optional
// pepper.
package kdf
