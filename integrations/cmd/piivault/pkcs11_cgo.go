//go:build cgo

package main

import (
	"crypto/ecdh"
	"io"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/piivault/piivault/integrations/pkcs11hsm"
)

// openTokenECKey opens the PKCS#11 token and its EC P-256 key labelled
// label (the ECDH runs in the token). The caller closes the token.
func openTokenECKey(module, token, pin, label string) (io.Closer, ecdh.KeyExchanger, error) {
	tok, err := pkcs11hsm.Open(module, token, pin)
	if err != nil {
		return nil, nil, err
	}
	k, err := tok.ECKey(label)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return tok, k, nil
}

// openTokenKWP opens the PKCS#11 token and its AES key labelled label as
// a key-encrypting AEAD. The caller closes the token.
func openTokenKWP(module, token, pin, label string) (io.Closer, tink.AEAD, error) {
	tok, err := pkcs11hsm.Open(module, token, pin)
	if err != nil {
		return nil, nil, err
	}
	a, err := tok.KWPAEAD(label)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return tok, a, nil
}
