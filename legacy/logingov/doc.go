// Package logingov reads the personal information (PII) that Login.gov's
// identity provider (18F/identity-idp) keeps encrypted for each
// identity-verified user, and moves it into piivault on the user's next
// sign-in, without proving their identity again.
//
// The byte format is described, from the public source with commit ids, in
// the repository's shared context (logingov-pii-format.md); FORMAT.md in
// this directory says what this package reads, what it refuses, and the one
// format it writes (the extras record).
//
// # Reading
//
// A Reader opens one copy of one profile's PII: the password copy
// (profiles.encrypted_pii_multi_region) with OpenPassword, the
// personal-key copy (encrypted_pii_recovery_multi_region) with
// OpenPersonalKey. It reads the v1 JSON value Login.gov has written since
// August 2018, under every KMS layer it has used: KMSc (AWS KMS with the
// encryption context {"context":"pii-encryption","user_uuid":uuid},
// chunked), LOCc (local mode), KMSx (KMS without context, legacy columns)
// and the unprefixed local form. The key is scrypt with the hex cost string
// stored in the value and the salt built as the scrypt gem builds it;
// the cipher is AES-256-GCM with associated data "PII", a 12-byte IV and a
// 16-byte tag, both required exactly. Personal keys are normalized as
// Login.gov does (NormalizePersonalKey).
//
// Formats Login.gov itself can no longer read (2016-2018 values, the June
// 2018 bare-base64 values, values with a 20-character 2018 salt), the
// never-enabled {"regions":...} KMS blob and the never-merged MessagePack
// "v2" draft are recognised and refused with ErrUnsupported. The v2 draft
// is not read because nothing on Login.gov's main branch ever wrote it, a
// PostgreSQL text column cannot hold it as drafted, and reading it would
// add a MessagePack parser and a gunzip of attacker-supplied bytes to the
// attack surface for no data.
//
// # Cost and hostile input
//
// Opening a copy costs one KMS call per chunk (every real value has one)
// and exactly one scrypt run (64 MiB at production cost, N = 2^16, r = 8);
// all scrypt runs of a Reader share a memory budget. Everything cheap is
// checked first: input size, shape, the scrypt cost against MaxScryptN,
// MaxScryptMemory and MaxScryptRP (before any memory is taken), the chunk
// list, then KMS, then the AES layer's shape, then scrypt. A wrong uuid is
// refused by KMS before scrypt runs. Errors are told apart with errors.Is
// (see ErrJSON, ErrBase64, ErrBlob, ErrParams, ErrKMS, ErrAuth, ErrNoPII,
// ErrUnsupported...). No plaintext is returned unless the GCM tag
// verified.
//
// # Migrating
//
// A Migrator takes the user id, the stored Columns and the password (or the
// Login.gov personal key and a new password), opens the copy, maps the PII
// onto a vault.Identity, keeps every attribute vault.Identity does not
// model in a second sealed record (LabelExtras), enrolls a piivault
// account under the password (vault.EnrollUnlocked: one Argon2id run), seals
// both records through the handle it returns, checks they open, and returns
// the account, the records and a new
// piivault personal key. The Login.gov personal key (80 bits) is retired.
// Delete the Login.gov columns once the Migration is stored.
//
// # FIPS 140-3
//
// Login.gov's key derivation is scrypt, which is not FIPS 140-3 approved.
// Under GODEBUG=fips140=only every Open and migration is refused with
// ErrUnsupported before any KMS call; run the migration under fips140=on
// (or off). The AES-GCM layer is opened through
// cipher.NewGCMWithRandomNonce, which the module allows in every mode.
//
// # Key material in memory
//
// Scrypt keys, KMS plaintexts and decrypted PII buffers are cleared after
// use. Go cannot promise more: the values parsed from the PII JSON are Go
// strings (and vault.Identity fields are strings), which cannot be cleared;
// a password passed as a string cannot be cleared; the garbage collector may
// have copied a buffer before it was cleared.
package logingov

//go:generate go run ./internal/genvectors ../../testdata/logingov/vectors.json
