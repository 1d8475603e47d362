//go:build !goexperiment.runtimesecret

package envelope

// secretDoEnabled reports whether key derivation and unwrapping run inside
// runtime/secret.Do (built with GOEXPERIMENT=runtimesecret).
const secretDoEnabled = false

// secretDo runs f. Built with GOEXPERIMENT=runtimesecret, it runs f inside
// runtime/secret.Do instead (secret_do.go).
func secretDo(f func()) { f() }
