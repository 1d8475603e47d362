package serverkey

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Attribute is one stored server-readable value.
type Attribute struct {
	UserID     string
	Name       string // the attribute name it was sealed for
	Ciphertext []byte
}

// AttributeStore is what Rotate walks: the caller's table of attribute
// ciphertexts (one row per user and attribute).
type AttributeStore interface {
	// Page returns up to limit attributes that come after cursor in a
	// stable order ("" is the start), and the cursor of the last one
	// returned; an empty page ends the walk.
	Page(ctx context.Context, cursor string, limit int) (page []Attribute, next string, err error)
	// Replace stores next for (userID, name) if the stored ciphertext is
	// still exactly old; otherwise it writes nothing and returns an error
	// wrapping ErrConflict (or ErrConflict itself).
	Replace(ctx context.Context, userID, name string, old, next []byte) error
}

// Progress reports a rotation's counts so far. Scanned = Rotated + Current
// + Conflicts + Failed.
type Progress struct {
	Scanned   int
	Rotated   int    // re-encrypted under the current key
	Current   int    // already under the current key: left alone
	Conflicts int    // changed while being rotated: left to the next run
	Failed    int    // did not open (see RotateOptions.StopOnError)
	Cursor    string // resume from here (RotateOptions.Cursor)
}

// RotateOptions tune Rotate.
type RotateOptions struct {
	// PageSize is the number of attributes read per Page call. 0: 256.
	PageSize int
	// Cursor resumes a walk (Progress.Cursor of an interrupted run). "":
	// from the start. A run from the start is always safe: it skips what
	// is already current.
	Cursor string
	// OnProgress, when set, is called after each page.
	OnProgress func(Progress)
	// StopOnError stops at the first attribute that does not open
	// (ErrDecrypt, ErrUnknownKey, ErrMalformed...) instead of counting it
	// in Failed and going on.
	StopOnError bool
}

// Rotate re-encrypts every attribute of s that is not under the keyring's
// current key, with compare-and-swap, so a value changed concurrently is
// never overwritten (it is counted in Conflicts; run again to pick it up).
// The old keys must stay in the queue until a run ends with Conflicts and
// Failed at 0, and for as long as backups written before it may be
// restored. Each old key costs at most one KMS call (CacheFor aside);
// progress is reported after each page, and a cancelled ctx stops the walk
// between attributes with the progress so far.
func Rotate(ctx context.Context, kr *Keyring, s AttributeStore, opt RotateOptions) (Progress, error) {
	if opt.PageSize <= 0 {
		opt.PageSize = 256
	}
	p := Progress{Cursor: opt.Cursor}
	for {
		if err := ctx.Err(); err != nil {
			return p, fmt.Errorf("serverkey: rotate: %w", err)
		}
		page, next, err := s.Page(ctx, p.Cursor, opt.PageSize)
		if err != nil {
			return p, fmt.Errorf("serverkey: rotate: page: %w", err)
		}
		if len(page) == 0 {
			return p, nil
		}
		for _, a := range page {
			if err := ctx.Err(); err != nil {
				return p, fmt.Errorf("serverkey: rotate: %w", err)
			}
			p.Scanned++
			if !kr.NeedsRotation(a.Ciphertext) {
				if _, err := KeyIDOf(a.Ciphertext); err == nil {
					p.Current++
					continue
				}
			}
			nc, err := kr.Reseal(ctx, a.UserID, a.Name, a.Ciphertext)
			if err != nil {
				if errors.Is(err, ErrKMS) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
					return p, fmt.Errorf("serverkey: rotate: %w", err)
				}
				p.Failed++
				if opt.StopOnError {
					return p, fmt.Errorf("serverkey: rotate: user %q attribute %q: %w", a.UserID, a.Name, err)
				}
				continue
			}
			switch err := s.Replace(ctx, a.UserID, a.Name, a.Ciphertext, nc); {
			case err == nil:
				p.Rotated++
			case errors.Is(err, ErrConflict):
				p.Conflicts++
			default:
				return p, fmt.Errorf("serverkey: rotate: replace: %w", err)
			}
		}
		p.Cursor = next
		if opt.OnProgress != nil {
			opt.OnProgress(p)
		}
	}
}

// MemAttributeStore is an in-memory AttributeStore for tests and examples,
// safe for concurrent use; it copies values in and out. Its cursor is
// userID + "\x00" + name, in byte order.
type MemAttributeStore struct {
	mu   sync.Mutex
	rows map[string]Attribute
}

// NewMemAttributeStore returns an empty MemAttributeStore.
func NewMemAttributeStore() *MemAttributeStore {
	return &MemAttributeStore{rows: map[string]Attribute{}}
}

func rowKey(userID, name string) string { return userID + "\x00" + name }

// Set stores ciphertext for (userID, name), replacing any value.
func (m *MemAttributeStore) Set(userID, name string, ciphertext []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[rowKey(userID, name)] = Attribute{UserID: userID, Name: name, Ciphertext: bytes.Clone(ciphertext)}
}

// Get returns the ciphertext stored for (userID, name), or nil.
func (m *MemAttributeStore) Get(userID, name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.rows[rowKey(userID, name)].Ciphertext)
}

// Page implements AttributeStore.
func (m *MemAttributeStore) Page(ctx context.Context, cursor string, limit int) ([]Attribute, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		if k > cursor {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]Attribute, len(keys))
	for i, k := range keys {
		a := m.rows[k]
		a.Ciphertext = bytes.Clone(a.Ciphertext)
		out[i] = a
	}
	if len(keys) == 0 {
		return nil, cursor, nil
	}
	return out, keys[len(keys)-1], nil
}

// Replace implements AttributeStore (a constant-time comparison of the
// stored and the expected ciphertext).
func (m *MemAttributeStore) Replace(ctx context.Context, userID, name string, old, next []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rowKey(userID, name)
	a, ok := m.rows[k]
	if !ok || subtle.ConstantTimeCompare(a.Ciphertext, old) != 1 {
		return ErrConflict
	}
	a.Ciphertext = bytes.Clone(next)
	m.rows[k] = a
	return nil
}
