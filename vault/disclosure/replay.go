package disclosure

import (
	"context"
	"sync"
	"time"
)

// ReplayCache is how a partner refuses a package it has opened before.
// [Opener.Open] calls Use last, after every other check has passed, so a
// package that fails for another reason does not burn its id.
type ReplayCache interface {
	// Use records id as opened until expiresAt. If id is already recorded
	// with an expiry after now, it records nothing and returns an error
	// wrapping ErrReplay. Check and record must be one atomic step: of two
	// concurrent calls with one id, at most one succeeds. Any other error
	// refuses the package (fail closed). expiresAt is the package's end
	// plus the clock skew: after it, Open refuses the package as expired
	// anyway, so the entry may be forgotten.
	Use(ctx context.Context, id PackageID, now, expiresAt time.Time) error
}

// MemoryReplayCache is a ReplayCache in process memory, safe for
// concurrent use. It holds at most a fixed number of unexpired ids; when
// full it first forgets expired ids, and if none has expired it refuses
// the package with ErrReplayCacheFull rather than forget an id early.
// Entries live until the package's end plus the skew (minutes with the
// default package lifetime), so size it as the number of packages opened
// per such window. Several partner processes need a shared cache instead
// (e.g. a database table with a unique key on the id).
type MemoryReplayCache struct {
	mu   sync.Mutex
	max  int
	seen map[PackageID]time.Time
}

// NewMemoryReplayCache returns an empty cache of at most maxEntries
// unexpired ids (at least 1).
func NewMemoryReplayCache(maxEntries int) *MemoryReplayCache {
	return &MemoryReplayCache{max: max(1, maxEntries), seen: make(map[PackageID]time.Time)}
}

// Use implements ReplayCache.
func (m *MemoryReplayCache) Use(ctx context.Context, id PackageID, now, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.seen[id]; ok && now.Before(exp) {
		return ErrReplay
	}
	if len(m.seen) >= m.max {
		m.sweep(now)
		if len(m.seen) >= m.max {
			return ErrReplayCacheFull
		}
	}
	m.seen[id] = expiresAt
	return nil
}

// sweep forgets the ids expired at now.
func (m *MemoryReplayCache) sweep(now time.Time) {
	for id, exp := range m.seen {
		if !now.Before(exp) {
			delete(m.seen, id)
		}
	}
}

// Len returns the number of ids held (expired ones included until swept).
func (m *MemoryReplayCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}
