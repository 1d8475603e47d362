package disclosure

import (
	"bytes"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// TestSignedPackageWindowOutsideTheConsentIsRefused: even a package the
// provider signed is refused when its validity window is empty or reaches
// outside the consent it carries (issued before the consent was given, or
// in force after it ends), although the partner's clock is inside the
// window. The package is re-sealed and re-signed with the provider's key
// for each case; the unchanged window opens.
func TestSignedPackageWindowOutsideTheConsentIsRefused(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	c := consentFor("agency-a", vault.AttrGivenName) // given t0, ends t0+24h
	pkg := f.mustDisclose(c, t0)
	p, err := parsePackage(pkg)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := hpke.Open(f.sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), p.sealed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSigner(f.signer)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(p.hdr, binary.BigEndian.AppendUint64(nil, uint64(p.issuedAt.UnixNano())))
	if at < 0 || !bytes.Equal(p.hdr[at+8:at+16], binary.BigEndian.AppendUint64(nil, uint64(p.expiresAt.UnixNano()))) {
		t.Fatal("test setup: validity window not found in the header")
	}
	window := func(issued, expires time.Time) []byte {
		hdr := bytes.Clone(p.hdr)
		binary.BigEndian.PutUint64(hdr[at:], uint64(issued.UnixNano()))
		binary.BigEndian.PutUint64(hdr[at+8:], uint64(expires.UnixNano()))
		sealed, err := hpke.Seal(f.partner.PublicKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info(hdr), pt)
		if err != nil {
			t.Fatal(err)
		}
		return reassemble(p, hdr, sealed, p.kem, func(body []byte) []byte {
			sig, err := s.sign(body)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}, nil)
	}
	now := p.issuedAt.Add(p.expiresAt.Sub(p.issuedAt) / 2) // inside the window
	if _, err := f.open(window(p.issuedAt, p.expiresAt), testNonce, now); err != nil {
		t.Fatalf("test setup: the re-signed package is refused: %v", err)
	}
	for name, w := range map[string][2]time.Time{
		"in force after the consent ends": {t0, c.ExpiresAt.Add(24 * time.Hour)},
		"issued before the consent":       {c.GivenAt.Add(-time.Hour), p.expiresAt},
		"empty window (expires at issue)": {now, now},
		"expires before it is issued":     {now, now.Add(-time.Second)},
		"both ends outside the consent":   {c.GivenAt.Add(-time.Hour), c.ExpiresAt.Add(time.Hour)},
	} {
		if d, err := f.open(window(w[0], w[1]), testNonce, now); !errors.Is(err, ErrMalformed) || d != nil {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// TestPackageForAnotherPartnerIDIsRefusedEvenUnderTheSameKey: two partner
// ids that share one HPKE key (one agency, two programmes) still each
// open only the packages consented to them: the consent's partner id is
// checked, not only the key it was sealed to.
func TestPackageForAnotherPartnerIDIsRefusedEvenUnderTheSameKey(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	other := f.newOpener(f.sk, "agency-a-tax", NewMemoryReplayCache(10))
	if d, err := other.Open(t.Context(), pkg, testNonce, t0); !errors.Is(err, ErrWrongPartner) || d != nil {
		t.Fatalf("package for agency-a opened by agency-a-tax under the same key: %v", err)
	}
	if _, err := f.open(pkg, testNonce, t0); err != nil {
		t.Fatalf("the package's own partner: %v", err)
	}
}
