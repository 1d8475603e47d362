// Command partner-share walks through a consented disclosure: a user
// (synthetic: Jane Q. Sample) agrees to share her given name, family name
// and birth date with agency A; the service, with her account unlocked by
// her password, seals exactly those attributes to agency A's public key;
// agency A opens the package, and agency B cannot.
//
// Run: go run ./examples/partner-share
//
// Partner keys are derived from fixed bytes so the output is stable; real
// partners generate their keys (hpke.MLKEM768X25519().GenerateKey()) and
// publish only the public half.
package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/disclosure"
)

func main() {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

	// The service: a vault (default Argon2id policy) and a discloser whose
	// audit events go to stdout.
	audit := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			// Time and the package digest change on every run.
			if a.Key == slog.TimeKey || a.Key == "package_sha256" {
				return slog.Attr{}
			}
			return a
		},
	}))
	v, err := vault.New(vault.Config{})
	check(err)
	discloser := disclosure.New(disclosure.Config{Audit: audit})

	// Enrollment: the user's identity is sealed under her account key.
	password := []byte("correct horse battery staple")
	account, _, err := v.Enroll(ctx, "user-42", password)
	check(err)
	u, _, err := v.Unlock(ctx, "user-42", account, password)
	check(err)
	sealed, err := u.SealIdentity("pii", &vault.Identity{
		GivenName: "Jane", MiddleName: "Quinn", FamilyName: "Sample",
		BirthDate: "1980-02-29", SSN: "900123456", Phone: "+12025550100",
	})
	check(err)
	u.Close()

	// Two partner agencies and their key pairs (A post-quantum hybrid).
	skA, err := hpke.MLKEM768X25519().DeriveKeyPair(bytes.Repeat([]byte{0xa}, 32))
	check(err)
	skB, err := hpke.DHKEM(ecdh.X25519()).DeriveKeyPair(bytes.Repeat([]byte{0xb}, 32))
	check(err)
	agencyA := disclosure.Partner{ID: "urn:gov:example:agency-a", PublicKey: skA.PublicKey()}

	// Later, the user signs in and agrees to share three attributes with A.
	consent := disclosure.Consent{
		PartnerID:  agencyA.ID,
		Subject:    "pairwise-5c1d",
		Attributes: []string{vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application",
		GivenAt:    now,
		ExpiresAt:  now.Add(90 * 24 * time.Hour),
	}
	u, _, err = v.Unlock(ctx, "user-42", account, password)
	check(err)
	pkg, err := discloser.Disclose(ctx, u, "pii", sealed, consent, agencyA, now)
	u.Close()
	check(err)
	fmt.Printf("package for agency A: %d bytes; contains \"900123456\" in clear: %v\n\n",
		len(pkg), bytes.Contains(pkg, []byte("900123456")))

	// Agency A opens it.
	got, err := disclosure.Open(skA, agencyA.ID, pkg, now.Add(time.Minute))
	check(err)
	fmt.Printf("agency A received, for %q (purpose: %s):\n", got.Consent.Subject, got.Consent.Purpose)
	for _, a := range got.Attributes {
		fmt.Printf("  %-12s %s\n", a.Name, a.Value)
	}
	_, hasSSN := got.Value(vault.AttrSSN)
	fmt.Printf("  ssn included: %v\n\n", hasSSN)

	// Agency B cannot: not as itself, nor by claiming to be A.
	_, err = disclosure.Open(skB, "urn:gov:example:agency-b", pkg, now.Add(time.Minute))
	fmt.Println("agency B, as itself:  ", err)
	_, err = disclosure.Open(skB, agencyA.ID, pkg, now.Add(time.Minute))
	fmt.Println("agency B, posing as A:", err)

	// Once the consent has lapsed, A refuses the package too.
	_, err = disclosure.Open(skA, agencyA.ID, pkg, consent.ExpiresAt)
	fmt.Println("agency A, day 90:     ", err)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
