package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/piivault/piivault/envelope"
)

// RecordStore holds a user's sealed records by label, with compare-and-swap
// versions as Store does for accounts: versions are opaque, non-zero, and
// change on every successful PutRecord; PutRecord must be atomic.
type RecordStore interface {
	// Labels returns the labels of userID's records (any order).
	Labels(ctx context.Context, userID string) ([]string, error)
	// GetRecord returns a record and its version, or an error wrapping
	// ErrNotFound.
	GetRecord(ctx context.Context, userID, label string) (sealed []byte, version uint64, err error)
	// PutRecord stores sealed if the record's version is expectVersion (0:
	// must not exist) and returns the new version; otherwise it writes
	// nothing and returns an error wrapping ErrConflict.
	PutRecord(ctx context.Context, userID, label string, sealed []byte, expectVersion uint64) (uint64, error)
}

// MemRecordStore is an in-memory RecordStore for tests and examples, safe
// for concurrent use.
type MemRecordStore struct {
	mu   sync.Mutex
	recs map[[2]string]memEntry
	next uint64
}

// NewMemRecordStore returns an empty MemRecordStore.
func NewMemRecordStore() *MemRecordStore {
	return &MemRecordStore{recs: make(map[[2]string]memEntry)}
}

// Labels implements RecordStore; labels come back sorted.
func (m *MemRecordStore) Labels(ctx context.Context, userID string) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.recs {
		if k[0] == userID {
			out = append(out, k[1])
		}
	}
	slices.Sort(out)
	return out, nil
}

// GetRecord implements RecordStore.
func (m *MemRecordStore) GetRecord(ctx context.Context, userID, label string) ([]byte, uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.recs[[2]string{userID, label}]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return append([]byte(nil), e.data...), e.version, nil
}

// PutRecord implements RecordStore.
func (m *MemRecordStore) PutRecord(ctx context.Context, userID, label string, sealed []byte, expectVersion uint64) (uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{userID, label}
	e, ok := m.recs[k]
	if (!ok && expectVersion != 0) || (ok && e.version != expectVersion) {
		return 0, ErrConflict
	}
	m.next++
	m.recs[k] = memEntry{data: append([]byte(nil), sealed...), version: m.next}
	return m.next, nil
}

// ResealStats counts what ResealInStore did.
type ResealStats struct {
	Resealed int // records rewritten under the current key
	Current  int // records already under the current key
	Missing  int // records deleted while the run went on
	// DroppedOlderKeys: the account no longer carries older keys (they
	// were dropped by this run, or there were none).
	DroppedOlderKeys bool
}

const maxRecordCASRetries = 4

// ResealInStore reseals, under u's current account key, every record of
// u's user in rs that was sealed under an older key (before a rotation),
// calling progress(done, total) after each record (may be nil). Each
// record is rewritten by one compare-and-swap PutRecord of the same
// plaintext, so an interruption (crash, error, cancelled ctx, a lost
// acknowledgement) leaves every record openable, under the old key or the
// new; running ResealInStore again resumes: records already under the
// current key are skipped. A lost compare-and-swap is retried.
//
// When accounts is not nil and, after the pass, every record is under the
// current key, the older keys are dropped from the stored account (one
// compare-and-swap write, raising its generation), so that the new key no
// longer yields them. This happens only if the stored account is still the
// one u was opened from or a rewrite of it under the same key
// (ErrConflict otherwise), and not older than the one u was opened from
// nor below Config.Generations' floor (ErrRolledBack otherwise: nothing is
// rewritten). Close every handle opened before the rotation
// first: a stale handle would seal new records under a dropped key.
// Dropping the older keys rewrites the account canonically under v's
// Config: a Vault without Config.Escrow drops the account's escrow stanza
// too, so run bulk reseals with the deployment's escrow recipient set.
func (v *Vault) ResealInStore(ctx context.Context, u *Unlocked, rs RecordStore, accounts Store, progress func(done, total int)) (ResealStats, error) {
	if v.invalid() {
		return ResealStats{}, errNilVault
	}
	st, lag, err := v.resealInStore(ctx, u, rs, accounts, progress)
	v.auditEvent(ctx, EventReseal, u.UserID(), err, lag...)
	return st, err
}

