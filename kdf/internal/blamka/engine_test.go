package blamka_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

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
