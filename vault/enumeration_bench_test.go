package vault

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/piivault/piivault/kdf"
)

// BenchmarkUnlockInStoreUnknownUserVsWrongPassword times UnlockInStore for
// a user the Store does not hold and for a wrong password on an account
// enrolled under the same policy (Argon2id m=8 MiB t=1 p=1), as two
// sub-benchmarks run alternately. Compare with benchstat
// (bench/enumeration.sh): the two should be equal within noise, and both
// errors wrap ErrWrongSecret.
func BenchmarkUnlockInStoreUnknownUserVsWrongPassword(b *testing.B) {
	ctx := context.Background()
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 8 << 10, Passes: 1, Threads: 1}
	pol := kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}
	v, _ := newTestVault(b, pol)
	s := NewMemStore()
	if _, err := v.EnrollInStore(ctx, s, "present-user", pw1); err != nil {
		b.Fatal(err)
	}
	cases := []struct{ name, user string }{
		{"wrong-password", "present-user"},
		{"unknown-user", "absent-user"},
	}
	if os.Getenv("ENUM_BENCH_SWAP") != "" {
		cases[0], cases[1] = cases[1], cases[0]
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := v.UnlockInStore(ctx, s, c.user, pw2); !errors.Is(err, ErrWrongSecret) {
					b.Fatal(err)
				}
			}
			// CPU time of this process per call: less sensitive than wall
			// time to other processes on a loaded machine.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
