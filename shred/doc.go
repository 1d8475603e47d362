// Package shred adds crypto-shredding that reaches backups: an optional
// outer layer, off unless a deployment builds one, that encrypts each
// user's account record under a per-user key kept outside the main
// database. Deleting that key ([Layer.Shred]) makes every copy of the
// user's account record, in the database, its replicas and every backup,
// unopenable with any secret: the password, the personal key, an escrow
// key, or the server's own keys. The user's sealed records need not be
// found: their keys are derived from the account key, which only the
// account record holds.
//
// # How
//
// A [Layer] holds a [KeyStore] (Put, Get, Delete of one wrapped key per
// user; [MemKeyStore], and [SQLKeyStore] over database/sql) and a
// serverkey.Keyring that wraps each per-user key (so the key table alone
// opens nothing without the KMS). [Layer.Store] decorates any vault.Store:
// Put layers the account record (creating the user's key when the account
// is created; an update never creates one, so a write racing with a shred
// cannot bring the user back), Get peels the layer, Delete deletes the
// record then the key.
// Pass the decorated Store to the vault's ...InStore helpers; nothing in
// the vault changes. Or call [Layer.Wrap] and [Layer.Unwrap] on account
// bytes yourself.
//
// Cost: one KeyStore look-up per Get or Put, and no KMS call once the
// Keyring is warm (serverkey.Keyring.Warm at start-up): an Unlock costs
// its one KDF run plus one key look-up.
//
// # The trade-off: the key table's backups
//
// The key table must be backed up (losing it loses every account), but
// its backups must expire quickly: a shred is final only once every
// backup of the key table taken before it is gone, while backups of the
// main database may be kept for years without holding anything that
// opens. Keep the key table in its own database (or a store with its own
// backup policy), with backups and point-in-time-recovery logs kept for a
// short, stated period (say 30 days), and say so in your retention
// policy: "deleted accounts are unrecoverable from any backup after 30
// days". Restoring the main database from an old backup is safe; restoring
// the key table from a backup older than a shred brings the shredded user
// back (a test shows both).
//
// Losing the KMS key that wraps the per-user keys loses every account:
// keep it with the same care as an escrow key. To rotate the serverkey data
// key that wraps them, put the new key first in the Keyring and run
// serverkey.Rotate over the key store ([MemKeyStore] and [SQLKeyStore] are
// serverkey.AttributeStores): every row is re-wrapped with
// compare-and-swap, and a row shredded meanwhile stays shredded.
//
// # What it does not cover
//
// Fingerprints (look-up HMACs of e-mail and phone) in old backups still
// let someone holding the fingerprint key confirm that a guessed address
// was a user's. Server-readable attributes sealed with serverkey stay
// readable in old backups with the data key: seal those that must be
// shredded with [Layer.SealAttribute] (server-readable, under the user's
// key). Data the application copied elsewhere in clear (logs, mail
// archives) and disclosures already sent to partners are out of reach.
//
// # Switching it on
//
// Accounts written before the layer was switched on are plain envelope
// headers. Build the Layer with Config.AllowUnlayered, which lets Get
// return them as they are, run [Store.MigrateAll], then switch
// AllowUnlayered off. Until an account is layered, it is not shreddable.
package shred
