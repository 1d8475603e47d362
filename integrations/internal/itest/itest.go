// Package itest holds helpers shared by the integration tests.
package itest

import (
	"os"
	"testing"

	"github.com/piivault/piivault/kdf"
)

// Env returns the environment variable name, or skips the test with a
// message saying how to run it (.ci/integration.sh sets every variable, so
// CI skips nothing).
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("integration test skipped: %s is not set; run .ci/integration.sh (it starts SoftHSM2 and moto and sets it)", name)
	}
	return v
}

// Policy is a tiny KDF policy for tests.
func Policy() kdf.Policy {
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	return kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}
}
