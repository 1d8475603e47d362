package argon2

import (
	"bytes"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// fuzzPool is shared by all fuzz iterations: arenas left dirty by earlier
// inputs of other sizes are reused, as in a server.
var fuzzPool = func() *Pool { p := NewPool(4<<20, 0, nil); p.setWipe(false); return p }()

// FuzzKeyEqualsXCrypto: for any password, salt, secret-free parameters
// (t 1..4, p 1..8, m 8p..8p+255 KiB: kept small so that the fuzzer makes
// progress) and tag length, the engine's output equals x/crypto's IDKey.
func FuzzKeyEqualsXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesaltsomesalt"), uint8(0), uint8(0), uint16(0), uint8(32))
	f.Add([]byte{}, bytes.Repeat([]byte{7}, 64), uint8(3), uint8(7), uint16(1023), uint8(64))
	f.Add(bytes.Repeat([]byte{0xff}, 4096), make([]byte, 16), uint8(1), uint8(3), uint16(13), uint8(100))
	f.Fuzz(func(t *testing.T, password, salt []byte, tt, pp uint8, extra uint16, tagLen uint8) {
		passes := uint32(tt%4) + 1
		p := pp%8 + 1
		m := 8*uint32(p) + uint32(extra%256)
		n := int(tagLen)%128 + 4
		want := xargon2.IDKey(password, salt, passes, m, p, uint32(n))
		got := make([]byte, n)
		if err := fuzzPool.Key(got, password, salt, nil, nil, passes, m, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("t=%d m=%d p=%d T=%d: got %x, want %x", passes, m, p, n, got, want)
		}
	})
}
