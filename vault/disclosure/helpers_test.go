package disclosure

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"errors"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/vault"
)

var (
	t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	// Synthetic person (SSN in the never-issued 900 range).
	jane = &vault.Identity{
		GivenName: "Jane", MiddleName: "Quinn", FamilyName: "Sample",
		BirthDate: "1980-02-29", SSN: "900123456", Phone: "+12025550100",
		Address:  vault.Address{Line1: "1 Example Way", City: "Springfield", State: "IL", ZIPCode: "62701"},
		Document: vault.IDDocument{Type: "drivers_license", Number: "S123-4567-8901", Issuer: "IL", Expiration: "2030-01-31"},
	}
	secretValues = []string{"Jane", "Quinn", "Sample", "1980-02-29", "900123456", "+12025550100", "1 Example Way", "Springfield", "S123-4567-8901"}
)

const testNonce = "n-0S6_WzA2Mj" // an OIDC-style request nonce

// fakeAccount stands in for *vault.Unlocked: the identity it opens is fixed.
type fakeAccount struct {
	user   string
	id     *vault.Identity
	opened int
}

func (f *fakeAccount) UserID() string { return f.user }
func (f *fakeAccount) OpenIdentity(label string, sealed []byte) (*vault.Identity, error) {
	f.opened++
	if label != "pii" || string(sealed) != "sealed-record" {
		return nil, errors.New("fake: wrong record")
	}
	cp := *f.id
	return &cp, nil
}

func partnerKey(t testing.TB, kem hpke.KEM, seed byte) hpke.PrivateKey {
	t.Helper()
	sk, err := kem.DeriveKeyPair(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func x25519() hpke.KEM { return hpke.DHKEM(ecdh.X25519()) }

// skipX25519InFIPS skips a test that needs an X25519-based KEM when Go runs
// in FIPS 140-only mode, which refuses X25519 (not a FIPS-approved curve);
// the P-256 suites cover that mode.
func skipX25519InFIPS(t testing.TB) {
	t.Helper()
	fipstest.Skip(t, fipstest.X25519)
}

// defaultKEM is the KEM most tests use: X25519, or P-256 where Go runs in
// FIPS 140-only mode (which refuses X25519): these tests are about the
// disclosure logic, not the KEM, so they run in both modes.
func defaultKEM() hpke.KEM {
	if fipstest.Active(fipstest.X25519) {
		return hpke.DHKEM(ecdh.P256())
	}
	return x25519()
}

// allKEMs returns every supported KEM that this process may use.
func allKEMs() []hpke.KEM {
	fips := []hpke.KEM{hpke.DHKEM(ecdh.P256()), hpke.MLKEM768P256()}
	if fipstest.Active(fipstest.X25519) {
		return fips
	}
	return append([]hpke.KEM{x25519(), hpke.MLKEM768X25519()}, fips...)
}

// Provider signing keys, derived from fixed seeds.
func ed25519Signer(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func ecdsaSigner(t testing.TB, seed byte) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hybridSigner(t testing.TB, seed byte) *HybridSigner {
	t.Helper()
	var s [mldsa65.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	_, ml := mldsa65.NewKeyFromSeed(&s)
	h, err := NewHybridSigner(ed25519Signer(seed), ml)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type namedSigner struct {
	name string
	s    crypto.Signer
}

// allSigners returns one provider key per signature algorithm.
func allSigners(t testing.TB) []namedSigner {
	return []namedSigner{
		{"ed25519", ed25519Signer(7)},
		{"ecdsa-p256", ecdsaSigner(t, 7)},
		{"ed25519+mldsa65", hybridSigner(t, 7)},
	}
}

func consentFor(partner string, attrs ...string) Consent {
	return Consent{
		PartnerID: partner, Nonce: testNonce, Subject: "pairwise-5c1d", Attributes: attrs,
		Purpose: "Verify identity for benefits application", GivenAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

// fixture is one provider and one partner (agency-a).
type fixture struct {
	t       testing.TB
	signer  crypto.Signer
	d       *Discloser
	sk      hpke.PrivateKey
	partner Partner
	replay  *MemoryReplayCache
	opener  *Opener
}

func newFixture(t testing.TB, kem hpke.KEM, s crypto.Signer) *fixture {
	t.Helper()
	d, err := New(Config{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, signer: s, d: d, sk: partnerKey(t, kem, 1)}
	f.partner = Partner{ID: "agency-a", PublicKey: f.sk.PublicKey()}
	f.replay = NewMemoryReplayCache(1000)
	f.opener = f.newOpener(f.sk, "agency-a", f.replay)
	return f
}

func (f *fixture) newOpener(sk hpke.PrivateKey, partnerID string, replay ReplayCache) *Opener {
	f.t.Helper()
	pk, err := PinProviderKey(f.signer.Public(), f.d.Fingerprint())
	if err != nil {
		f.t.Fatal(err)
	}
	o, err := NewOpener(OpenerConfig{PartnerID: partnerID, Key: sk, Providers: []*ProviderKey{pk}, Replay: replay})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

func (f *fixture) disclose(c Consent, now time.Time) ([]byte, error) {
	f.t.Helper()
	return f.d.disclose(context.Background(), &fakeAccount{user: "user-42", id: jane}, "pii", []byte("sealed-record"), c, f.partner, now)
}

func (f *fixture) mustDisclose(c Consent, now time.Time) []byte {
	f.t.Helper()
	pkg, err := f.disclose(c, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return pkg
}

// open opens with a fresh replay cache, so that tests can open a package
// more than once.
func (f *fixture) open(pkg []byte, nonce string, now time.Time) (*Disclosed, error) {
	return f.newOpener(f.sk, "agency-a", NewMemoryReplayCache(10)).Open(context.Background(), pkg, nonce, now)
}
