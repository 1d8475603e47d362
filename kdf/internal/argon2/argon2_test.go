package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	xargon2 "golang.org/x/crypto/argon2"
)

// randomCase draws parameters from the ranges the issue names: m from 8p
// to a few MiB (odd values and values not a multiple of 4p included), t
// 1..4, p 1..8, salts of 16..64 bytes, passwords of 0..4096 bytes.
type testCase struct {
	password, salt []byte
	t, m           uint32
	p              uint8
	tagLen         int
}

func randomCase(r *rand.Rand, maxKiB uint32) testCase {
	p := uint8(1 + r.IntN(8))
	lo := 8 * uint32(p)
	var m uint32
	switch r.IntN(4) {
	case 0:
		m = lo + uint32(r.IntN(8)) // near the minimum
	case 1:
		m = lo + uint32(r.IntN(int(maxKiB-lo)))
		m |= 1 // odd
	default:
		m = lo + uint32(r.IntN(int(maxKiB/4)))
	}
	c := testCase{
		password: make([]byte, r.IntN(4097)),
		salt:     make([]byte, 16+r.IntN(49)),
		t:        uint32(1 + r.IntN(4)),
		m:        m,
		p:        p,
		tagLen:   []int{32, 4, 16, 64, 65, 100}[r.IntN(6)],
	}
	for i := range c.password {
		c.password[i] = byte(r.Uint32())
	}
	for i := range c.salt {
		c.salt[i] = byte(r.Uint32())
	}
	return c
}

// TestKeyEqualsXCryptoOverRandomParams: the engine, run in one reused
// pool (arenas dirty from earlier runs of other sizes), gives x/crypto's
// IDKey output for random parameter sets.
func TestKeyEqualsXCryptoOverRandomParams(t *testing.T) {
	n, maxKiB := 60, uint32(3<<10)
	if testing.Short() || raceEnabled {
		n, maxKiB = 20, 512
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	pool := NewPool(64<<20, 0, nil)
	pool.setWipe(false) // dirty arenas: proves nothing depends on zeroed memory
	for i := range n {
		c := randomCase(r, maxKiB)
		want := xargon2.IDKey(c.password, c.salt, c.t, c.m, c.p, uint32(c.tagLen))
		got := make([]byte, c.tagLen)
		if err := pool.Key(got, c.password, c.salt, nil, nil, c.t, c.m, c.p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: t=%d m=%d p=%d |pw|=%d |salt|=%d T=%d: got %x, want %x",
				i, c.t, c.m, c.p, len(c.password), len(c.salt), c.tagLen, got, want)
		}
	}
	if got := pool.Runs(); got != uint64(n) {
		t.Fatalf("Runs() = %d, want %d", got, n)
	}
}

// TestKeyDirtyArenaSameResult: an arena filled with garbage gives the same
// output as a fresh one (every block is written before it is read).
func TestKeyDirtyArenaSameResult(t *testing.T) {
	for _, p := range []uint8{1, 3, 4} {
		m := uint32(97) * uint32(p)
		nb := Blocks(m, p)
		clean := make([]Block, nb)
		dirty := make([]Block, nb+5)
		for i := range dirty {
			for j := range dirty[i] {
				dirty[i][j] = ^uint64(i*131 + j)
			}
		}
		a, b := make([]byte, 32), make([]byte, 32)
		Key(clean, a, []byte("pw"), []byte("saltsaltsaltsalt"), nil, nil, 2, m, p)
		Key(dirty, b, []byte("pw"), []byte("saltsaltsaltsalt"), nil, nil, 2, m, p)
		if !bytes.Equal(a, b) || !bytes.Equal(a, xargon2.IDKey([]byte("pw"), []byte("saltsaltsaltsalt"), 2, m, p, 32)) {
			t.Fatalf("p=%d: clean %x, dirty %x", p, a, b)
		}
	}
}

