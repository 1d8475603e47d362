// Package vault is the API a Login.gov-style front end calls to keep a
// user's personal information encrypted under a key only the user's secrets
// open: enroll, unlock, seal and open records, change the password,
// recover with the personal key (or, where a deployment turns it on, with
// an escrow key), and shred.
//
// # Accounts and records
//
// Enroll makes a random 256-bit account key and wraps it for the password
// (one memory-hard KDF run, parameters stored with the account) and for a
// random 160-bit personal key shown to the user once, and for an escrow
// recipient when Config.Escrow is set. The result, the account record, is
// exactly an envelope header (envelope.ParseHeader) bound to
// envelope.Binding{UserID: userID, Label: AccountLabel}. Records are sealed
// under keys derived from the account key, bound to the user id and a
// caller label ("pii", "ssn", ...): a record moved to another user or
// label fails to open.
//
// Changing the password or recovering rewraps the account key: no record
// is re-encrypted, whatever their number. Unlock costs exactly one KDF run
// and upgrades accounts whose parameters are below the policy.
//
// The Vault is stateless: account records go in and come out as bytes. The
// Store interface and its ...InStore helpers add compare-and-swap
// persistence, so that concurrent changes cannot lose an update.
//
// # Unrecoverable by design
//
// The operator holds the account record, every sealed record and the
// pepper, and none of them opens anything: the account key is wrapped only
// for the password, the personal key and (if configured) the escrow. A user
// who loses both the password and the personal key, on a deployment with
// escrow off, has lost the data; the vault reports ErrUnrecoverable (no
// stanza for the secret asked for) or ErrWrongSecret (a secret that does
// not open the account), and there is no back door.
//
// # Audit events
//
// Every operation writes one record to Config.Audit, message AuditMessage,
// level Info on success and Warn on failure, with the attributes event
// (EventEnroll, EventUnlock, ...), user_id, outcome (OutcomeSuccess or
// OutcomeFailure) and, on failure, error (a fixed class such as
// "wrong_secret", never the error's text). Escrow recovery adds actor and
// reason, as given by the caller. The user id must be an opaque identifier
// (a UUID), not an e-mail address or any other PII: it is logged as is.
// No password, key, personal key or record content is ever logged.
//
// # FIPS 140
//
// FIPSConfig selects PBKDF2-HMAC-SHA256 for passwords; the envelope uses
// AES-256-GCM and HKDF-SHA256 from the standard library. The package's
// tests pass under GODEBUG=fips140=only.
//
// # Key material
//
// Keys are cleared (overwritten with zeros) once used, and Unlocked.Close
// clears the account key. Go gives no guarantee that no other copy exists
// (registers spilled to stacks that later move, strings that cannot be
// cleared, plaintexts the caller keeps): clearing narrows the window, it
// does not close it.
package vault
