package blamka_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	iargon2 "github.com/piivault/piivault/kdf/internal/argon2"
	"github.com/piivault/piivault/kdf/internal/blamka"
)

// These tests run the real engine (kdf/internal/argon2) once per
// implementation of G, so that each path is proven end to end and not only
// through this package's reference fill.

func forEachPathExt(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range blamka.Paths() {
		t.Run(name, func(t *testing.T) {
			defer blamka.UsePath(name)()
			f(t)
		})
	}
}

// RFC 9106 section 5.3 (Argon2id, with secret K and associated data X).
func TestEngineGivesRFC9106TagOnEveryPath(t *testing.T) {
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	forEachPathExt(t, func(t *testing.T) {
		mem := make([]iargon2.Block, iargon2.Blocks(32, 4))
		out := make([]byte, 32)
		iargon2.Key(mem, out, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16),
			bytes.Repeat([]byte{3}, 8), bytes.Repeat([]byte{4}, 12), 3, 32, 4)
		if !bytes.Equal(out, want) {
			t.Fatalf("tag = %x, want %x", out, want)
		}
	})
}

// The engine agrees with golang.org/x/crypto/argon2 on every path, over
// random parameters (odd m, m not a multiple of 4p, several lanes, more
// than 128 blocks per segment so that address blocks are regenerated).
func TestEngineAgreesWithXCryptoOnEveryPath(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	n := 12
	if testing.Short() {
		n = 4
	}
	type tc struct {
		pw, salt []byte
		m, t     uint32
		p        uint8
		tagLen   uint32
	}
	var cases []tc
	for i := 0; i < n; i++ {
		p := 1 + r.IntN(4)
		c := tc{pw: make([]byte, r.IntN(64)), salt: make([]byte, 16+r.IntN(17)),
			m: uint32(8*p + r.IntN(1200)), t: 1 + r.Uint32N(3), p: uint8(p), tagLen: 16 + r.Uint32N(48)}
		for j := range c.pw {
			c.pw[j] = byte(r.Uint32())
		}
		cases = append(cases, c)
	}
	forEachPathExt(t, func(t *testing.T) {
		for _, c := range cases {
			mem := make([]iargon2.Block, iargon2.Blocks(c.m, c.p))
			got := make([]byte, c.tagLen)
			iargon2.Key(mem, got, c.pw, c.salt, nil, nil, c.t, c.m, c.p)
			if want := argon2.IDKey(c.pw, c.salt, c.t, c.m, c.p, c.tagLen); !bytes.Equal(got, want) {
				t.Fatalf("m=%d t=%d p=%d: engine %x, x/crypto %x", c.m, c.t, c.p, got, want)
			}
		}
	})
}

// BenchmarkEngine times whole Argon2id derivations through the engine's
// reused arenas on each path, next to golang.org/x/crypto/argon2, at the
// parameters of the goals. With -count N the paths interleave, so
// compare them with benchstat -col /impl.
func BenchmarkEngine(b *testing.B) {
	specs := []struct {
		name string
		m, t uint32
		p    uint8
	}{{"m=64MiB,t=3,p=1", 64 * 1024, 3, 1}, {"m=19MiB,t=2,p=1", 19 * 1024, 2, 1}, {"m=64MiB,t=3,p=4", 64 * 1024, 3, 4}}
	pw, salt := []byte("correct horse battery staple"), make([]byte, 16)
	out := make([]byte, 32)
	pool := iargon2.NewPool(64<<20, time.Minute, nil)
	defer pool.Release()
	for _, s := range specs {
		b.Run(s.name, func(b *testing.B) {
			for _, impl := range append(blamka.Paths(), "xcrypto") {
				b.Run("impl="+impl, func(b *testing.B) {
					// One untimed run first: b.Loop starts the timer at its
					// first call, so arena mapping and page faults stay out.
					if impl == "xcrypto" {
						argon2.IDKey(pw, salt, s.t, s.m, s.p, 32)
						for b.Loop() {
							argon2.IDKey(pw, salt, s.t, s.m, s.p, 32)
						}
						return
					}
					defer blamka.UsePath(impl)()
					if err := pool.Key(out, pw, salt, nil, nil, s.t, s.m, s.p); err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						if err := pool.Key(out, pw, salt, nil, nil, s.t, s.m, s.p); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