func (v *Vault) resealInStore(ctx context.Context, u *Unlocked, rs RecordStore, accounts Store, progress func(done, total int)) (st ResealStats, lag []slog.Attr, err error) {
	switch {
	case u == nil:
		return st, nil, errNilUnlocked
	case rs == nil:
		return st, nil, fmt.Errorf("%w: nil RecordStore", ErrInvalidInput)
	}
	if err := ctxErr(ctx); err != nil {
		return st, nil, err
	}
	labels, err := rs.Labels(ctx, u.userID)
	if err != nil {
		return st, nil, storeErr(err)
	}
	for i, label := range labels {
		res, err := resealOne(ctx, u, rs, label)
		if err != nil {
			return st, nil, err
		}
		switch res {
		case resealDone:
			st.Resealed++
		case resealCurrent:
			st.Current++
		case resealMissing:
			st.Missing++
		}
		if progress != nil {
			progress(i+1, len(labels))
		}
	}
	if accounts == nil {
		return st, nil, nil
	}
	// Check again that every record is under the current key (a record
	// written meanwhile by a stale handle keeps the older keys in place).
	labels, err = rs.Labels(ctx, u.userID)
	if err != nil {
		return st, nil, storeErr(err)
	}
	for _, label := range labels {
		sealed, _, err := rs.GetRecord(ctx, u.userID, label)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return st, nil, storeErr(err)
		}
		if !u.isCurrent(sealed) {
			return st, nil, nil // older keys still needed
		}
	}
	if lag, err = v.dropOlderKeys(ctx, u, accounts); err != nil {
		return st, nil, err
	}
	st.DroppedOlderKeys = true
	return st, lag, nil
}

type resealResult int

const (
	resealDone resealResult = iota
	resealCurrent
	resealMissing
)

func resealOne(ctx context.Context, u *Unlocked, rs RecordStore, label string) (resealResult, error) {
	for try := 0; ; try++ {
		if err := ctxErr(ctx); err != nil {
			return 0, err
		}
		sealed, ver, err := rs.GetRecord(ctx, u.userID, label)
		if errors.Is(err, ErrNotFound) {
			return resealMissing, nil
		}
		if err != nil {
			return 0, storeErr(err)
		}
		if u.isCurrent(sealed) {
			return resealCurrent, nil
		}
		pt, resealed, err := u.OpenReseal(label, sealed)
		clear(pt)
		if err != nil {
			return 0, fmt.Errorf("vault: reseal: record %q: %w", label, err)
		}
		if resealed == nil {
			return resealCurrent, nil
		}
		_, err = rs.PutRecord(ctx, u.userID, label, resealed, ver)
		if err == nil {
			return resealDone, nil
		}
		if !errors.Is(err, ErrConflict) || try+1 >= maxRecordCASRetries {
			// A lost acknowledgement is harmless: the record holds the old
			// or the resealed bytes, both open; the next run settles it.
			return 0, storeErr(err)
		}
	}
}

// dropOlderKeys rewrites the stored account without older keys, if it is
// under u's key and not older than the account u was opened from (nor
// below Config.Generations' floor: ErrRolledBack). It returns the audit
// attribute of a failed Raise after the write (see raiseWritten).
func (v *Vault) dropOlderKeys(ctx context.Context, u *Unlocked, accounts Store) ([]slog.Attr, error) {
	account, ver, err := accounts.Get(ctx, u.userID)
	if err != nil {
		return nil, storeErr(err)
	}
	h, err := v.parseAccount(ctx, u.userID, account)
	if err != nil {
		return nil, err
	}
	if len(h.OlderKeyGenerations()) == 0 && h.Version() == envelope.Version3 {
		return nil, nil
	}
	u.mu.RLock()
	key := append([]byte(nil), u.key...)
	u.mu.RUnlock()
	defer clear(key)
	if len(key) == 0 {
		return nil, ErrClosed
	}
	older, err := h.OlderKeys(key, accountBinding(u.userID))
	if err != nil {
		if errors.Is(err, envelope.ErrCommitment) {
			return nil, fmt.Errorf("%w: the stored account is under another key than the handle's", ErrConflict)
		}
		return nil, classify(fmt.Errorf("vault: %w", err))
	}
	for _, o := range older {
		clear(o.Key) // only the check was wanted
	}
	// OlderKeys verified the header MAC: h's generation is authenticated.
	if h.Generation() < u.generation {
		return nil, fmt.Errorf("%w: stored account generation %d, the handle was opened from generation %d", ErrRolledBack, h.Generation(), u.generation)
	}
	if err := v.checkGeneration(ctx, u.userID, h); err != nil {
		return nil, err
	}
	out, _, err := v.rewrite(ctx, u.userID, h, key, rewriteSpec{keepOlder: func(uint32) bool { return false }})
	if err != nil {
		return nil, err
	}
	if err := putAccount(ctx, accounts, u.userID, out, ver); err != nil {
		return nil, err
	}
	return v.raiseWritten(ctx, u.userID, out), nil
}
