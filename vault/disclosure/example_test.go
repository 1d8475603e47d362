package disclosure_test

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/piivault/piivault/vault"
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

// The whole flow: the user's account is unlocked with her password, she
// agrees to share two attributes, the service seals them to the agency.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	v, _ := vault.New(vault.Config{})
	pw := []byte("correct horse battery staple")
	account, _, _ := v.Enroll(ctx, "user-42", pw)
	u, _, err := v.Unlock(ctx, "user-42", account, pw)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer u.Close()
	sealed, _ := u.SealIdentity("pii", &vault.Identity{GivenName: "Jane", FamilyName: "Sample", BirthDate: "1980-02-29", SSN: "900123456"})

	// The agency's key pair; it publishes the public half.
	agencyKey, _ := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	agency := disclosure.Partner{ID: "agency-a", PublicKey: agencyKey.PublicKey()}

	consent := disclosure.Consent{
		PartnerID:  agency.ID,
		Attributes: []string{vault.AttrGivenName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application",
		GivenAt:    now,
		ExpiresAt:  now.Add(30 * 24 * time.Hour),
	}
	pkg, err := disclosure.New(disclosure.Config{}).Disclose(ctx, u, "pii", sealed, consent, agency, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	// At the agency.
	d, err := disclosure.Open(agencyKey, "agency-a", pkg, now.Add(time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range d.Attributes {
		fmt.Println(a.Name, "=", a.Value)
	}
	// Output:
	// birthdate = 1980-02-29
	// given_name = Jane
}
