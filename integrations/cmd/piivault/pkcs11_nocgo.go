//go:build !cgo

package main

import (
	"crypto/ecdh"
	"errors"
	"io"

	"github.com/tink-crypto/tink-go/v2/tink"
)

// errNoPKCS11 is what the PKCS#11 flags give in a binary built without
// cgo (CGO_ENABLED=0): PKCS#11 modules are C libraries. Key files work.
var errNoPKCS11 = errors.New("this piivault was built without cgo (CGO_ENABLED=0), so it cannot load a PKCS#11 module; use a key file, or build with cgo")

func openTokenECKey(module, token, pin, label string) (io.Closer, ecdh.KeyExchanger, error) {
	return nil, nil, errNoPKCS11
}

func openTokenKWP(module, token, pin, label string) (io.Closer, tink.AEAD, error) {
	return nil, nil, errNoPKCS11
}
