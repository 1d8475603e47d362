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
	userID string
	mu     sync.RWMutex
	rk     *envelope.RecordKey // nil once closed
}

func newUnlocked(userID string, key []byte, r io.Reader) (*Unlocked, error) {
	rk, err := envelope.NewRecordKey(key, r)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Unlocked{userID: userID, rk: rk}, nil
}

// UserID returns the user id the account was opened for.
func (u *Unlocked) UserID() string { return u.userID }

// Seal encrypts plaintext into a record bound to the user id, label and
// the format version (as authenticated data): the record opens only with
// this account's key, for this user id and this label. label is the
// caller's slot name ("pii", "ssn", "id-document"...); AccountLabel is
// reserved.
func (u *Unlocked) Seal(label string, plaintext []byte) ([]byte, error) {
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return nil, ErrClosed
	}
	out, err := u.rk.Seal(nil, envelope.Binding{UserID: u.userID, Label: label}, plaintext)
	if err != nil {
		return nil, fmt.Errorf("vault: seal: %w", err)
	}
	return out, nil
}

// Open returns the plaintext of a record sealed by Seal with the same
// account key, user id and label, or an error and no plaintext: a record
// that was tampered with, sealed for another user or another label, or
// under another account key, is refused (envelope.ErrPayloadAuth or
// another envelope error, wrapped).
func (u *Unlocked) Open(label string, sealed []byte) ([]byte, error) {
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return nil, ErrClosed
	}
	out, err := u.rk.Open(nil, envelope.Binding{UserID: u.userID, Label: label}, sealed)
	if err != nil {
		return nil, fmt.Errorf("vault: open: %w", err)
	}
	return out, nil
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
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rk != nil {
		u.rk.Destroy()
		u.rk = nil
	}
}
