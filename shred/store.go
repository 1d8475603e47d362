package shred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/vault"
)

// Store is a vault.Store that keeps every account record under its user's
// key: Put wraps (Layer.Wrap), Get unwraps (Layer.Unwrap), Delete deletes
// the record and then the key. Pass it to the vault's ...InStore helpers
// and to escrow.RotateAll as any Store; the records the inner Store (and
// its backups) holds are layered bytes.
type Store struct {
	inner vault.Store
	l     *Layer
}

// Store returns the decorator of inner.
func (l *Layer) Store(inner vault.Store) *Store { return &Store{inner: inner, l: l} }

var _ vault.Store = (*Store)(nil)

// Get implements vault.Store: one read of the inner Store and one key
// look-up. A user whose key was shredded gives an error wrapping both
// ErrShredded and vault.ErrNotFound.
func (s *Store) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	layered, ver, err := s.inner.Get(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	// layered belongs to the inner Store (it may be a cached buffer) and is
	// ciphertext: it is left as it is.
	account, err := s.l.Unwrap(ctx, userID, layered)
	if errors.Is(err, ErrShredded) {
		return nil, 0, fmt.Errorf("%w (%w)", err, vault.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	return account, ver, nil
}

// Put implements vault.Store: it wraps account and stores it with the
// inner Store's compare-and-swap. Creating an account (expectVersion 0)
// creates the user's key if there is none, before the record, so a crash
// in between leaves an unused key, never an unreadable record. Updating
// one (expectVersion != 0) never creates a key: after Shred deleted it,
// the update fails with an error wrapping vault.ErrConflict (the account
// is gone) and ErrShredded, so a write racing with a shred cannot bring
// the user back.
func (s *Store) Put(ctx context.Context, userID string, account []byte, expectVersion uint64) (uint64, error) {
	var layered []byte
	var err error
	if expectVersion == 0 {
		layered, err = s.l.Wrap(ctx, userID, account)
	} else {
		layered, err = s.l.Rewrap(ctx, userID, account)
	}
	if errors.Is(err, ErrShredded) {
		return 0, fmt.Errorf("%w (%w)", err, vault.ErrConflict)
	}
	if err != nil {
		return 0, err
	}
	return s.inner.Put(ctx, userID, layered, expectVersion)
}

// Delete implements vault.Store: the record (compare-and-swap on
// expectVersion), then the user's key. A conflict deletes nothing.
func (s *Store) Delete(ctx context.Context, userID string, expectVersion uint64) error {
	if err := s.inner.Delete(ctx, userID, expectVersion); err != nil {
		return err
	}
	return s.l.Shred(ctx, userID)
}

// Shred deletes the user's key first (after which nothing of the user's
// opens anywhere), then the account record of the inner Store, whatever
// its version, then the key again (in case an enrollment for the same
// user id created one meanwhile). It succeeds when the key was already
// gone and when the record is missing, so it can be retried and can
// finish a shred that was interrupted.
func (s *Store) Shred(ctx context.Context, userID string) error {
	if err := s.l.Shred(ctx, userID); err != nil {
		return err
	}
	if err := s.deleteRecord(ctx, userID); err != nil {
		return err
	}
	return s.l.Shred(ctx, userID)
}

func (s *Store) deleteRecord(ctx context.Context, userID string) error {
	for range 8 {
		_, ver, err := s.inner.Get(ctx, userID)
		if errors.Is(err, vault.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("shred: key deleted, record left: %w", err)
		}
		err = s.inner.Delete(ctx, userID, ver)
		if err == nil || errors.Is(err, vault.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, vault.ErrConflict) {
			return fmt.Errorf("shred: key deleted, record left: %w", err)
		}
	}
	return fmt.Errorf("shred: key deleted, record left: %w", vault.ErrConflict)
}

// MigrateAll layers the account records of userIDs that are not layered
// yet (written before the layer was switched on), with compare-and-swap.
// Run it with a Layer built with AllowUnlayered, then switch that off. It
// returns how many records it layered; a record changed concurrently is
// left for the next run (the error wraps vault.ErrConflict).
func (s *Store) MigrateAll(ctx context.Context, userIDs []string) (int, error) {
	n := 0
	var errs []error
	for _, uid := range userIDs {
		raw, ver, err := s.inner.Get(ctx, uid)
		if errors.Is(err, vault.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if IsLayered(raw) {
			continue
		}
		layered, err := s.l.Wrap(ctx, uid, raw)
		if err != nil {
			return n, err
		}
		if _, err := s.inner.Put(ctx, uid, layered, ver); err != nil {
			if errors.Is(err, vault.ErrConflict) {
				errs = append(errs, fmt.Errorf("user %q: %w", uid, err))
				continue
			}
			return n, err
		}
		n++
	}
	return n, errors.Join(errs...)
}

// MemKeyStore is an in-memory KeyStore for tests and examples, safe for
// concurrent use. It copies keys in and out and clears deleted ones.
type MemKeyStore struct {
	mu   sync.Mutex
	keys map[string][]byte
}

// NewMemKeyStore returns an empty MemKeyStore.
func NewMemKeyStore() *MemKeyStore { return &MemKeyStore{keys: map[string][]byte{}} }

// Put implements KeyStore.
func (m *MemKeyStore) Put(ctx context.Context, userID string, wrapped []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[userID]; ok {
		return ErrExists
	}
	m.keys[userID] = append([]byte(nil), wrapped...)
	return nil
}

// Get implements KeyStore.
func (m *MemKeyStore) Get(ctx context.Context, userID string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[userID]
	if !ok {
		return nil, ErrNoKey
	}
	return append([]byte(nil), k...), nil
}

// Delete implements KeyStore.
func (m *MemKeyStore) Delete(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.keys[userID])
	delete(m.keys, userID)
	return nil
}

// Page implements serverkey.AttributeStore over the key table (each row an
// Attribute named KeyAttribute, in user id order), so that serverkey.Rotate
// re-wraps every user key under the keyring's current data key.
func (m *MemKeyStore) Page(ctx context.Context, cursor string, limit int) ([]serverkey.Attribute, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.keys))
	for id := range m.keys {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	if len(ids) == 0 {
		return nil, cursor, nil
	}
	out := make([]serverkey.Attribute, len(ids))
	for i, id := range ids {
		out[i] = serverkey.Attribute{UserID: id, Name: KeyAttribute, Ciphertext: bytes.Clone(m.keys[id])}
	}
	return out, ids[len(ids)-1], nil
}

// Replace implements serverkey.AttributeStore: it swaps userID's wrapped
// key for next if it is still old (serverkey.ErrConflict otherwise,
// including a key deleted meanwhile: a shred always wins).
func (m *MemKeyStore) Replace(ctx context.Context, userID, name string, old, next []byte) error {
	if name != KeyAttribute {
		return fmt.Errorf("%w: attribute %q is not %q", ErrInvalidInput, name, KeyAttribute)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.keys[userID]
	if !ok || !bytes.Equal(cur, old) {
		return serverkey.ErrConflict
	}
	m.keys[userID] = bytes.Clone(next)
	return nil
}

var _ serverkey.AttributeStore = (*MemKeyStore)(nil)

// Len returns the number of keys held.
func (m *MemKeyStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}
