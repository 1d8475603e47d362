// Command partner-share walks through a consented disclosure: agency A
// asks for a user's identity (an OIDC-style request with a nonce); the
// user (synthetic: Jane Q. Sample) agrees to share her given name, family
// name and birth date; the identity provider, with her account unlocked by
// her password, seals exactly those attributes to agency A's public key and
// signs the package; agency A verifies the signature against the provider
// key it pinned, then opens it. Then what is refused: a forged package (a
// valid HPKE ciphertext to A's key, made by someone holding only A's public
// key), the same package again (replay), a package answering another
// request, a late one, and agency B.
//
// Run: go run ./examples/partner-share
//
// Keys are derived from fixed bytes so the output is stable; real parties
// generate their keys and publish only the public halves (and the
// provider's fingerprint, which partners pin).
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"errors"
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

	// The identity provider: a vault (default Argon2id policy), an Ed25519
	// signing key, a pairwise-subject secret, and a discloser whose audit
	// events go to stdout.
	audit := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			// Time, package id and digest change on every run.
			switch a.Key {
			case slog.TimeKey, "package_id", "package_sha256":
				return slog.Attr{}
			}
			return a
		},
	}))
	v, err := vault.New(vault.Config{})
	check(err)
	providerKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x1d}, 32))
	pairwise, err := disclosure.NewPairwise(bytes.Repeat([]byte{0x5e}, 32))
	check(err)
	discloser, err := disclosure.New(disclosure.Config{Signer: providerKey, Pairwise: pairwise, Audit: audit})
	check(err)
	fmt.Println("provider key fingerprint (partners pin it):", discloser.Fingerprint())

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

	// Two partner agencies and their HPKE key pairs (MLKEM768-P256: post-
	// quantum hybrid, FIPS-approved parts). Each pins the provider's key.
	skA, err := hpke.MLKEM768P256().DeriveKeyPair(bytes.Repeat([]byte{0xa}, 32))
	check(err)
	skB, err := hpke.MLKEM768P256().DeriveKeyPair(bytes.Repeat([]byte{0xb}, 32))
	check(err)
	pinned, err := disclosure.PinProviderKey(providerKey.Public(), discloser.Fingerprint())
	check(err)
	agencyA := opener("urn:gov:example:agency-a", skA, pinned)
	agencyB := opener("urn:gov:example:agency-b", skB, pinned)
	partnerA := disclosure.Partner{ID: "urn:gov:example:agency-a", PublicKey: skA.PublicKey()}

	// Agency A's request carries a nonce; the user agrees to share three
	// attributes in answer to it.
	const nonce = "n-0S6_WzA2Mj"
	consent := disclosure.Consent{
		PartnerID:  partnerA.ID,
		Nonce:      nonce,
		Attributes: []string{vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application",
		GivenAt:    now,
		ExpiresAt:  now.Add(90 * 24 * time.Hour),
	}
	u, _, err = v.Unlock(ctx, "user-42", account, password)
	check(err)
	pkg, err := discloser.Disclose(ctx, u, "pii", sealed, consent, partnerA, now)
	u.Close()
	check(err)
	fmt.Printf("\npackage for agency A: %d bytes; contains \"Sample\" in clear: %v\n\n",
		len(pkg), bytes.Contains(pkg, []byte("Sample")))

	// Agency A opens it: signature first, then nonce, time, decryption.
	got, err := agencyA.Open(ctx, pkg, nonce, now.Add(time.Minute))
	check(err)
	fmt.Printf("agency A received, for pairwise subject %s\n(purpose: %s):\n", got.Consent.Subject, got.Consent.Purpose)
	for _, a := range got.Attributes {
		fmt.Printf("  %-12s %s\n", a.Name, a.Value)
	}
	_, hasSSN := got.Value(vault.AttrSSN)
	fmt.Printf("  ssn included: %v\n\n", hasSSN)

	// A forger who knows only A's public key seals a made-up identity to
	// it: a valid HPKE ciphertext, in the real package's place.
	forged, info, sealedByForger := forge(pkg, skA.PublicKey())
	_, err = hpke.Open(skA, hpke.HKDFSHA256(), hpke.AES256GCM(), info, sealedByForger)
	fmt.Println("forged ciphertext decrypts with A's key (HPKE alone would accept it):", err == nil)
	_, err = agencyA.Open(ctx, forged, nonce, now.Add(time.Minute))
	fmt.Println("forged package:           ", err, "| forged:", errors.Is(err, disclosure.ErrForged))

	_, err = agencyA.Open(ctx, pkg, nonce, now.Add(2*time.Minute))
	fmt.Println("same package again:       ", err)
	_, err = agencyA.Open(ctx, pkg, "another-request", now.Add(time.Minute))
	fmt.Println("for another request:      ", err)
	_, err = agencyA.Open(ctx, pkg, nonce, now.Add(time.Hour))
	fmt.Println("an hour later:            ", err)
	_, err = agencyB.Open(ctx, pkg, nonce, now.Add(time.Minute))
	fmt.Println("agency B:                 ", err)
}

func opener(id string, sk hpke.PrivateKey, pinned *disclosure.ProviderKey) *disclosure.Opener {
	o, err := disclosure.NewOpener(disclosure.OpenerConfig{
		PartnerID: id, Key: sk, Providers: []*disclosure.ProviderKey{pinned},
		Replay: disclosure.NewMemoryReplayCache(100_000),
	})
	check(err)
	return o
}

// forge replaces the ciphertext of a real package with one the forger
// sealed to the partner's public key under the same header, keeping the
// provider's signature (vault/disclosure/FORMAT.md gives the layout).
func forge(real []byte, partner hpke.PublicKey) (pkg, info, sealed []byte) {
	const fixed = 4 + 1 + 2 + 32 + 2 + 2 + 2 + 16 + 8 + 8
	consentLen := int(binary.BigEndian.Uint16(real[fixed:]))
	hdr := real[:fixed+2+consentLen]
	pt := []byte("PVDP\x02\x03")
	for _, kv := range [][2]string{{"birthdate", "1970-01-01"}, {"family_name", "Mallory"}, {"given_name", "Eve"}} {
		pt = append(pt, byte(len(kv[0])))
		pt = append(pt, kv[0]...)
		pt = binary.BigEndian.AppendUint16(pt, uint16(len(kv[1])))
		pt = append(pt, kv[1]...)
	}
	info = append([]byte("piivault/disclosure/v2/hpke\x00"), hdr...)
	sealed, err := hpke.Seal(partner, hpke.HKDFSHA256(), hpke.AES256GCM(), info, pt)
	check(err)
	const encLen = 1153 // MLKEM768-P256
	out := append([]byte(nil), hdr...)
	out = append(out, sealed[:encLen]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(sealed)-encLen))
	out = append(out, sealed[encLen:]...)
	return append(out, real[len(real)-ed25519.SignatureSize:]...), info, sealed
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
