package disclosure_test

import (
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/piivault/piivault/vault/disclosure"
)

// A partner agency opens a package it received. The package and key come
// from the repository's known-answer vector (testdata/disclosure).
func ExampleOpen() {
	raw, _ := os.ReadFile("../../testdata/disclosure/vectors.json")
	var vs []struct {
		IKM     string    `json:"ikm"`
		Now     time.Time `json:"now"`
		Package string    `json:"package"`
	}
	_ = json.Unmarshal(raw, &vs)
	ikm, _ := hex.DecodeString(vs[1].IKM)
	pkg, _ := hex.DecodeString(vs[1].Package)

	// The agency's private key (MLKEM768-X25519); in production it lives in
	// the agency's KMS or HSM.
	sk, _ := hpke.MLKEM768X25519().DeriveKeyPair(ikm)

	d, err := disclosure.Open(sk, "urn:gov:example:agency-a", pkg, vs[1].Now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("purpose:", d.Consent.Purpose)
	for _, a := range d.Attributes {
		fmt.Println(a.Name, "=", a.Value)
	}
	_, err = disclosure.Open(sk, "urn:gov:example:agency-b", pkg, vs[1].Now)
	fmt.Println("as agency B:", err)
	// Output:
	// purpose: Verify identity for benefits application
	// birthdate = 1980-02-29
	// family_name = Sample
	// given_name = Jane
	// as agency B: disclosure: package is for another partner
}
