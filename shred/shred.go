package shred

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrShredded: the user's key is gone (Shred ran, or the key table was
	// restored from before the user enrolled): the layered bytes will
	// never open again. Layer.Store's Get also wraps vault.ErrNotFound.
	ErrShredded = errors.New("shred: user key deleted, data is shredded")
	// ErrNoKey: a KeyStore holds no key for the user.
	ErrNoKey = errors.New("shred: no key for user")
	// ErrExists: KeyStore.Put for a user who already has a key.
	ErrExists = errors.New("shred: user already has a key")
	// ErrNotLayered: bytes without the shred layer where the layer is
	// required (Config.AllowUnlayered is off).
	ErrNotLayered = errors.New("shred: account record is not layered")
	// ErrMalformed: layered bytes or a stored key that do not parse.
	ErrMalformed = errors.New("shred: malformed encoding")
	// ErrInvalidInput: a caller's mistake (nil store or keyring, bad user
	// id, table name).
	ErrInvalidInput = errors.New("shred: invalid input")
)

// KeyStore keeps one wrapped key per user, in a database other than the
// one that holds account records, whose backups are kept briefly (see the
// package documentation). Implementations must be safe for concurrent use.
type KeyStore interface {
	// Put stores wrapped for userID if userID has no key; otherwise it
	// writes nothing and returns an error wrapping ErrExists.
	Put(ctx context.Context, userID string, wrapped []byte) error
	// Get returns userID's wrapped key, or an error wrapping ErrNoKey.
	Get(ctx context.Context, userID string) ([]byte, error)
	// Delete removes userID's key. Deleting a key that is not there is not
	// an error, so that Shred can be retried.
	Delete(ctx context.Context, userID string) error
}

// Format constants (FORMAT.md).
const (
	magic = "PVSH"
	// version1 layers hold version-1 envelope records (read only);
	// version3 layers hold what envelope.RecordKey.Seal writes now
	// (version 3). 2 is reserved: the version-1 vectors use it as an
	// unknown version.
	version1 = 1
	version3 = 3
	// Overhead is the length of layered bytes Wrap writes minus the account
	// record.
	Overhead = 4 + 1 + envelope.RecordOverhead
	// maxOverhead is the largest overhead a reader accepts (version 1).
	maxOverhead = 4 + 1 + envelope.RecordOverheadV1
	// MaxAccountSize bounds the account record the layer wraps: the
	// longest envelope header.
	MaxAccountSize = envelope.MaxHeaderSize
	// KeyAttribute is the serverkey attribute name a user key is sealed
	// under; AccountLabel and AttributePrefix are the envelope labels of
	// the layered account record and of attributes sealed by
	// Layer.SealAttribute.
	KeyAttribute    = "piivault/shred/user-key"
	AccountLabel    = "piivault/shred/account"
	AttributePrefix = "piivault/shred/attr/"

	userKeySize = envelope.KeySize
	maxUserID   = envelope.MaxBindingField
)

// Config configures a Layer.
type Config struct {
	// Keys holds the per-user keys. Required.
	Keys KeyStore
	// Keyring wraps each per-user key before it goes to Keys, so a copy of
	// the key table alone opens nothing without the KMS. Call its Warm at
	// start-up: afterwards opening a layered record costs one Keys.Get and
	// no KMS call. Required.
	Keyring *serverkey.Keyring
	// AllowUnlayered lets Unwrap (and the Store's Get) return account
	// records written before the layer was switched on, as they are; the
	// next write layers them. Leave it off once every account has been
	// rewritten (see MigrateAll): until then, those accounts are not
	// shreddable.
	AllowUnlayered bool
	// Rand supplies user keys, salts and nonces. nil: crypto/rand.
	Rand io.Reader
}

// Layer is the per-user outer encryption layer. It is safe for concurrent
// use.
type Layer struct {
	keys      KeyStore
	kr        *serverkey.Keyring
	unlayered bool
	rand      io.Reader

	lookups atomic.Int64
}

