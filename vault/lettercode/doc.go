// Package lettercode issues and verifies address-verification (enrollment)
// codes, the short codes a service prints in a letter mailed to a user's
// postal address and that the user types back to prove they receive mail
// there.
//
// A code is [DefaultLength] (10) characters from Crockford's base32 alphabet
// (0-9 and A-Z without I, L, O, U), that is 50 bits from crypto/rand (or an
// injected reader), shown in dashed groups of five for reading
// ("ABCDE-FGHJK"). The code itself is never stored: the [Record] holds only
// an HMAC-SHA256 of it under a server key, the key's id, the subject the code
// was issued for, the issue time and the expiry. Keys live in a [Keyring]:
// new codes use the current key, and records made under older keys keep
// verifying until their key is removed from the ring.
//
// # Validity
//
// Codes are valid for [DefaultValidity] (30 days) unless configured
// otherwise. A code is valid at every instant t with IssuedAt <= t <
// ExpiresAt and expired from ExpiresAt on (the boundary instant itself is
// expired). For reference only: NIST SP 800-63A revision 3, in its IAL2
// address-confirmation requirements, gives enrollment codes a maximum
// validity of 10 days when sent to a postal address of record within the
// contiguous United States and 30 days outside it (10 minutes to a
// telephone, 24 hours to an e-mail address). Other revisions of SP 800-63A
// state these requirements differently; check the text of the one you are
// assessed against and set [Config.Validity] to match. The 30-day default
// follows the product's public page (5 to 10 days of mail delivery plus
// time to respond), not a NIST figure for contiguous-US addresses.
//
// # Attempt limit
//
// [Issuer.Verify] counts attempts in a sliding window: by default at most 5
// attempts per record and 10 per subject (all of its records together) in
// any 10-minute span (the window is exact, not a fixed bucket, so no burst
// of 2x the limit is possible at a bucket edge). The counts live in an
// [AttemptStore] ([MemoryStore] by default; a service with several
// instances shares one, for example a database table with a conditional
// update). Each attempt is reserved there by compare-and-swap before its
// code is examined, so concurrent calls on one record cannot all read the
// same stale count: with MaxAttempts=1, one of any number of concurrent
// guesses is checked. Input that cannot be a code at all ([ErrMalformed]),
// a subject other than the record's, and codes not yet valid or already
// expired are not counted, since they test no candidate. A successful
// verification does not consume the record: the caller deletes it (codes
// are single use). An attacker who can reset the store resets the limit.
// Records issued with an empty subject have only the per-record limit.
//
// What the attempt limit gives: with 50-bit codes and 5 tries per 10
// minutes, an online guesser succeeds with probability about 5*144*30/2^50
// (~2e-11) over 30 days. What it does not give: if the stored records and
// the HMAC key both leak, every code is recoverable offline (2^50 HMACs);
// keep the key in a KMS-backed secret store and the records apart from it.
//
// # FORMAT
//
// All integers are big-endian; times are signed 64-bit Unix nanoseconds
// (UTC). A Record encodes as
//
//	"PVLC"                  4 bytes, magic
//	0x01                    1 byte, version
//	code length             1 byte, MinLength..MaxLength
//	key id length n         1 byte, 1..MaxKeyIDLength
//	key id                  n bytes, printable ASCII (0x21..0x7e)
//	subject length m        1 byte, 0..MaxSubjectLength
//	subject                 m bytes
//	issued at               8 bytes
//	expires at              8 bytes, > issued at
//	mac                     32 bytes, HMAC-SHA256
//
// and nothing after. The MAC is computed under the key named by key id over
//
//	"piivault/lettercode/v1" 0x00
//	code length (1) | key id length (1) | key id | subject length (1) | subject
//	issued at (8) | expires at (8) | normalized code (code length bytes)
//
// so a record whose expiry, subject or key id is edited in storage no longer
// verifies any code. An [Attempts] value encodes as
//
//	"PVLA"                  4 bytes, magic
//	0x01                    1 byte, version
//	count k                 1 byte, 0..MaxAttemptsLimit
//	k times                 8 bytes each, non-decreasing
//
// Parsing is strict: wrong magic, version, lengths, trailing bytes, a key id
// outside its alphabet, an expiry not after the issue time, or times out of
// order are refused with [ErrMalformed], and a parsed value marshals back to
// the same bytes.
package lettercode
