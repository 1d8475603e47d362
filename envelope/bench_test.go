package envelope

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
)

var benchSizes = []int{64, 1024, 64 << 10}

// loopCPU runs f in b.Loop on one locked OS thread and also reports the
// thread's CPU time per operation (cpu-ns/op), which, unlike wall time,
// does not count time the thread waited for a core on a shared machine
// (it still counts cache and SMT interference, and GC work done by
// assists, not by background workers). Compare it with
// benchstat -filter and the "cpu-ns/op" unit.
func loopCPU(b *testing.B, f func() error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	if start != 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkRecord measures RecordKey.Seal and Open (version 3: committing,
// bound to a Binding and a key generation) next to tink-go's AES256GCM AEAD
// on the same sizes, and RecordKey with room in dst ("envelope-room": no
// allocation at all; tink's API always allocates). Compare in one run:
//
//	go test -run '^$' -bench BenchmarkRecord -count 10 ./envelope | tee r.txt
//	benchstat -col /impl r.txt
func BenchmarkRecord(b *testing.B) {
	k, err := NewRecordKey(bytes.Repeat([]byte{1}, KeySize), nil)
	if err != nil {
		b.Fatal(err)
	}
	ta := testTinkAEAD(b)
	ad := appendBinding(nil, bindPII)
	for _, n := range benchSizes {
		pt := bytes.Repeat([]byte{0x42}, n)
		rec, _ := k.Seal(nil, bindPII, pt)
		tct, _ := ta.Encrypt(pt, ad)
		room := make([]byte, 0, n+RecordOverheadV1)
		b.Run(fmt.Sprintf("op=seal/size=%d/impl=envelope-room", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := k.Seal(room, bindPII, pt); return err })
		})
		b.Run(fmt.Sprintf("op=open/size=%d/impl=envelope-room", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := k.Open(room, bindPII, rec); return err })
		})
		// The floor without the commitment: the same cached AES-256-GCM
		// key, nonce from crypto/rand, header and binding as associated
		// data, into dst with room. envelope-room minus this is what the
		// key commitment (one HMAC-SHA256) costs per record.
		b.Run(fmt.Sprintf("op=seal/size=%d/impl=no-commitment-room", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			adv := appendBinding(append([]byte(nil), k.prefix[:]...), bindPII)
			var nonce [gcmNonceSize]byte
			loopCPU(b, func() error {
				rand.Read(nonce[:])
				k.gcm.Seal(room[:0], nonce[:], pt, adv)
				return nil
			})
		})
		b.Run(fmt.Sprintf("op=open/size=%d/impl=no-commitment-room", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			adv := appendBinding(append([]byte(nil), k.prefix[:]...), bindPII)
			ct := rec[recordV3HeaderSize+gcmNonceSize:]
			nonce := rec[recordV3HeaderSize : recordV3HeaderSize+gcmNonceSize]
			loopCPU(b, func() error {
				_, err := k.gcm.Open(room[:0], nonce, ct, adv)
				return err
			})
		})
		b.Run(fmt.Sprintf("op=seal/size=%d/impl=envelope", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := k.Seal(nil, bindPII, pt); return err })
		})
		b.Run(fmt.Sprintf("op=seal/size=%d/impl=tink", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := ta.Encrypt(pt, ad); return err })
		})
		b.Run(fmt.Sprintf("op=open/size=%d/impl=envelope", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := k.Open(nil, bindPII, rec); return err })
		})
		b.Run(fmt.Sprintf("op=open/size=%d/impl=tink", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			loopCPU(b, func() error { _, err := ta.Decrypt(tct, ad); return err })
		})
	}
}

// BenchmarkRecordVsTink interleaves this package and tink-go at a fine
// grain (blocks of 32 calls of each, alternating, on one locked thread)
// and reports each one's thread CPU time per call and their ratio
// (envelope/tink), so that load changes on a shared machine hit both
// alike. "nil" allocates the output in both; "room" gives RecordKey a dst
// with room (tink's API cannot take one).
func BenchmarkRecordVsTink(b *testing.B) {
	k, err := NewRecordKey(bytes.Repeat([]byte{1}, KeySize), nil)
	if err != nil {
		b.Fatal(err)
	}
	ta := testTinkAEAD(b)
	ad := appendBinding(nil, bindPII)
	for _, n := range []int{64, 1024} {
		pt := bytes.Repeat([]byte{0x42}, n)
		rec, _ := k.Seal(nil, bindPII, pt)
		tct, _ := ta.Encrypt(pt, ad)
		room := make([]byte, 0, n+RecordOverheadV1)
		for _, c := range []struct {
			name string
			ours func() error
			tink func() error
		}{
			{"op=seal/dst=nil", func() error { _, err := k.Seal(nil, bindPII, pt); return err }, func() error { _, err := ta.Encrypt(pt, ad); return err }},
			{"op=seal/dst=room", func() error { _, err := k.Seal(room, bindPII, pt); return err }, func() error { _, err := ta.Encrypt(pt, ad); return err }},
			{"op=open/dst=nil", func() error { _, err := k.Open(nil, bindPII, rec); return err }, func() error { _, err := ta.Decrypt(tct, ad); return err }},
			{"op=open/dst=room", func() error { _, err := k.Open(room, bindPII, rec); return err }, func() error { _, err := ta.Decrypt(tct, ad); return err }},
		} {
			b.Run(fmt.Sprintf("%s/size=%d", c.name, n), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				const block = 32
				var ours, tink int64
				for b.Loop() {
					t0 := threadCPU()
					for range block {
						if err := c.ours(); err != nil {
							b.Fatal(err)
						}
					}
					t1 := threadCPU()
					for range block {
						if err := c.tink(); err != nil {
							b.Fatal(err)
						}
					}
					ours += t1 - t0
					tink += threadCPU() - t1
				}
				if tink > 0 {
					calls := float64(b.N * block)
					b.ReportMetric(float64(ours)/calls, "envelope-cpu-ns/op")
					b.ReportMetric(float64(tink)/calls, "tink-cpu-ns/op")
					b.ReportMetric(float64(ours)/float64(tink), "envelope/tink")
				}
			})
		}
	}
}

// BenchmarkNewRecordKey is the cost of preparing a record key (subkey
// derivation, AES key schedule, HMAC states): paid once per unlock and
// once per user on a serverkey cache miss.
func BenchmarkNewRecordKey(b *testing.B) {
	key := bytes.Repeat([]byte{1}, KeySize)
	for _, gen := range []uint32{0, 1} {
		b.Run(fmt.Sprintf("gen=%d", gen), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := NewRecordKeyForGeneration(key, gen, nil)
				if err != nil {
					b.Fatal(err)
				}
				k.Destroy()
			}
		})
	}
}
