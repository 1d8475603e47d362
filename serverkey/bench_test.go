package serverkey_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
)

// The per-attribute cost with a cached data key, next to what the issue
// started from: envelope.Seal/Open with a KMS AEAD recipient, which calls
// the KMS on every operation. fakeKMS is a local AES-GCM key, so the
// "KMS" sub-benchmarks count only the CPU side of a KMS call; a real one
// adds a network round trip per operation, which the Keyring makes once
// per data key. Compare with benchstat over interleaved -count runs.
//
// The keyring sub-benchmarks show the per-user key cache
// (Config.UserKeyCache): "keyring" is the default cache and one user (every
// operation a hit), "keyring-miss" a cache of 1024 keys and 4096 users in
// turn (every operation a miss: a derivation and an eviction),
// "keyring-nocache" the cache off and the same 4096 users (UserKeyCache -1:
// a derivation per operation, as before the cache), "keyring-parallel" the
// default cache
// with 256 users over GOMAXPROCS goroutines.

var benchEmail = []byte("jane.sample@example.com")

func BenchmarkAttribute(b *testing.B) {
	kms := newFakeKMS(b)
	kr := newRing(b, kms, genKey(b, kms, "k1"))
	ct, err := kr.Seal(b.Context(), jane, "email", benchEmail)
	if err != nil {
		b.Fatal(err)
	}
	rcp, err := envelope.NewAEADRecipient(kms, "kms-key", nil)
	if err != nil {
		b.Fatal(err)
	}
	bind := envelope.Binding{UserID: jane, Label: "email"}
	env, err := envelope.Seal(b.Context(), bind, benchEmail, rcp)
	if err != nil {
		b.Fatal(err)
	}
	const missUsers, missCache = 4096, 1024
	users := make([]string, missUsers)
	for i := range users {
		users[i] = fmt.Sprintf("user-%08d-synthetic", i)
	}
	wk := genKey(b, kms, "k1")
	miss := newRingCache(b, kms, missCache, wk)
	nocache := newRingCache(b, kms, -1, wk)
	cts := make([][]byte, missUsers)
	for i, u := range users {
		if cts[i], err = nocache.Seal(b.Context(), u, "email", benchEmail); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("seal/keyring", func(b *testing.B) {
		for b.Loop() {
			if _, err := kr.Seal(b.Context(), jane, "email", benchEmail); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("seal/keyring-miss", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := miss.Seal(b.Context(), users[i%missUsers], "email", benchEmail); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("seal/keyring-nocache", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := nocache.Seal(b.Context(), users[i%missUsers], "email", benchEmail); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("seal/keyring-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(256)
			for pb.Next() {
				if _, err := kr.Seal(b.Context(), users[i%256], "email", benchEmail); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("seal/envelope-kms-per-op", func(b *testing.B) {
		for b.Loop() {
			if _, err := envelope.Seal(b.Context(), bind, benchEmail, rcp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open/keyring", func(b *testing.B) {
		for b.Loop() {
			if _, err := kr.Open(b.Context(), jane, "email", ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open/keyring-miss", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := miss.Open(b.Context(), users[i%missUsers], "email", cts[i%missUsers]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("open/keyring-nocache", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := nocache.Open(b.Context(), users[i%missUsers], "email", cts[i%missUsers]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("open/envelope-kms-per-op", func(b *testing.B) {
		for b.Loop() {
			if _, err := envelope.Open(b.Context(), bind, env, rcp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUserKeyCacheMemory reports the heap a full cache of per-user
// keys holds, per key (B/key): after one collection (scratch memory of the
// keys' last operations still pooled) and after three (pools emptied).
func BenchmarkUserKeyCacheMemory(b *testing.B) {
	const n = 1024
	kms := newFakeKMS(b)
	wk := genKey(b, kms, "k1")
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user-%08d-synthetic", i)
	}
	var pooled, settled float64
	for b.Loop() {
		b.StopTimer()
		kr := newRingCache(b, kms, n, wk)
		if err := kr.Warm(b.Context()); err != nil {
			b.Fatal(err)
		}
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		for _, u := range users {
			if _, err := kr.Seal(b.Context(), u, "email", benchEmail); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m2)
		pooled = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / n
		settled = float64(int64(m2.HeapAlloc)-int64(m0.HeapAlloc)) / n
		runtime.KeepAlive(kr)
		kr.Close()
		b.StartTimer()
	}
	b.ReportMetric(pooled, "B/key-pooled")
	b.ReportMetric(settled, "B/key")
}

func newRingCache(b *testing.B, kms *fakeKMS, size int, wk serverkey.WrappedKey) *serverkey.Keyring {
	b.Helper()
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: wk, UserKeyCache: size})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(kr.Close)
	return kr
}

func BenchmarkFingerprint(b *testing.B) {
	kms := newFakeKMS(b)
	kr := newRing(b, kms, genKey(b, kms, "k2"), genKey(b, kms, "k1"))
	b.Run("email/current", func(b *testing.B) {
		for b.Loop() {
			if _, err := kr.Fingerprint(b.Context(), serverkey.KindEmail, " Jane.Sample@EXAMPLE.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("email/lookup-2-keys", func(b *testing.B) {
		for b.Loop() {
			if _, err := kr.Fingerprints(b.Context(), serverkey.KindEmail, " Jane.Sample@EXAMPLE.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("phone/current", func(b *testing.B) {
		for b.Loop() {
			if _, err := kr.Fingerprint(b.Context(), serverkey.KindPhone, "(202) 555-0100"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
