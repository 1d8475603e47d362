//go:build tools

// Package piivault pins module dependencies that later packages import,
// so that parallel work never has to run go mod tidy. Remove once every
// dependency is imported by real code.
package piivault

import (
	_ "github.com/stretchr/testify/require"
	_ "github.com/tink-crypto/tink-go/v2/aead"
	_ "github.com/tink-crypto/tink-go/v2/keyset"
	_ "github.com/tink-crypto/tink-go/v2/tink"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/crypto/scrypt"
	_ "golang.org/x/sys/cpu"
	_ "golang.org/x/text/unicode/norm"
)
