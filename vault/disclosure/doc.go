// Package disclosure releases a user's identity attributes to a partner
// agency, only with the user's consent, only while the user is present, in
// a package the partner can verify came from the identity provider and
// answers its own request.
//
// The partner sends a request carrying a nonce (its OIDC nonce or SAML
// request ID). The user agrees to a [Consent]: which partner, which
// attribute names, for what purpose, until when, in answer to that nonce.
// [Discloser.Disclose] takes the user's unlocked account (there is no
// operator path: without the user's password or recovery key the identity
// record cannot be opened), reads exactly the consented attributes, seals
// them with HPKE (RFC 9180, Go's crypto/hpke) to the partner's public key,
// and signs the whole package with the provider's key, a crypto.Signer
// that may live in an HSM.
//
// The partner's [Opener.Open], before it decrypts anything, checks that
// the package is signed by a provider key it pinned by fingerprint
// ([PinProviderKey]); then that the consent names this partner and this
// partner's key, that it answers the nonce the partner expects, that the
// package is in force (from its release to its end, which is at most
// [DefaultPackageLifetime] later and never after the consent's expiry,
// with a [DefaultClockSkew] allowance at both ends); it decrypts, checks
// the plaintext holds exactly the consented attributes, and last asks its
// [ReplayCache] whether the package's random id was seen before. Errors
// are told apart with errors.Is: ErrWrongSigner, ErrForged, ErrWrongPartner,
// ErrNonce, ErrNotYetValid, ErrExpired, ErrReplay, ErrDecrypt, ErrMalformed,
// ErrUnsupportedVersion, ErrUnsupportedSuite, ErrTooLarge.
//
// So a package
//
//   - is accepted only if the provider signed every byte the partner reads
//     (header, consent, HPKE encapsulation, ciphertext): anyone holding the
//     partner's public key can make an HPKE ciphertext, nobody but the
//     provider can make a package;
//   - opens only with the partner's private key, and cannot be re-addressed
//     to another partner, widened to more attributes, given a longer life or
//     another purpose or nonce (the signature fails; the consent is also
//     bound into the HPKE info);
//   - is opened once per partner (the replay cache), only in answer to the
//     request it was made for, and only while in force;
//   - names the user by a pairwise subject ([Pairwise], OIDC-style), so two
//     partners cannot link a user by subject.
//
// Signature algorithms: Ed25519 (the default), ECDSA P-256 with SHA-256
// for FIPS 140 deployments and HSM-held keys, and the hybrid Ed25519 +
// ML-DSA-65 ([HybridSigner], github.com/cloudflare/circl), in which both
// signatures must verify, for packages that must stay trustworthy after
// large quantum computers. KEMs: DHKEM(X25519), MLKEM768-X25519 (X-Wing),
// and, for FIPS 140 deployments, DHKEM(P-256) and MLKEM768-P256; all with
// HKDF-SHA256 and AES-256-GCM. Under GODEBUG=fips140=only Go refuses
// X25519, so use a P-256 KEM there; Ed25519 and ECDSA P-256 signing work in
// that mode.
//
// The byte format is version 2, specified in FORMAT.md with test vectors
// in testdata/disclosure/v2. Version-1 packages were unsigned (anyone with
// the partner's public key could make one): they are refused with
// ErrUnsupportedVersion, and there is no option to accept them.
//
// Every Disclose call, released or refused, emits one audit event
// (log/slog) with the user id, the partner id and attribute NAMES when the
// consent is valid, and an error class (a fixed word): never values, the
// purpose, subject or nonce, nor an error's text (which could quote caller
// input).
//
// What it does not do: it does not revoke consent already acted on; the
// consent's times are as trustworthy as the provider's clock, and the
// package's window as the partner's (within the skew). A [MemoryReplayCache]
// protects one process: partners with several must share the cache (any
// store with an atomic insert-if-absent). Attribute values are Go strings,
// which cannot be cleared: the plaintext buffers this package allocates are
// cleared after use, the strings in a [Disclosed] stay in memory until the
// garbage collector reuses them.
package disclosure
