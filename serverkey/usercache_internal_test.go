package serverkey

import (
	"bytes"
	"errors"
	"testing"

	"github.com/piivault/piivault/envelope"
)

func testUserKey(t *testing.T, e *entry, user string) *userKey {
	t.Helper()
	rk, err := envelope.NewRecordKey(bytes.Repeat([]byte{0x42}, envelope.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := &userKey{ucKey: cacheKey(e, user), rk: rk}
	k.refs.Store(1)
	return k
}

func usable(k *userKey) error {
	_, err := k.rk.Seal(nil, envelope.Binding{UserID: k.user, Label: "email"}, []byte("x"))
	return err
}

func TestEvictedKeyStillInUseIsDestroyedOnlyByItsLastUser(t *testing.T) {
	c := newUserCache(1)
	e := &entry{id: "k1"}
	a := c.add(testUserKey(t, e, "a")) // held by this goroutine
	if got := c.get(cacheKey(e, "a")); got != a {
		t.Fatal("cache miss right after add")
	} else {
		got.release()
	}
	b := c.add(testUserKey(t, e, "b")) // evicts a, still held
	if c.get(cacheKey(e, "a")) != nil {
		t.Fatal("evicted key still served")
	}
	if err := usable(a); err != nil {
		t.Fatalf("an evicted key was destroyed while in use: %v", err)
	}
	a.release()
	if err := usable(a); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("evicted key not destroyed by its last user: %v", err)
	}
	b.release()
	if err := usable(b); err != nil {
		t.Fatalf("a cached key was destroyed when its user released it: %v", err)
	}
	c.purge(e)
	if err := usable(b); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("purge left a key alive: %v", err)
	}
	if c.len() != 0 {
		t.Fatalf("purge left %d keys", c.len())
	}
}

func TestKeyAddedTwiceConcurrentlyIsCachedOnceAndTheLoserDestroyed(t *testing.T) {
	c := newUserCache(4)
	e := &entry{id: "k1"}
	first := c.add(testUserKey(t, e, "a"))
	loser := testUserKey(t, e, "a")
	if got := c.add(loser); got != first {
		t.Fatal("second add of the same user replaced the cached key")
	}
	if err := usable(loser); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("the losing key was not destroyed: %v", err)
	}
	if c.len() != 1 {
		t.Fatalf("cache holds %d keys, want 1", c.len())
	}
}

func TestPurgeRemovesOnlyTheDroppedDataKeysUserKeys(t *testing.T) {
	c := newUserCache(8)
	e1, e2 := &entry{id: "k1"}, &entry{id: "k2"}
	k1 := c.add(testUserKey(t, e1, "a"))
	k2 := c.add(testUserKey(t, e2, "a"))
	k1.release()
	k2.release()
	c.purge(e1)
	if err := usable(k1); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("dropped data key's user key alive: %v", err)
	}
	if err := usable(k2); err != nil {
		t.Fatalf("other data key's user key destroyed: %v", err)
	}
	if got := c.get(cacheKey(e2, "a")); got != k2 {
		t.Fatal("other data key's user key no longer cached")
	} else {
		got.release()
	}
}

func TestShardCapacitiesAddUpToTheCacheSize(t *testing.T) {
	for _, size := range []int{1, 2, 15, 16, 17, 100, 1024, 1025} {
		c := newUserCache(size)
		sum := 0
		for i := range c.shards {
			if c.shards[i].cap < 1 {
				t.Fatalf("size %d: shard %d has capacity %d", size, i, c.shards[i].cap)
			}
			sum += c.shards[i].cap
		}
		if sum != size {
			t.Fatalf("size %d: shard capacities add up to %d", size, sum)
		}
	}
	if newUserCache(0) != nil || newUserCache(-1) != nil {
		t.Fatal("a cache of size <= 0 must be off (nil)")
	}
}
