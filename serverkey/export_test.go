package serverkey

import (
	"hash/fnv"

	"github.com/piivault/piivault/envelope"
)

// Test hooks into the per-user key cache (usercache.go), for the external
// tests in usercache_test.go.

// CachedUserKeys returns the number of per-user keys kr's cache holds.
func CachedUserKeys(kr *Keyring) int { return kr.users.len() }

// UserKeyDerivations returns how many per-user keys kr has derived.
func UserKeyDerivations(kr *Keyring) int64 { return kr.derives.Load() }

// CachedRecordKeys returns the record keys kr's cache holds now.
func CachedRecordKeys(kr *Keyring) []*envelope.RecordKey {
	var out []*envelope.RecordKey
	if kr.users == nil {
		return nil
	}
	for i := range kr.users.shards {
		s := &kr.users.shards[i]
		s.mu.Lock()
		for _, k := range s.m {
			out = append(out, k.rk)
		}
		s.mu.Unlock()
	}
	return out
}

// CollideUserCacheHashes makes every user id hash alike in kr's cache (one
// shard, one hash value). Call it before kr is used.
func CollideUserCacheHashes(kr *Keyring) {
	kr.users.hash = func(string) uint64 { return 0 }
}

// FixUserCacheHash replaces the randomly seeded hash of kr's cache with a
// fixed one (FNV-1a), so that which users share a shard does not change
// from run to run. Call it before kr is used.
func FixUserCacheHash(kr *Keyring) {
	kr.users.hash = func(user string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(user))
		return h.Sum64()
	}
}
