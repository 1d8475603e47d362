package vault

import (
	"fmt"
	"io"
	"sync"

	"github.com/piivault/piivault/envelope"
)

// Unlocked is an open account: it holds the account key (inside an
// envelope.RecordKey) and seals and opens the user's records. It is safe
// for concurrent use. Close clears the key; afterwards every method
// returns ErrClosed.
//
// Limits of clearing: Close overwrites the key bytes this package and the
// envelope package hold. Go may have copied them elsewhere (stack growth,
// the garbage collector moving nothing but registers spilling), and
// plaintexts returned by Open belong to the caller, who should clear them.
type Unlocked struct {
	userID     string
	generation uint64
	keyGen     uint32
	rand       io.Reader
	mu         sync.RWMutex
	rk         *envelope.RecordKey // current key; nil once closed
	key        []byte              // current account key (account rewrites); cleared by Close
	older      []olderRecordKey    // keys of earlier generations, newest first
}

type olderRecordKey struct {
	gen uint32
	rk  *envelope.RecordKey
}

func newUnlocked(userID string, key []byte, r io.Reader) (*Unlocked, error) {
	return newUnlockedFrom(userID, nil, key, r)
}

// newUnlockedFrom returns a handle for key, the key of h (when h is not
// nil, its older keys are unwrapped and its generations recorded).
func newUnlockedFrom(userID string, h *envelope.Header, key []byte, r io.Reader) (*Unlocked, error) {
	u := &Unlocked{userID: userID, rand: r, key: append([]byte(nil), key...)}
	var older []envelope.OlderKey
	if h != nil {
		var err error
		if older, err = h.OlderKeys(key, accountBinding(userID)); err != nil {
			clear(u.key)
			return nil, classify(fmt.Errorf("vault: %w", err))
		}
		u.generation, u.keyGen = h.Generation(), h.KeyGeneration()
	}
	defer func() {
		for _, o := range older {
			clear(o.Key)
		}
	}()
	rk, err := envelope.NewRecordKeyForGeneration(key, u.keyGen, r)
	if err != nil {
		clear(u.key)
		return nil, fmt.Errorf("vault: %w", err)
	}
	u.rk = rk
	for _, o := range older {
		ork, err := envelope.NewRecordKeyForGeneration(o.Key, o.Generation, r)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("vault: %w", err)
		}
		u.older = append(u.older, olderRecordKey{gen: o.Generation, rk: ork})
	}
	return u, nil
}

// UserID returns the user id the account was opened for.
func (u *Unlocked) UserID() string {
	if u == nil {
		return ""
	}
	return u.userID
}

// Generation returns the authenticated generation of the account record
// the handle was opened from: 0 for a version-1 account, then one more at
// every rewrite (password change, recovery, rotation, upgrade, escrow
// rewrap). Keep the highest value seen per user outside the account row
// (Config.Generations does it for every operation) or pass it as
// UnlockOptions.MinGeneration to detect a rollback.
func (u *Unlocked) Generation() uint64 {
	if u == nil {
		return 0
	}
	return u.generation
}

// KeyGeneration returns the generation of the account key: 0 until the
// first rotation, one more at each.
func (u *Unlocked) KeyGeneration() uint32 {
	if u == nil {
		return 0
	}
	return u.keyGen
}

