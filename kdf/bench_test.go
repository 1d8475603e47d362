package kdf

import (
	"context"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var benchParams = []struct {
	name string
	p    Params
}{
	{"argon2id-default-m=64MiB-t=3-p=4", DefaultPolicy().New},
	{"argon2id-owasp-m=19MiB-t=2-p=1", DefaultPolicy().FloorArgon2id},
	{"scrypt-logingov-ln=16-r=8-p=1", Params{Algorithm: Scrypt, LogN: 16, BlockSize: 8, Parallelism: 1}},
	{"scrypt-owasp-ln=17-r=8-p=1", DefaultPolicy().FloorScrypt},
	{"pbkdf2-sha256-fips-i=600000", FIPSPolicy().New},
}

// BenchmarkDerive: one full Derive (check, normalize, reserve, KDF, no
// pepper) at the production parameter sets.
func BenchmarkDerive(b *testing.B) {
	for _, c := range benchParams {
		b.Run(c.name, func(b *testing.B) {
			d, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			pw := []byte("Jane Q. Sample's passphrase")
			b.ReportAllocs()
			for b.Loop() {
				s, err := d.Derive(context.Background(), pw, testSalt, c.p)
				if err != nil {
					b.Fatal(err)
				}
				s.Destroy()
			}
		})
	}
}

// heapSampler records the peak of the Go heap (bytes in heap objects, live
// or not yet swept) and of the memory mapped and not released to the OS,
// sampled every 500µs with runtime/metrics (no stop-the-world).
type heapSampler struct {
	stop            chan struct{}
	done            sync.WaitGroup
	peakHeap, peakM atomic.Uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > h.peakHeap.Load() {
				h.peakHeap.Store(v)
			}
			if v := samples[1].Value.Uint64() - samples[2].Value.Uint64(); v > h.peakM.Load() {
				h.peakM.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) finish() (peakHeap, peakMapped uint64) {
	close(h.stop)
	h.done.Wait()
	return h.peakHeap.Load(), h.peakM.Load()
}

// BenchmarkDeriveConcurrent32: 32 concurrent derivations at the default
// Argon2id params (64 MiB each) per op, under a 256 MiB budget (4 at a
// time) and, for comparison, a budget that admits all 32 (2 GiB). Reports
// the peak Go heap, the peak memory mapped by the runtime, and the peak
// bytes reserved from the budget.
func BenchmarkDeriveConcurrent32(b *testing.B) {
	p := DefaultPolicy().New
	for _, c := range []struct {
		name   string
		budget int64
	}{{"budget=256MiB", 256 << 20}, {"budget=2GiB", 32 * p.MemoryBytes()}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := New(Config{MemoryBudget: c.budget})
			if err != nil {
				b.Fatal(err)
			}
			pw := []byte("Jane Q. Sample's passphrase")
			h := startHeapSampler()
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for range 32 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s, err := d.Derive(context.Background(), pw, testSalt, p)
						if err != nil {
							b.Error(err)
							return
						}
						s.Destroy()
					}()
				}
				wg.Wait()
			}
			heap, mapped := h.finish()
			const mib = 1 << 20
			b.ReportMetric(float64(heap)/mib, "peak-heap-MiB")
			b.ReportMetric(float64(mapped)/mib, "peak-mapped-MiB")
			b.ReportMetric(float64(d.PeakMemory())/mib, "peak-reserved-MiB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(32*b.N), "ns/derivation")
		})
	}
}
