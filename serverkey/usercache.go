package serverkey

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/piivault/piivault/envelope"
)

// DefaultUserKeyCache is the number of per-user attribute keys a Keyring
// keeps prepared when Config.UserKeyCache is 0: 1024 keys, about 2 MiB
// (1.9 KiB a key, see Config.UserKeyCache). Attribute traffic comes in
// bursts per user (a sign-in opens the e-mail address and the TOTP seed
// within seconds), so the users active in the last few seconds of a busy
// service are the ones that hit; 2 MiB is small next to a server's heap,
// and a service with more concurrently active users raises it.
const DefaultUserKeyCache = 1024

// maxUserCacheShards bounds the number of independently locked parts of the
// cache: operations on users in different shards never wait for each other.
const maxUserCacheShards = 16

// userCache holds prepared version-3 attribute keys (an envelope.RecordKey
// per data key and user), split into shards by a keyed hash of the user id.
// Each shard is an LRU list under its own mutex, so the cache is
// approximately LRU overall and never holds more than its size: the shard
// capacities add up to it exactly.
//
// Lock order: entry.mu (read or write), then one shard's mu. A key is only
// used between userKey and release, inside the caller's hold of the data
// key entry's mu (read or write). So a goroutine holding an entry's mu for
// writing (drop) knows that no key of that entry is in use.
type userCache struct {
	shards []ucShard
	hash   func(userID string) uint64
}

type ucShard struct {
	mu  sync.Mutex
	m   map[ucKey]*userKey
	lru userKey // sentinel of the LRU ring: lru.next is the most recent
	cap int
	_   [64]byte // keep the shards' mutexes on separate cache lines
}

// ucKey names a per-user key: the data key (its entry, one per key id in a
// Keyring) and the user id, compared in full (a map key, not a hash).
type ucKey struct {
	e    *entry
	user string
}

func cacheKey(e *entry, userID string) ucKey {
	return ucKey{e: e, user: userID}
}

// userKey is one prepared per-user key. refs counts its holders: 1 for the
// cache while the key is in it, 1 for each goroutine using it. Whoever
// drops the count to zero destroys the key (RecordKey.Destroy), so a key
// evicted while another goroutine seals with it is destroyed when that
// goroutine is done, and never before.
type userKey struct {
	ucKey
	rk         *envelope.RecordKey
	refs       atomic.Int32
	prev, next *userKey
}

// release gives back one hold on k, destroying it on the last.
func (k *userKey) release() {
	if k.refs.Add(-1) == 0 {
		k.rk.Destroy()
	}
}

// newUserCache returns a cache of size keys, or nil for size <= 0.
func newUserCache(size int) *userCache {
	if size <= 0 {
		return nil
	}
	n := min(size, maxUserCacheShards)
	c := &userCache{shards: make([]ucShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.cap = size / n
		if i < size%n {
			s.cap++
		}
		s.m = make(map[ucKey]*userKey)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	seed := maphash.MakeSeed() // random per cache: nobody picks user ids that share a shard
	c.hash = func(user string) uint64 { return maphash.String(seed, user) }
	return c
}

func (c *userCache) shard(user string) *ucShard {
	return &c.shards[c.hash(user)%uint64(len(c.shards))]
}

func (s *ucShard) unlink(k *userKey) {
	k.prev.next, k.next.prev = k.next, k.prev
	k.prev, k.next = nil, nil
}

func (s *ucShard) pushFront(k *userKey) {
	k.prev, k.next = &s.lru, s.lru.next
	s.lru.next.prev = k
	s.lru.next = k
}

// get returns the key named key, held (call release), or nil.
func (c *userCache) get(key ucKey) *userKey {
	s := c.shard(key.user)
	s.mu.Lock()
	k := s.m[key]
	if k != nil {
		k.refs.Add(1)
		if s.lru.next != k {
			s.unlink(k)
			s.pushFront(k)
		}
	}
	s.mu.Unlock()
	return k
}

// add puts k (held once by the caller) in the cache and returns the key to
// use, held by the caller: k, or the key another goroutine added first (k
// is then destroyed). The least recently used key of a full shard leaves
// the cache, destroyed once its last holder releases it.
func (c *userCache) add(k *userKey) *userKey {
	s := c.shard(k.user)
	var evicted *userKey
	s.mu.Lock()
	if old := s.m[k.ucKey]; old != nil {
		old.refs.Add(1)
		s.mu.Unlock()
		k.release()
		return old
	}
	k.refs.Add(1) // the cache's hold
	s.m[k.ucKey] = k
	s.pushFront(k)
	if len(s.m) > s.cap {
		evicted = s.lru.prev
		s.unlink(evicted)
		delete(s.m, evicted.ucKey)
	}
	s.mu.Unlock()
	if evicted != nil {
		evicted.release()
	}
	return k
}

// purge removes every key of e from the cache and releases the cache's hold
// on each. Called by drop with e.mu held for writing, so no goroutine holds
// one of them and each is destroyed here.
func (c *userCache) purge(e *entry) {
	var gone []*userKey
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for key, k := range s.m {
			if key.e == e {
				delete(s.m, key)
				s.unlink(k)
				gone = append(gone, k)
			}
		}
		s.mu.Unlock()
	}
	for _, k := range gone {
		k.release()
	}
}

// len returns the number of keys in the cache.
func (c *userCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// userKey returns e's version-3 attribute key for userID, for the caller to
// use until it calls kr.release(rk, held): from the cache, or derived (and
// cached when the cache is on; held is then the cache's entry, nil when the
// cache is off). Called with e.mu held (read or write) and e's data key
// unwrapped; the key must not be used after e.mu is released.
func (kr *Keyring) userKey(e *entry, userID string) (rk *envelope.RecordKey, held *userKey, err error) {
	key := cacheKey(e, userID)
	if kr.users != nil {
		if k := kr.users.get(key); k != nil {
			return k.rk, k, nil
		}
	}
	rk, err = kr.userRecordKey(e, userID)
	if err != nil || kr.users == nil {
		return rk, nil, err
	}
	// The cache keeps its own copy of the id: userID may be a slice of a
	// larger string the caller would rather not see retained.
	k := &userKey{ucKey: ucKey{e: key.e, user: strings.Clone(key.user)}, rk: rk}
	k.refs.Store(1)
	k = kr.users.add(k)
	return k.rk, k, nil
}

// release ends a use of a key userKey returned: the key is destroyed now
// when it is not cached, when its cache entry's last holder releases it
// otherwise.
func (kr *Keyring) release(rk *envelope.RecordKey, held *userKey) {
	if held != nil {
		held.release()
		return
	}
	rk.Destroy()
}
