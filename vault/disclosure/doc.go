// Package disclosure releases a user's identity attributes to a partner
// agency, only with the user's consent and only while the user is present.
//
// The user agrees to a [Consent]: which partner, which attribute names,
// for what purpose, and until when. [Discloser.Disclose] takes the user's
// unlocked account (there is no operator path: without the user's password
// or recovery key the identity record cannot be opened), reads exactly the
// consented attributes, and seals them with HPKE (RFC 9180, Go's
// crypto/hpke) to the partner's public key. The canonical encoding of the
// consent is bound into the HPKE key schedule (as part of info) and
// repeated inside the plaintext, so a package
//
//   - opens only with the partner's private key;
//   - cannot be re-addressed to another partner, widened to more attributes,
//     given a longer life or another purpose: any change to the consent
//     changes info and the package fails to decrypt;
//   - holds nothing but the consented attributes, checked again on opening.
//
// [Open] is the partner side: it checks the consent names this partner,
// authenticates and decrypts, and refuses a consent that has expired at the
// time of release (the partner's clock). Every disclosure, released or
// refused, emits one audit event (log/slog) naming the user id, partner,
// purpose and attribute NAMES, never values.
//
// Suites: DHKEM(X25519, HKDF-SHA256), the hybrid post-quantum
// MLKEM768-X25519 (X-Wing, draft-ietf-hpke-pq; the recommended choice),
// and, for FIPS 140 deployments and P-256 keys held in an HSM, DHKEM(P-256,
// HKDF-SHA256) and MLKEM768-P256; all with HKDF-SHA256 and AES-256-GCM. The
// KEM is the partner key's. Other KEMs are refused. Under GODEBUG=fips140=only
// Go refuses X25519, so only the P-256 suites work there.
//
// What it does not do: a package is a bearer object for the partner; a
// partner can replay its own package to itself until the consent expires
// (carry a nonce in Consent.Subject or check packages for uniqueness if that
// matters). It does not revoke consent already acted on, and the consent's
// times are as trustworthy as the discloser's clock. Attribute values are
// Go strings, which cannot be cleared: the plaintext buffers this package
// allocates are cleared after use, the strings in a [Disclosed] stay in
// memory until the garbage collector reuses them.
//
// # FORMAT
//
// Integers are big-endian, times signed 64-bit Unix nanoseconds (UTC).
// A consent encodes as
//
//	"PVCN" 0x01                     magic, version
//	len (1) | partner id            1..255 bytes, printable ASCII
//	len (1) | subject               0..255 bytes, UTF-8
//	len (2) | purpose               1..1024 bytes, UTF-8
//	given at (8) | expires at (8)   expires at > given at
//	count (1)                       1..MaxAttributes
//	count x (len (1) | name)        1..64 bytes of [a-z0-9_], strictly ascending
//
// A package is
//
//	"PVDS" 0x01                     magic, version
//	kem id (2) | kdf id (2) | aead id (2)   0x0020, 0x647a, 0x0010 or 0x0050 | 0x0001 | 0x0002
//	len (2) | consent               the consent encoding above
//	enc                             32 bytes (X25519), 1120 (X-Wing), 65 (P-256), 1153 (MLKEM768-P256)
//	ciphertext                      the rest, AES-256-GCM output
//
// sealed with HPKE base mode, single shot, empty aad, and
//
//	info = "piivault/disclosure/v1" 0x00 | the package bytes from magic to the end of consent
//
// The plaintext is
//
//	"PVDP" 0x01 | len (2) | consent (identical bytes) | count (1)
//	count x (len (1) | name | len (2) | value)   names equal the consent's, in order
//
// Parsing is strict (no trailing bytes, every length checked, size capped
// at MaxPackageSize before any work). testdata/disclosure/ holds a vector.
package disclosure
