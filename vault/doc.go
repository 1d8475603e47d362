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
// label fails to open. EnrollUnlocked (and EnrollUnlockedInStore) also
// returns the handle Unlock would give on the new account, for a caller
// that seals records right away: one KDF run in all, not two.
//
// Changing the password rewraps the account key: no record is
// re-encrypted, whatever their number. Unlock costs exactly one KDF run
// and upgrades accounts whose parameters are below the policy, and
// version-1 accounts to the version-3 header (no KDF run for that).
//
// # Key rotation
//
// Recover and RecoverWithEscrow rotate the account key by default (a
// personal key in use may mean a compromise; Config.KeepKeyOnRecover turns
// it off), ChangePasswordAndRotate and RotateAccountKey when asked. The new
// account record wraps a fresh key for the new password, a new personal key
// and the configured escrow, and carries every older key wrapped under the
// new one (envelope FORMAT.md 2.9). Each record names the key generation it
// was sealed under, so records of before keep opening; Unlocked.OpenReseal
// hands back a record resealed under the current key for the caller to
// store, and ResealInStore reseals a user's records in bulk (with progress;
// run it again after a crash and it resumes) and then drops the older keys.
// ResealInStore needs a handle: Unlock's (the user's password) or, for an
// operator's bulk reseal on a deployment with escrow, UnlockWithEscrow's,
// which opens the account with the escrow key, changes nothing (no new
// password, personal key or account record, no KDF run) and is audited
// with the operator's actor and reason.
// Records sealed after a rotation open with no secret of before it, not
// even with the old account record put back: the old record's keys are
// older than the records' generation. Recovery with rotation still costs
// one KDF run; a password change with rotation two, as without.
//
// # Rollback
//
// Every rewrite raises the account's generation counter, authenticated by
// the header MAC under the account key; Unlocked.Generation reports it.
// Detecting an older record put back (from a backup, or by someone with
// write access to the accounts table) needs state outside that table.
// Config.Generations takes it: a GenerationLog the caller keeps elsewhere
// (another database, a signed log), holding per user the highest
// generation seen. When it is set:
//
//   - Every operation that opens an account (Unlock, UnlockWithOptions,
//     UnlockWithEscrow, Recover, RecoverWithEscrow, ChangePassword,
//     ChangePasswordAndRotate, RotateAccountKey, CheckPersonalKey, their
//     ...InStore helpers, and ResealInStore before it rewrites the
//     account) reads the floor once the secret has opened the account and
//     the header MAC has verified, and refuses an authenticated generation
//     below it: ErrRolledBack, no handle, no new record or personal key,
//     nothing written, audited (error class rolled_back) as before
//     (CheckPersonalKey writes no audit event, refused or not). So an
//     old record put back cannot be recovered or have its password changed
//     with the old personal key or password it still accepts, nor be
//     "laundered" by a rewrite that would give it a fresh generation.
//     UnlockOptions.MinGeneration still applies: the larger floor wins.
//   - A Floor error fails closed: ErrGenerationLog, wrapping the log's
//     error (the context's error instead when the operation's context
//     ended meanwhile), and nothing else happens. An open never reads the
//     log for a wrong secret or an unknown user (no timing signal, no KDF
//     run added: the KDF runs per operation are unchanged); EnrollInStore
//     reads it for the user id it is about to create.
//   - A generation opened above the floor raises the log to it (Raise),
//     before anything is returned or written; a failing Raise there fails
//     closed too (ErrGenerationLog).
//   - The ...InStore helpers (and ResealInStore's account rewrite, and an
//     upgrade UnlockInStore writes back) raise the log to the new
//     generation only once the Store confirmed the write: Put succeeded,
//     or the read-back found the bytes written. After ErrOutcomeUnknown or
//     ErrConflict they raise nothing. So the log is never ahead of a record
//     that may not exist (which would lock the user out: every secret
//     refused as a rollback). It can be behind a record that was written
//     in exactly two cases: a write whose outcome is unknown (until it is
//     settled), and a Raise that fails after a confirmed write (the
//     operation has happened and succeeds; its audit event carries
//     generation_log=raise_failed, except for an upgrade UnlockInStore
//     writes back, whose unlock event is written before the upgrade is
//     stored). Either lag lasts until the next
//     successful open through the Vault, which raises the log to the
//     generation it finds: settling ErrOutcomeUnknown with
//     CheckPersonalKey on the record read back does it. During a lag, only
//     the record the operation replaced can be put back undetected.
//   - The stateless methods cannot know whether the caller stores their
//     output, so they raise the log only to the generation they opened,
//     never to the one they produced: a caller that stores a stateless
//     result itself should Raise AccountGeneration of it once its write is
//     confirmed (or use the ...InStore helpers, which do). Give them only
//     records read from the store: opening a record that was never stored
//     raises the log to it.
//
// Without Config.Generations only UnlockOptions.MinGeneration is checked,
// by Unlock alone, and the other operations accept a rolled-back record;
// ResealInStore still refuses to rewrite a stored account older than the
// one its handle was opened from.
//
// What this cannot do: detect a rollback the log never saw the later
// generation of (the first open, or a lag above), or one rolled back
// together with the log; tell apart two records of the same generation
// (two stateless rewrites of one record); stop an attacker who holds a
// secret of an old record from reading, offline, the records sealed
// before the rotation that followed it (they had those keys already: the
// check is in the library, not in the bytes); or protect sealed records,
// which carry no version of their own (an older ciphertext of the same
// user and label put back still opens). The escrow package's bulk
// operations (escrow.RotateAll, escrow.PurgeAll, escrow.Purge) rewrite
// accounts through the envelope package: they keep the log only when
// given it (escrow.WithGenerationLog). Shredding does
// not lower a floor: EnrollInStore refuses a user id enrolled again after
// ShredInStore (ErrConflict, nothing written) until the caller removes the
// user's entry from the log (MemGenerationLog.Forget), and an account the
// caller makes with the stateless Enroll and stores itself would be
// refused as rolled back at every open.
//
// # Canonical accounts
//
// Every rewrite (password change, recovery, rotation, upgrade) writes a
// canonical account: exactly one password stanza, one personal-key stanza,
// and only the escrow stanzas Config.Escrow asks for: the one stanza of
// the configured escrow recipient is kept (if the recipient can recognise
// it: an Owns method) or wrapped afresh; with escrow off, none. Every other
// stanza is dropped, including types the vault does not know: a stanza it
// cannot attribute to a configured recipient is a way into the account
// that nobody manages (a retired escrow key, a tool's leftover), and
// keeping it would carry it through every password change and recovery.
//
// # Lost acknowledgements
//
// A Store write that fails may have landed. The ...InStore helpers read
// the account back: what they wrote means success; the version they read
// before means nothing changed; anything else is ErrOutcomeUnknown, and
// an operation that issued a new personal key returns it with that error
// (it may be the only key that opens the stored account). A new personal
// key is never destroyed while its write might have landed.
//
// # Errors
//
// A front end can act on four classes (errors.Is): ErrWrongSecret ("wrong
// password or personal key", also an unknown user in UnlockInStore),
// ErrCorrupt (the account record or a sealed record is damaged or was
// altered: structure, version, size, or an authentication check after a
// secret matched), ErrUnrecoverable (no stanza for the kind of secret
// asked for, or a shredded record) and ErrInvalidInput (the caller's
// mistake, including passwords that are empty, too long or not UTF-8 and
// nil arguments), plus ErrRolledBack, ErrConflict, ErrNotFound and
// ErrOutcomeUnknown for the store, and ErrGenerationLog for a failing
// Config.Generations. Some corruptions are by design
// indistinguishable from a wrong password: a change in the password
// stanza's KDF parameters, salt or commitment makes the right password
// fail the stanza's commitment exactly as a wrong one does (ErrWrongSecret),
// or asks for parameters the policy refuses (kdf.ErrParamsTooCostly,
// kdf.ErrParamsNotAllowed); telling them apart would need the password.
// Every other single-bit corruption of an account record is ErrCorrupt
// (TestEveryBitFlipOfAnAccountIsCorruptOrAWrongSecretOnlyWhereDocumented
// checks all of them).
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
// not open the account), and there is no back door. Escrow, where turned
// on, is that door, by choice: whoever holds the escrow key can read every
// record of every account enrolled with it, from any copy of the account
// record. Through the library that access is audited: RecoverWithEscrow
// (which also resets the password) and UnlockWithEscrow (a read-only
// handle for maintenance, such as a bulk reseal) each write an audit
// record with the caller's actor and reason; nothing can audit a key
// holder who opens a copy of the header offline.
//
// # Audit events
//
// Every operation writes one record to Config.Audit, message AuditMessage,
// level Info on success and Warn on failure, with the attributes event
// (EventEnroll, EventUnlock, ...), user_id, outcome (OutcomeSuccess or
// OutcomeFailure) and, on failure, error (a fixed class such as
// "wrong_secret", never the error's text). Escrow recovery and escrow
// unlock (EventEscrowRecover, EventUnlockWithEscrow) add actor and reason,
// as given by the caller. A rollback is the error class "rolled_back", a
// failing GenerationLog "generation_log"; an operation whose write landed
// but whose Raise failed succeeds with the attribute generation_log
// ("raise_failed"). The user id must be an opaque identifier
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