// New returns a Layer for cfg.
func New(cfg Config) (*Layer, error) {
	if cfg.Keys == nil || cfg.Keyring == nil {
		return nil, fmt.Errorf("%w: Keys and Keyring are required", ErrInvalidInput)
	}
	l := &Layer{keys: cfg.Keys, kr: cfg.Keyring, unlayered: cfg.AllowUnlayered, rand: cfg.Rand}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	return l, nil
}

// Lookups returns how many times the Layer has read a key from its
// KeyStore.
func (l *Layer) Lookups() int64 { return l.lookups.Load() }

func checkUserID(userID string) error {
	if userID == "" || len(userID) > maxUserID {
		return fmt.Errorf("%w: user id must be 1 to %d bytes", ErrInvalidInput, maxUserID)
	}
	return nil
}

// userKey returns userID's record key, creating the user key when create
// is set and there is none.
func (l *Layer) userKey(ctx context.Context, userID string, create bool) (*envelope.RecordKey, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	for range 2 {
		l.lookups.Add(1)
		wrapped, err := l.keys.Get(ctx, userID)
		switch {
		case err == nil:
			k, err := l.kr.Open(ctx, userID, KeyAttribute, wrapped)
			if err != nil {
				return nil, fmt.Errorf("shred: user key: %w", err)
			}
			defer clear(k)
			if len(k) != userKeySize {
				return nil, fmt.Errorf("%w: user key of %d bytes", ErrMalformed, len(k))
			}
			return envelope.NewRecordKey(k, l.rand)
		case !errors.Is(err, ErrNoKey):
			return nil, fmt.Errorf("shred: key store: %w", err)
		case !create:
			return nil, fmt.Errorf("%w: %w", ErrShredded, err)
		}
		k, err := envelope.NewKey(l.rand)
		if err != nil {
			return nil, err
		}
		wrapped, err = l.kr.Seal(ctx, userID, KeyAttribute, k)
		if err != nil {
			clear(k)
			return nil, fmt.Errorf("shred: user key: %w", err)
		}
		switch err := l.keys.Put(ctx, userID, wrapped); {
		case err == nil:
			defer clear(k)
			return envelope.NewRecordKey(k, l.rand)
		case errors.Is(err, ErrExists):
			clear(k) // lost a race with another writer: use its key
		default:
			clear(k)
			return nil, fmt.Errorf("shred: key store: %w", err)
		}
	}
	return nil, fmt.Errorf("shred: key store: %w: user key created and deleted concurrently", ErrExists)
}

// IsLayered reports whether b starts like layered bytes (it checks the
// magic only).
func IsLayered(b []byte) bool { return len(b) >= 4 && string(b[:4]) == magic }

// Wrap encrypts an account record under userID's key, creating the key
// (one KeyStore.Put) on the user's first write:
//
//	"PVSH" || 03 || envelope record (under the user key, bound to userID and AccountLabel)
//
// Cost: one KeyStore.Get (and a Put the first time); no KMS call once the
// Keyring is warm.
func (l *Layer) Wrap(ctx context.Context, userID string, account []byte) ([]byte, error) {
	return l.wrap(ctx, userID, account, true)
}

// Rewrap is Wrap for a user who must already have a key: it never creates
// one, and a missing key is ErrShredded. Updates to an existing account
// use it, so that a write racing with Shred cannot bring a key back.
func (l *Layer) Rewrap(ctx context.Context, userID string, account []byte) ([]byte, error) {
	return l.wrap(ctx, userID, account, false)
}

func (l *Layer) wrap(ctx context.Context, userID string, account []byte, create bool) ([]byte, error) {
	if len(account) > MaxAccountSize {
		return nil, fmt.Errorf("%w: account record over %d bytes", ErrInvalidInput, MaxAccountSize)
	}
	rk, err := l.userKey(ctx, userID, create)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	out := make([]byte, 0, Overhead+len(account))
	out = append(out, magic...)
	out = append(out, version3)
	return rk.Seal(out, envelope.Binding{UserID: userID, Label: AccountLabel}, account)
}

