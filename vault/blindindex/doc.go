// Package blindindex computes keyed fingerprints (blind indexes) of
// normalized personal values, so a service can find duplicate enrollments
// (the same SSN on two accounts) or look a user up by a value without
// decrypting anyone's records.
//
// A [Fingerprint] is HMAC-SHA256, under a subkey of a server key (one
// subkey per field; the key is named by a key id), of the field name and
// the normalized value, each length-prefixed (see # FORMAT): the SSN "900-12-3456" and a phone number "900123456" never
// collide, and neither does a value split differently between field and
// value. Values are normalized per field first ([NormalizeSSN],
// [NormalizeName], [NormalizeBirthDate], [NormalizePhone]) so that
// "900 12 3456" and "900-12-3456" index alike.
//
// # Key rotation
//
// A [Keyring] holds keys by id, one current. [Keyring.Fingerprint] uses the
// current key; [Keyring.Fingerprints] returns one fingerprint per key,
// current first. To rotate, add a new current key and keep the old ones;
// look duplicates up under every fingerprint, and re-fingerprint a user's
// values under the current key when they are next available in clear (at
// login, when the user's password opens their records), as Login.gov does
// with its queue of SSN fingerprint keys. Drop an old key once no stored
// fingerprint uses it. A keyring made from one field's subkeys
// ([NewFieldKeyring]) rotates the same way: export the field's keys again
// after each rotation.
//
// # What it leaks
//
// A blind index is deliberately deterministic, and so it leaks equality:
// anyone who can read the index learns which accounts share an SSN, a name
// or a birth date, across users and over time, and how often each value
// occurs (common family names stand out by frequency alone). It does not
// leak the values to someone without the key.
//
// With the key it is a different matter. SSNs have at most 10^9 values
// (nine digits), birth dates about 4*10^4 in a realistic range, and names
// follow public frequency lists: anyone who holds the HMAC key and the
// index can compute the fingerprint of every candidate and read the index
// as a table. 10^9 fingerprints take about 12 core-minutes at the 0.7
// microseconds each that BenchmarkFingerprintSSN measures on a 2-core
// cloud VM: seconds on a GPU or a rented cluster.
// A leaked key turns the SSN index into a brute-forceable SSN table. Keep
// the key out of the database (a KMS-backed secret or an HSM), never log
// fingerprints next to user ids without need, and index only the fields
// that need it.
//
// # FORMAT
//
// Version 2. Each key's secret is used only to derive one subkey per field
// f:
//
//	subkey(f) = HKDF-SHA256(IKM = secret, salt = none (32 zero bytes),
//	                        info = "piivault/blindindex/v2/field" 0x00 | f, L = 32)
//
// and the fingerprint of the normalized value v is HMAC-SHA256 under
// subkey(f) of
//
//	"piivault/blindindex/v2" 0x00
//	len(f) (2 bytes, big-endian) | f | len(v) (4 bytes, big-endian) | v
//
// [Fingerprint.String] writes "<key id>:<field>:<base64url, no padding, of
// the 32-byte MAC>". A field's subkeys ([Keyring.FieldKeys]) can be given
// to a service that indexes that field alone ([NewFieldKeyring]): HKDF
// does not let it find the secret or another field's subkey.
//
// Version 1 (one HMAC key for every field, domain "piivault/blindindex/v1")
// gives other fingerprints: re-fingerprint stored values as for a key
// rotation (under a new key id) when moving to version 2.
package blindindex
