// Package escrow is piivault's optional escrow: one more recipient of each
// account key, held by a KMS or an HSM, for regulated recovery. It is off
// unless a deployment sets vault.Config.Escrow to one of its recipients.
//
// # HPKE escrow (preferred)
//
// Recipient seals the account key with HPKE (RFC 9180, crypto/hpke) to a
// pinned escrow public key: DHKEM(X25519), the hybrid ML-KEM-768+X25519, or
// DHKEM(P-256). Writing needs only the public key, so enrollment, unlock
// and sealing never call a KMS or HSM. The private half is any
// hpke.PrivateKey: in memory (GenerateKey, MarshalPrivateKey and
// ParsePrivateKey, for tests and small deployments) or built around an
// ecdh.KeyExchanger held in hardware (NewKeyExchangerIdentity; the
// integrations module has a PKCS#11 one). The public key is pinned by
// Fingerprint: NewRecipient refuses any other key.
//
// # AEAD escrow
//
// AEADRecipient wraps through any tink.AEAD (a KMS key through Tink's KMS
// client modules), binding the user id, label and purpose inside the
// wrapped payload as well as in the associated data, since some backends
// ignore associated data. Each wrap is one KMS call.
//
// # Rotation, purge and the pepper
//
// RotateAll rewraps every escrow stanza to a new key without passwords,
// concurrently, atomically per account and resumably, with one audit
// record per account. PurgeAll and Purge
// remove escrow stanzas; a purge is final only once the account key itself
// is rotated (RotateAccountKey), because older copies of the account record
// may still exist. WrapPepper and UnwrapPepper keep a vault pepper under a
// KMS key, unwrapped once at start-up, never per login.
//
// # Audit
//
// RotateAll, PurgeAll and Purge unwrap account keys with the escrow key and
// no password. Each takes an Audit (logger, actor, reason; all required)
// and writes one record per account it handles: the event
// (EventEscrowRotate, EventEscrowPurge), the user id, the outcome, what
// happened (ResultChanged, ResultSkipped, ...), whether the account key was
// unwrapped, the actor and the reason. vault.Vault.RecoverWithEscrow
// records escrow recoveries the same way, and vault.Vault.UnlockWithEscrow
// (a handle on the account that changes nothing, for maintenance such as a
// bulk vault.Vault.ResealInStore after a key rotation: the handle seals and
// OPENS the user's records) records each open (event
// vault.EventUnlockWithEscrow, with actor and reason).
//
// # What holding the escrow key means
//
// Whoever holds the escrow private key (or can make the KMS or HSM use
// it) can unwrap the account key of every account enrolled with escrow,
// from any copy of its account header: the live store, a backup, a
// replica, a log, an old version kept by the database. With the account
// key come all the user's records. No password, personal key or audit
// record is needed for that: the audit records above cover what this
// package and the vault do (reading records through
// vault.Vault.UnlockWithEscrow is audited), not what a key holder does
// offline with a copy of the data. Purging an escrow stanza does not reach copies made before the
// purge; only rotating the account key (vault.Vault.RotateAccountKey) and
// re-sealing the records under the new key makes older headers useless,
// and only for the records re-sealed. Rotating the escrow key (RotateAll) does
// not revoke the old one either: old headers still open with it. Keep
// the escrow key in an HSM or KMS with its own access control and use
// logs (quorum, separation of duties), and treat any copy of the account
// store as readable by the escrow key's holders.
//
// # Security
//
// Account keys this package unwraps are cleared after use; copies made by
// crypto/hpke, the KMS client or the HSM library are out of its reach.
package escrow
