package envelope

import (
	"crypto/fips140"
	"crypto/sha256"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/kdf"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// testParams are tiny Argon2id parameters (64 KiB, t=1, p=1): fast tests,
// no security. testPolicy admits them.
var testParams = kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}

func testPolicy() kdf.Policy {
	pol := kdf.Policy{
		New:           testParams,
		FloorArgon2id: testParams,
		FloorScrypt:   kdf.Params{Algorithm: kdf.Scrypt, LogN: 4, BlockSize: 1, Parallelism: 1},
		FloorPBKDF2:   kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1},
		Caps:          kdf.DefaultCaps(),
	}
	// The floors are tiny (pbkdf2 i=1) and the vectors go up to i=1000:
	// a work cap relative to the floors would refuse them.
	pol.Caps.MaxWorkMultiple = 1 << 20
	return pol
}

func testDeriver(t testing.TB) *kdf.Deriver {
	t.Helper()
	d, err := kdf.New(kdf.Config{Policy: testPolicy(), MemoryBudget: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// detReader is a deterministic byte stream (SHA-256 in counter mode over a
// seed): test and vector randomness only.
type detReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newDetReader(seed string) *detReader { return &detReader{seed: []byte(seed)} }

func (r *detReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			var c [8]byte
			for i := range c {
				c[i] = byte(r.ctr >> (56 - 8*i))
			}
			h.Write(c[:])
			r.ctr++
			r.buf = h.Sum(nil)
		}
		m := copy(p[n:], r.buf)
		r.buf = r.buf[m:]
		n += m
	}
	return n, nil
}

// testTinkAEAD returns a tink-go AES256GCM AEAD. Tink's AES-GCM refuses to
// run under GODEBUG=fips140=only; tests that need it skip there.
func testTinkAEAD(t testing.TB) tink.AEAD {
	t.Helper()
	fipstest.Skip(t, fipstest.TinkAESGCM)
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	bindJane  = Binding{UserID: "user-900-00-0001", Label: "account"}
	bindOther = Binding{UserID: "user-900-00-0002", Label: "account"}
	bindPII   = Binding{UserID: "user-900-00-0001", Label: "pii"}
)

func fips140Enforced() bool { return fips140.Enforced() }
