package kdf

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/piivault/piivault/kdf/internal/blamka"
	"golang.org/x/crypto/argon2"
)

// BenchmarkArgon2idEngineVsXCrypto: warm in-process loops of piivault's
// Derive (engine, arenas reused across derivations) and of
// golang.org/x/crypto/argon2.IDKey at the same parameters, side by side:
// every iteration runs one derivation of each, in alternating order, so
// both see the same machine noise. It reports each one's time per
// derivation and the median of the per-iteration ratios piivault/xcrypto
// (below 1: piivault is faster), for
// each compression-function path of kdf/internal/blamka this CPU has
// (g=avx512, g=avx2, g=generic: pure Go). x/crypto always uses its own
// SSE4.1 assembly on amd64.
//
//	go test -run '^$' -bench Argon2idEngineVsXCrypto -count 6 ./kdf/
func BenchmarkArgon2idEngineVsXCrypto(b *testing.B) {
	for _, p := range []Params{
		{Algorithm: Argon2id, MemoryKiB: 64 << 10, Passes: 3, Threads: 1},
		{Algorithm: Argon2id, MemoryKiB: 19 << 10, Passes: 2, Threads: 1},
		{Algorithm: Argon2id, MemoryKiB: 64 << 10, Passes: 3, Threads: 4},
	} {
		for _, g := range blamka.Paths() {
			name := fmt.Sprintf("m=%dMiB-t=%d-p=%d/g=%s", p.MemoryKiB>>10, p.Passes, p.Threads, g)
			b.Run(name, func(b *testing.B) {
				defer blamka.UsePath(g)()
				benchEngineVsXCrypto(b, p)
			})
		}
	}
}

func benchEngineVsXCrypto(b *testing.B, p Params) {
	pol := DefaultPolicy()
	pol.New, pol.FloorArgon2id = p, p
	d, err := New(Config{Policy: pol, ArenaIdleTimeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.ReleaseMemory()
	pw := []byte("correct horse battery staple")
	ours := func() time.Duration {
		start := time.Now()
		s, err := d.Derive(context.Background(), pw, testSalt, p)
		if err != nil {
			b.Fatal(err)
		}
		s.Destroy()
		return time.Since(start)
	}
	theirs := func() time.Duration {
		start := time.Now()
		clear(argon2.IDKey(pw, testSalt, p.Passes, p.MemoryKiB, p.Threads, 32))
		return time.Since(start)
	}
	ours() // warm: the arena is mapped and faulted in once
	theirs()
	var tOurs, tTheirs time.Duration
	var ratios []float64
	i := 0
	for b.Loop() {
		var o, x time.Duration
		if i%2 == 0 {
			o = ours()
			x = theirs()
		} else {
			x = theirs()
			o = ours()
		}
		tOurs += o
		tTheirs += x
		ratios = append(ratios, float64(o)/float64(x))
		i++
	}
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(i)/1e6, "piivault-ms")
	b.ReportMetric(float64(tTheirs.Nanoseconds())/float64(i)/1e6, "xcrypto-ms")
	b.ReportMetric(median(ratios), "ratio")
}

// median of the per-iteration ratios: each compares two runs made back to
// back, so a load change on a shared machine moves few of them, where it
// would move a ratio of sums.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
