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
// concurrently, atomically per account and resumably. PurgeAll and Purge
// remove escrow stanzas; a purge is final only once the account key itself
// is rotated (RotateAccountKey), because older copies of the account record
// may still exist. WrapPepper and UnwrapPepper keep a vault pepper under a
// KMS key, unwrapped once at start-up, never per login.
//
// # Security
//
// Account keys this package unwraps are cleared after use; copies made by
// crypto/hpke, the KMS client or the HSM library are out of its reach.
package escrow
