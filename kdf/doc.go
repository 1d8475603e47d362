// Package kdf turns a password into keys: one memory-hard derivation
// (Argon2id by default, scrypt, or PBKDF2-HMAC-SHA256 for FIPS deployments)
// produces a master [Secret], from which HKDF-SHA256 expands independent,
// labelled subkeys (a key-encryption key, a verifier). A login therefore
// costs exactly one KDF run.
//
// Parameters ([Params]) are a value type with one canonical text encoding
// (PHC style, [ParseParams]) and one canonical binary encoding
// ([ParseBinary], specified in FORMAT.md). A [Policy] says which
// parameters new accounts get, below which an account should be upgraded
// ([Policy.NeedsUpgrade]), and above which parameters are refused before
// any memory is taken ([Policy.Check]), field by field and by total work
// (a small multiple of New's, [Caps.MaxWorkMultiple]). A [Deriver] applies
// a Policy, a memory budget shared by all concurrent derivations
// ([Limiter]) of which one derivation may take only a share
// ([Config.MaxDerivationMemory]), CPU slots bounding how many run at once
// ([Config.MaxConcurrent]), and an optional pepper.
//
// # Errors
//
// Callers tell failures apart with errors.Is: [ErrMalformedParams],
// [ErrParamsNotAllowed] and [ErrParamsTooCostly] for parameters;
// [ErrPasswordRejected] (and the finer [ErrPasswordEmpty],
// [ErrPasswordTooLong], [ErrPasswordNotUTF8]) for passwords;
// [ErrSaltRejected]; [ErrOverBudget] for a derivation larger than one
// derivation's share of the memory budget; and context.Canceled or
// context.DeadlineExceeded, wrapped, when the caller gave up while waiting
// for memory or a CPU slot.
//
// # Security
//
// Key material is cleared with clear() after use where this package owns
// it: the normalized password, the KDF output buffers, and the master
// secret when [Secret.Destroy] is called. What Go lets us promise is
// narrower than that sentence sounds:
//
//   - clear() overwrites the bytes of one slice. It cannot reach copies the
//     runtime made: a stack that grew was copied and the old one freed
//     without being zeroed; the garbage collector may move nothing today
//     but frees memory without clearing it; and the kernel may have
//     swapped a page to disk or written it into a core dump.
//   - Libraries keep their own copies. crypto/pbkdf2 takes the password as
//     a Go string, which is immutable and cannot be cleared; crypto/hmac
//     (PBKDF2, HKDF, the pepper) keeps padded copies of its key in hash
//     states we cannot reach; x/crypto's scrypt leaves its working memory
//     to the garbage collector. Our Argon2id engine keeps its matrix in
//     arenas outside the Go heap (mmap; on the heap in race-detector
//     builds and where mmap is missing) and zeroes the blocks a derivation
//     used as soon as it ends.
//   - The caller's own password slice is never modified: clear it
//     yourself. Subkeys returned by [Secret.Expand], [Secret.KEK] and
//     [Secret.Verifier] are new slices the caller owns and should clear.
//   - Go has no mlock and no guard pages by default; nothing here stops a
//     process that can read this process's memory.
//
// So clear() shortens the time a secret sits in memory we control and keeps
// it out of later heap reuse by this package; it is not a guarantee that no
// copy remains. Keep the process's memory out of core dumps and swap
// (prctl, mlockall, encrypted swap) if that matters to your threat model.
//
// Parameters read from storage are untrusted: [Policy.Check] refuses a
// record asking for terabytes or billions of passes, or for more total
// work than a few new logins, before any allocation; the memory budget
// bounds what concurrent logins can hold at once, one login's share
// bounds what a single stored record can hold, and the CPU slots bound
// how many derivations (PBKDF2 included) compete for the cores.
package kdf