// Unwrap returns the account record inside layered bytes. Errors:
// ErrShredded (the user's key is gone), ErrNotLayered (bytes without the
// layer, unless Config.AllowUnlayered), ErrMalformed, and the envelope's
// errors for a record that does not open (envelope.ErrCommitment: another
// user's record). Cost: one KeyStore.Get, no KMS call once the Keyring is
// warm.
func (l *Layer) Unwrap(ctx context.Context, userID string, layered []byte) ([]byte, error) {
	if !IsLayered(layered) {
		if l.unlayered && len(layered) > 0 {
			return bytes.Clone(layered), nil
		}
		return nil, ErrNotLayered
	}
	if err := checkLayered(layered, MaxAccountSize); err != nil {
		return nil, err
	}
	rk, err := l.userKey(ctx, userID, false)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	out, err := rk.Open(nil, envelope.Binding{UserID: userID, Label: AccountLabel}, layered[5:])
	if err != nil {
		return nil, fmt.Errorf("shred: %w", err)
	}
	return out, nil
}

// Shred deletes userID's key. Afterwards no copy of the user's layered
// account record (in the database, a replica or any backup) opens, with
// any secret: the password, the personal key, escrow, or the server's
// keys. It is final once every backup of the key table taken before it
// has expired. Deleting the user's rows elsewhere is still the caller's
// job (Store.Shred does it for the account record).
func (l *Layer) Shred(ctx context.Context, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if err := l.keys.Delete(ctx, userID); err != nil {
		return fmt.Errorf("shred: key store: %w", err)
	}
	return nil
}

// SealAttribute encrypts a server-readable value (an e-mail address, a
// phone number) under userID's key, so that it is readable by the server
// like a serverkey attribute and shredded with the account: one KeyStore
// look-up per call. name is bound into the record.
func (l *Layer) SealAttribute(ctx context.Context, userID, name string, plaintext []byte) ([]byte, error) {
	b, err := attrBinding(userID, name)
	if err != nil {
		return nil, err
	}
	if len(plaintext) > serverkey.MaxPlaintext {
		return nil, fmt.Errorf("%w: attribute over %d bytes", ErrInvalidInput, serverkey.MaxPlaintext)
	}
	rk, err := l.userKey(ctx, userID, true)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	return rk.Seal(append(make([]byte, 0, Overhead+len(plaintext)), magic+"\x03"...), b, plaintext)
}

// OpenAttribute opens what SealAttribute sealed for the same user and name.
func (l *Layer) OpenAttribute(ctx context.Context, userID, name string, sealed []byte) ([]byte, error) {
	b, err := attrBinding(userID, name)
	if err != nil {
		return nil, err
	}
	if !IsLayered(sealed) {
		return nil, fmt.Errorf("%w: not a layered attribute", ErrMalformed)
	}
	if err := checkLayered(sealed, serverkey.MaxPlaintext); err != nil {
		return nil, err
	}
	rk, err := l.userKey(ctx, userID, false)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	out, err := rk.Open(nil, b, sealed[5:])
	if err != nil {
		return nil, fmt.Errorf("shred: %w", err)
	}
	return out, nil
}

// checkLayered checks the version and length of layered bytes (magic
// already checked) before any look-up.
func checkLayered(b []byte, maxPlaintext int) error {
	if len(b) < 5 {
		return fmt.Errorf("%w: layered record of %d bytes", ErrMalformed, len(b))
	}
	minLen := Overhead
	switch b[4] {
	case version3:
	case version1:
		minLen = maxOverhead
	default:
		return fmt.Errorf("%w: version %d", ErrMalformed, b[4])
	}
	if len(b) < minLen || len(b) > maxOverhead+maxPlaintext {
		return fmt.Errorf("%w: layered record of %d bytes", ErrMalformed, len(b))
	}
	return nil
}

func attrBinding(userID, name string) (envelope.Binding, error) {
	if err := checkUserID(userID); err != nil {
		return envelope.Binding{}, err
	}
	if name == "" || len(AttributePrefix)+len(name) > envelope.MaxBindingField {
		return envelope.Binding{}, fmt.Errorf("%w: attribute name must be 1 to %d bytes", ErrInvalidInput, envelope.MaxBindingField-len(AttributePrefix))
	}
	return envelope.Binding{UserID: userID, Label: AttributePrefix + name}, nil
}