// TestKeyRFC9106 checks section 5.3 of RFC 9106 (with secret and
// associated data) in the engine itself; kdf's TestArgon2idRFC9106Vector
// checks it again against the vendored file through the kdf seam.
func TestKeyRFC9106(t *testing.T) {
	rep := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	got := make([]byte, 32)
	Key(make([]Block, 32), got, rep(1, 32), rep(2, 16), rep(3, 8), rep(4, 12), 3, 32, 4)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

// TestPoolConcurrentDerivationsCorrect: many goroutines deriving through
// one pool at once (race detector on in CI) all get x/crypto's output, so
// no two derivations share an arena.
func TestPoolConcurrentDerivationsCorrect(t *testing.T) {
	pool := NewPool(8<<20, 0, nil)
	const workers, each = 8, 4
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range each {
				p := uint8(1 + r.IntN(4))
				m := uint32(64 + r.IntN(3)*64) // a few sizes: arenas get reused across goroutines
				pw := []byte{byte(w), byte(r.Uint32())}
				salt := bytes.Repeat([]byte{byte(w)}, 16)
				got := make([]byte, 32)
				if err := pool.Key(got, pw, salt, nil, nil, 2, m, p); err != nil {
					errs <- err.Error()
					return
				}
				if want := xargon2.IDKey(pw, salt, 2, m, p, 32); !bytes.Equal(got, want) {
					errs <- hex.EncodeToString(got)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("wrong result under contention:", e)
	}
	if pool.Held() > 8<<20 {
		t.Errorf("pool holds %d bytes, budget %d", pool.Held(), 8<<20)
	}
}

// TestPoolWipesAfterDerivation: after Key, the idle arena is all zero.
func TestPoolWipesAfterDerivation(t *testing.T) {
	pool := NewPool(1<<20, 0, nil)
	out := make([]byte, 32)
	if err := pool.Key(out, []byte("pw"), []byte("saltsaltsaltsalt"), nil, nil, 1, 64, 1); err != nil {
		t.Fatal(err)
	}
	s := pool.s
	if len(s.idle) != 1 {
		t.Fatalf("%d idle arenas, want 1", len(s.idle))
	}
	for i, b := range s.idle[0].blocks {
		if b != (Block{}) {
			t.Fatalf("block %d not wiped", i)
		}
	}
}

// TestPoolReusesAndReleases: a second derivation at the same size reuses
// the idle arena (nothing new mapped); Release unmaps it.
func TestPoolReusesAndReleases(t *testing.T) {
	pool := NewPool(1<<20, 0, nil)
	out := make([]byte, 32)
	for range 3 {
		if err := pool.Key(out, nil, make([]byte, 16), nil, nil, 1, 256, 2); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pool.Retained(), int64(256<<10); got != want {
		t.Fatalf("retained %d, want %d", got, want)
	}
	if got := pool.Peak(); got != 256<<10 {
		t.Fatalf("peak %d: arena not reused", got)
	}
	pool.Release()
	if pool.Retained() != 0 || pool.Held() != 0 {
		t.Fatalf("after Release: retained %d, held %d", pool.Retained(), pool.Held())
	}
}

// TestPoolTrimsIdleToBudget: with idle arenas of another size filling the
// budget, a new size unmaps them first: held memory never exceeds the
// budget.
func TestPoolTrimsIdleToBudget(t *testing.T) {
	pool := NewPool(512<<10, 0, nil)
	out := make([]byte, 32)
	for _, m := range []uint32{256, 128, 128, 512, 64} {
		if err := pool.Key(out, nil, make([]byte, 16), nil, nil, 1, m, 1); err != nil {
			t.Fatal(err)
		}
		if h := pool.Held(); h > 512<<10 {
			t.Fatalf("after m=%d: held %d > budget", m, h)
		}
	}
	if p := pool.Peak(); p > 512<<10 {
		t.Fatalf("peak %d > budget", p)
	}
}

// TestPoolUnmapsWhenCollected: a Pool dropped with idle arenas and no
// idle timeout (a Deriver that went out of scope) unmaps them once the
// garbage collector finds it unreachable: no leak outside the Go heap.
func TestPoolUnmapsWhenCollected(t *testing.T) {
	var s *poolState // the pool's state outlives the handle; the handle is what gets collected
	func() {
		p := NewPool(1<<20, 0, nil)
		if err := p.Key(make([]byte, 32), nil, make([]byte, 16), nil, nil, 1, 512, 1); err != nil {
			t.Fatal(err)
		}
		s = p.s
	}()
	idle := func() int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.idleBytes
	}
	if got := idle(); got != 512<<10 {
		t.Fatalf("%d idle bytes, want %d", got, 512<<10)
	}
	deadline := time.Now().Add(10 * time.Second)
	for idle() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still mapped after the pool became unreachable", idle())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
