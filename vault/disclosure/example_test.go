package disclosure_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/disclosure"
)

// The whole flow: the agency sends a request with a nonce; the user's
// account is unlocked with her password; she agrees to share two
// attributes; the service signs and seals them to the agency; the agency
// verifies the provider's signature against the key it pinned, then opens.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

	// The identity provider: its signing key (Ed25519; an HSM-held ECDSA
	// P-256 key for FIPS, or a HybridSigner with ML-DSA-65) and its vault.
	_, providerKey, _ := ed25519.GenerateKey(rand.Reader)
	discloser, err := disclosure.New(disclosure.Config{Signer: providerKey})
	if err != nil {
		fmt.Println(err)
		return
	}
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

	// The agency: its HPKE key pair (post-quantum hybrid; it publishes the
	// public half) and the provider key it pinned by fingerprint, obtained
	// out of band.
	agencyKey, _ := hpke.MLKEM768P256().GenerateKey()
	pinned, err := disclosure.PinProviderKey(providerKey.Public(), discloser.Fingerprint())
	if err != nil {
		fmt.Println(err)
		return
	}
	agency, err := disclosure.NewOpener(disclosure.OpenerConfig{
		PartnerID: "agency-a", Key: agencyKey, Providers: []*disclosure.ProviderKey{pinned},
		Replay: disclosure.NewMemoryReplayCache(100_000),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	const nonce = "n-0S6_WzA2Mj" // from the agency's OIDC request

	consent := disclosure.Consent{
		PartnerID:  "agency-a",
		Nonce:      nonce,
		Attributes: []string{vault.AttrGivenName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application",
		GivenAt:    now,
		ExpiresAt:  now.Add(30 * 24 * time.Hour),
	}
	pkg, err := discloser.Disclose(ctx, u, "pii", sealed, consent,
		disclosure.Partner{ID: "agency-a", PublicKey: agencyKey.PublicKey()}, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	// At the agency, a minute later.
	d, err := agency.Open(ctx, pkg, nonce, now.Add(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range d.Attributes {
		fmt.Println(a.Name, "=", a.Value)
	}
	_, err = agency.Open(ctx, pkg, nonce, now.Add(time.Minute))
	fmt.Println("again:", errors.Is(err, disclosure.ErrReplay))
	_, err = agency.Open(ctx, pkg, "another-request", now.Add(time.Minute))
	fmt.Println("for another request:", errors.Is(err, disclosure.ErrNonce))
	_, err = agency.Open(ctx, pkg, nonce, now.Add(time.Hour))
	fmt.Println("an hour later:", errors.Is(err, disclosure.ErrExpired))
	// Output:
	// birthdate = 1980-02-29
	// given_name = Jane
	// again: true
	// for another request: true
	// an hour later: true
}

// Pairwise subject identifiers: each partner gets its own, stable
// identifier for a user.
func ExamplePairwise_Subject() {
	p, _ := disclosure.NewPairwise(bytes.Repeat([]byte{0x42}, 32)) // a random 32-byte secret in production
	a1, _ := p.Subject("urn:gov:example:agency-a", "user-42")
	a2, _ := p.Subject("urn:gov:example:agency-a", "user-42")
	b, _ := p.Subject("urn:gov:example:agency-b", "user-42")
	fmt.Println(a1)
	fmt.Println(b)
	fmt.Println("stable:", a1 == a2, "linkable:", a1 == b)
	// Output:
	// bKFhVSHigy5RVAD1wxeeRjdmePmZ1qPpMKfjPnKPXmo
	// XzLdkhmJgfu0wyaYm9ktiiQjBYi2TCUnl3kk1LTeFEM
	// stable: true linkable: false
}

// A provider key for packages that must stay trustworthy after large
// quantum computers: Ed25519 and ML-DSA-65 together (each half a
// crypto.Signer, so either may live in an HSM). Partners pin the hybrid
// key's fingerprint; a package verifies only if both signatures do.
func ExampleNewHybridSigner() {
	seed := bytes.Repeat([]byte{0x33}, 32) // random in production
	var mlSeed [mldsa65.SeedSize]byte
	copy(mlSeed[:], seed)
	_, ml := mldsa65.NewKeyFromSeed(&mlSeed)
	signer, err := disclosure.NewHybridSigner(ed25519.NewKeyFromSeed(seed), ml)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := disclosure.New(disclosure.Config{Signer: signer})
	pub := signer.Public().(*disclosure.HybridPublicKey)
	pinned, _ := disclosure.PinProviderKey(pub, d.Fingerprint())
	fmt.Println("public key bytes:", len(pub.Bytes()))
	fmt.Println("algorithm:", pinned.Algorithm() == disclosure.SigEd25519MLDSA65)
	// Output:
	// public key bytes: 1984
	// algorithm: true
}
