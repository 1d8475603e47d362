package argon2

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/piivault/piivault/kdf/internal/blamka"
)

// benchAlternating runs the named variants of one derivation in turn
// (rotating the order each iteration, so they see the same machine
// noise) and reports each one's mean milliseconds and the median of its
// per-iteration ratios to the first.
func benchAlternating(b *testing.B, names []string, fns []func()) {
	for _, f := range fns {
		f() // warm up
	}
	total := make([]time.Duration, len(fns))
	ratios := make([][]float64, len(fns))
	i := 0
	for b.Loop() {
		took := make([]time.Duration, len(fns))
		for k := range fns {
			j := (k + i) % len(fns)
			start := time.Now()
			fns[j]()
			took[j] = time.Since(start)
			total[j] += took[j]
		}
		for j := 1; j < len(fns); j++ {
			ratios[j] = append(ratios[j], float64(took[j])/float64(took[0]))
		}
		i++
	}
	for j, name := range names {
		b.ReportMetric(float64(total[j].Nanoseconds())/float64(i)/1e6, name+"-ms")
		if j > 0 {
			b.ReportMetric(median(ratios[j]), name+"/"+names[0])
		}
	}
}

// median of per-iteration ratios (runs made back to back), robust to load
// changes on a shared machine.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

var benchSizes = []struct {
	t, m uint32
	p    uint8
}{{3, 64 << 10, 1}, {2, 19 << 10, 1}}

// BenchmarkWipeCost: a derivation through a Pool that wipes the arena
// after use (the default) against one that does not; the ratio wipe/nowipe
// is the cost of wiping.
func BenchmarkWipeCost(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("m=%dMiB-t=%d-p=%d/g=%s", s.m>>10, s.t, s.p, blamka.Path()), func(b *testing.B) {
			wipe, nowipe := NewPool(1<<30, 0, nil), NewPool(1<<30, 0, nil)
			nowipe.setWipe(false)
			defer wipe.Release()
			defer nowipe.Release()
			out := make([]byte, 32)
			salt := make([]byte, 16)
			benchAlternating(b, []string{"nowipe", "wipe"}, []func(){
				func() { nowipe.Key(out, []byte("pw"), salt, nil, nil, s.t, s.m, s.p) },
				func() { wipe.Key(out, []byte("pw"), salt, nil, nil, s.t, s.m, s.p) },
			})
		})
	}
}

// BenchmarkArenaReuse isolates what reusing arenas gains, with the same
// compression function: a reused (warm) arena, a fresh mmap'd arena per
// derivation (mapped, faulted in, unmapped), and a fresh Go-heap matrix
// per derivation left to the garbage collector (what x/crypto does).
func BenchmarkArenaReuse(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("m=%dMiB-t=%d-p=%d/g=%s", s.m>>10, s.t, s.p, blamka.Path()), func(b *testing.B) {
			reused := NewPool(1<<30, 0, nil)
			fresh := NewPool(1<<30, 0, nil)
			defer reused.Release()
			out := make([]byte, 32)
			salt := make([]byte, 16)
			nb := Blocks(s.m, s.p)
			benchAlternating(b, []string{"reused", "fresh-mmap", "fresh-heap"}, []func(){
				func() { reused.Key(out, []byte("pw"), salt, nil, nil, s.t, s.m, s.p) },
				func() {
					fresh.Key(out, []byte("pw"), salt, nil, nil, s.t, s.m, s.p)
					fresh.Release()
				},
				func() {
					mem := make([]Block, nb)
					Key(mem, out, []byte("pw"), salt, nil, nil, s.t, s.m, s.p)
				},
			})
		})
	}
}
