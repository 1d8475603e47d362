//go:build goexperiment.runtimesecret

package envelope

import "runtime/secret"

// secretDoEnabled reports whether key derivation and unwrapping run inside
// runtime/secret.Do (built with GOEXPERIMENT=runtimesecret).
const secretDoEnabled = true

// secretDo runs f inside runtime/secret.Do: the registers and stack f used
// are erased when it returns, and its heap allocations once the garbage
// collector finds them unreachable (linux/amd64 and linux/arm64; elsewhere
// f runs directly). Not covered: goroutines f starts (a multi-threaded
// Argon2id's lanes), globals, and what f returns.
func secretDo(f func()) {
	secret.Do(func() {
		f()
		secretDoSawEnabled.Store(secret.Enabled())
	})
}