// Seal encrypts plaintext into a record bound to the user id, label and
// the format version (as authenticated data): the record opens only with
// this account's key, for this user id and this label. label is the
// caller's slot name ("pii", "ssn", "id-document"...); AccountLabel is
// reserved. plaintext may be at most MaxRecordSize (16 MiB): a larger one
// gets an error wrapping ErrInvalidInput and envelope.ErrTooLarge (use
// SealStream for ID document images and other large data).
//
// Every Seal under one account key generation uses the same AES-GCM key
// with a random 96-bit nonce, so NIST SP 800-38D limits an account to 2^32
// seals per key generation, counted across every process and every
// label, updates included (see envelope.RecordKey, "How many records").
// Nothing counts them: an application that rewrites a record on every
// request should rotate the account key (RotateAccountKey) long before.
func (u *Unlocked) Seal(label string, plaintext []byte) ([]byte, error) {
	if u == nil {
		return nil, errNilUnlocked
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxRecordSize {
		return nil, fmt.Errorf("%w: plaintext of %d bytes is over MaxRecordSize (%d); use SealStream: %w", ErrInvalidInput, len(plaintext), MaxRecordSize, envelope.ErrTooLarge)
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return nil, ErrClosed
	}
	out, err := u.rk.Seal(nil, envelope.Binding{UserID: u.userID, Label: label}, plaintext)
	if err != nil {
		return nil, classify(fmt.Errorf("vault: seal: %w", err))
	}
	return out, nil
}

// Open returns the plaintext of a record sealed by Seal with the same
// account key (or, after a rotation, with one of the older keys the
// account carries: each record names its key generation), user id and
// label, or an error and no plaintext: a record that was tampered with,
// sealed for another user or another label, or under another account key,
// is refused (an error wrapping ErrCorrupt and the envelope error, e.g.
// envelope.ErrPayloadAuth or envelope.ErrCommitment). A record naming a
// key generation newer than the account's gives ErrRolledBack: the account
// record is older than the record (or the record's generation field was
// damaged).
func (u *Unlocked) Open(label string, sealed []byte) ([]byte, error) {
	pt, _, err := u.open(label, sealed)
	return pt, err
}

// OpenReseal is Open that also reseals a record sealed under an older key
// (one from before a rotation): resealed is the same plaintext sealed under
// the current key, for the caller to store in place of sealed (the old
// bytes keep opening as long as the account carries the older key).
// resealed is nil when sealed is already under the current key.
func (u *Unlocked) OpenReseal(label string, sealed []byte) (plaintext, resealed []byte, err error) {
	pt, old, err := u.open(label, sealed)
	if err != nil || !old {
		return pt, nil, err
	}
	resealed, err = u.Seal(label, pt)
	if err != nil {
		clear(pt)
		return nil, nil, err
	}
	return pt, resealed, nil
}

// open opens sealed with the key of the generation it names (the current
// key or an older one the account carries); old reports an older key.
func (u *Unlocked) open(label string, sealed []byte) (pt []byte, old bool, err error) {
	if u == nil {
		return nil, false, errNilUnlocked
	}
	if err := checkLabel(label); err != nil {
		return nil, false, err
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return nil, false, ErrClosed
	}
	rk, err := u.keyFor(sealed)
	if err != nil {
		return nil, false, err
	}
	out, err := rk.Open(nil, envelope.Binding{UserID: u.userID, Label: label}, sealed)
	if err != nil {
		return nil, false, classify(fmt.Errorf("vault: open: %w", err))
	}
	return out, rk != u.rk, nil
}

// keyFor returns the record key of the generation sealed names. A
// generation newer than the account's key means the account record is
// older than the record: a rollback (or a damaged generation field, which
// no key can tell apart).
func (u *Unlocked) keyFor(sealed []byte) (*envelope.RecordKey, error) {
	gen, err := envelope.RecordGeneration(sealed)
	if err != nil {
		return nil, classify(fmt.Errorf("vault: open: %w", err))
	}
	if gen == u.keyGen {
		return u.rk, nil
	}
	if gen > u.keyGen {
		return nil, fmt.Errorf("%w: record of key generation %d, account key generation %d: %w", ErrRolledBack, gen, u.keyGen, envelope.ErrGeneration)
	}
	for _, o := range u.older {
		if o.gen == gen {
			return o.rk, nil
		}
	}
	return nil, fmt.Errorf("%w: record of key generation %d, which the account no longer carries (dropped after a reseal): %w", ErrCorrupt, gen, envelope.ErrGeneration)
}

// isCurrent reports, without decrypting, whether sealed names the current
// key generation.
func (u *Unlocked) isCurrent(sealed []byte) bool {
	gen, err := envelope.RecordGeneration(sealed)
	return err == nil && gen == u.keyGen
}

// SealIdentity validates id, encodes it canonically (Identity.MarshalBinary)
// and seals the encoding under label. The intermediate encoding is cleared.
func (u *Unlocked) SealIdentity(label string, id *Identity) ([]byte, error) {
	enc, err := id.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(enc)
	return u.Seal(label, enc)
}

// OpenIdentity opens a record sealed by SealIdentity and decodes it
// strictly (ParseIdentity). The intermediate plaintext is cleared.
func (u *Unlocked) OpenIdentity(label string, sealed []byte) (*Identity, error) {
	pt, err := u.Open(label, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return ParseIdentity(pt)
}

// Close clears the account key. It is idempotent; later calls to Seal,
// Open, SealIdentity and OpenIdentity return ErrClosed.
func (u *Unlocked) Close() {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rk != nil {
		u.rk.Destroy()
		u.rk = nil
	}
	for _, o := range u.older {
		o.rk.Destroy()
	}
	u.older = nil
	clear(u.key)
	u.key = nil
}

var errNilUnlocked = fmt.Errorf("%w: nil Unlocked handle", ErrInvalidInput)
