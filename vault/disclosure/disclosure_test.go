package disclosure

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/fips140"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

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

// defaultKEM is the KEM most tests use: X25519, or P-256 where Go runs in
// FIPS 140-only mode (which refuses X25519).
func defaultKEM() hpke.KEM {
	if fips140.Enabled() {
		return hpke.DHKEM(ecdh.P256())
	}
	return x25519()
}

// allKEMs returns every supported KEM that this process may use.
func allKEMs() []hpke.KEM {
	fips := []hpke.KEM{hpke.DHKEM(ecdh.P256()), hpke.MLKEM768P256()}
	if fips140.Enabled() {
		return fips
	}
	return append([]hpke.KEM{x25519(), hpke.MLKEM768X25519()}, fips...)
}

func consentFor(partner string, attrs ...string) Consent {
	return Consent{
		PartnerID: partner, Subject: "pairwise-5c1d", Attributes: attrs,
		Purpose: "Verify identity for benefits application", GivenAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func disclose(t testing.TB, d *Discloser, c Consent, p Partner, now time.Time) ([]byte, error) {
	t.Helper()
	return d.disclose(context.Background(), &fakeAccount{user: "user-42", id: jane}, "pii", []byte("sealed-record"), c, p, now)
}

func TestPartnerOpensExactlyTheConsentedAttributes(t *testing.T) {
	for _, kem := range allKEMs() {
		skA := partnerKey(t, kem, 1)
		c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
		pkg, err := disclose(t, New(Config{}), c, Partner{ID: "agency-a", PublicKey: skA.PublicKey()}, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(skA, "agency-a", pkg, t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("kem 0x%04x: %v", kem.ID(), err)
		}
		want := []Attribute{{"birthdate", "1980-02-29"}, {"family_name", "Sample"}, {"given_name", "Jane"}}
		if len(got.Attributes) != len(want) {
			t.Fatalf("attributes %v, want %v", got.Attributes, want)
		}
		for i := range want {
			if got.Attributes[i] != want[i] {
				t.Fatalf("attributes %v, want %v", got.Attributes, want)
			}
		}
		if got.Consent.PartnerID != "agency-a" || got.Consent.Purpose != c.Purpose || !got.Consent.ExpiresAt.Equal(c.ExpiresAt) {
			t.Fatalf("consent %+v", got.Consent)
		}
		if _, ok := got.Value(vault.AttrSSN); ok {
			t.Fatal("ssn present though not consented")
		}
	}
}

func TestUnconsentedValuesAreNotInTheSealedPlaintext(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
	pkg, err := disclose(t, New(Config{}), c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(pkg)
	if err != nil {
		t.Fatal(err)
	}
	// Decrypt by hand, below Open's checks, and scan the raw plaintext.
	pt, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(h.hdr), h.sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Quinn", "900123456", "+12025550100", "1 Example Way", "Springfield", "S123-4567-8901"} {
		if bytes.Contains(pt, []byte(v)) {
			t.Errorf("plaintext holds unconsented value %q", v)
		}
	}
	for _, v := range []string{"Jane", "Sample", "1980-02-29"} {
		if !bytes.Contains(pt, []byte(v)) {
			t.Errorf("plaintext lacks consented value %q", v)
		}
		if bytes.Contains(pkg, []byte(v)) {
			t.Errorf("package holds %q in clear", v)
		}
	}
}

func TestPackageForPartnerAIsRefusedByPartnerB(t *testing.T) {
	skA, skB := partnerKey(t, defaultKEM(), 1), partnerKey(t, defaultKEM(), 2)
	pkg, err := disclose(t, New(Config{}), consentFor("agency-a", vault.AttrGivenName), Partner{ID: "agency-a", PublicKey: skA.PublicKey()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(skB, "agency-b", pkg, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatalf("B as itself: %v, want ErrWrongPartner", err)
	}
	if _, err := Open(skB, "agency-a", pkg, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("B claiming to be A: %v, want ErrDecrypt", err)
	}
	// Re-address the header to B (a valid consent encoding): B still cannot
	// decrypt, and A no longer can either, since the consent is bound.
	moved := rewriteConsent(t, pkg, func(c *Consent) { c.PartnerID = "agency-b" })
	if _, err := Open(skB, "agency-b", moved, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("re-addressed to B: %v, want ErrDecrypt", err)
	}
	xw := partnerKey(t, hpke.MLKEM768P256(), 1)
	if _, err := Open(xw, "agency-a", pkg, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("other KEM key: %v, want ErrDecrypt", err)
	}
}

// rewriteConsent replaces the package's consent with a modified, validly
// encoded one, keeping the ciphertext.
func rewriteConsent(t *testing.T, pkg []byte, edit func(*Consent)) []byte {
	t.Helper()
	h, err := parseHeader(pkg)
	if err != nil {
		t.Fatal(err)
	}
	c := h.consent
	c.Attributes = append([]string(nil), c.Attributes...)
	edit(&c)
	cb, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), pkg[:11]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(cb)))
	out = append(out, cb...)
	return append(out, h.sealed...)
}

func TestConsentCannotBeWidenedOrExtended(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	pkg, _ := disclose(t, New(Config{}), consentFor("agency-a", vault.AttrGivenName), Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
	for name, edit := range map[string]func(*Consent){
		"widened":  func(c *Consent) { c.Attributes = append(c.Attributes, vault.AttrSSN) },
		"extended": func(c *Consent) { c.ExpiresAt = c.ExpiresAt.Add(365 * 24 * time.Hour) },
		"purpose":  func(c *Consent) { c.Purpose = "Marketing" },
		"subject":  func(c *Consent) { c.Subject = "someone-else" },
	} {
		if _, err := Open(sk, "agency-a", rewriteConsent(t, pkg, edit), t0); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s consent: %v, want ErrDecrypt", name, err)
		}
	}
}

func TestExpiredConsentIsRefusedOnBothSides(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	p := Partner{ID: "agency-a", PublicKey: sk.PublicKey()}
	c := consentFor("agency-a", vault.AttrGivenName)
	if _, err := disclose(t, New(Config{}), c, p, c.ExpiresAt); !errors.Is(err, ErrConsentExpired) {
		t.Fatalf("disclose at expiry: %v, want ErrConsentExpired", err)
	}
	if _, err := disclose(t, New(Config{}), c, p, c.GivenAt.Add(-time.Second)); !errors.Is(err, ErrInvalidConsent) {
		t.Fatalf("disclose before consent given: %v, want ErrInvalidConsent", err)
	}
	pkg, err := disclose(t, New(Config{}), c, p, c.ExpiresAt.Add(-time.Nanosecond))
	if err != nil {
		t.Fatalf("disclose at expiry-1ns: %v", err)
	}
	if _, err := Open(sk, "agency-a", pkg, c.ExpiresAt.Add(-time.Nanosecond)); err != nil {
		t.Fatalf("open at expiry-1ns: %v", err)
	}
	if _, err := Open(sk, "agency-a", pkg, c.ExpiresAt); !errors.Is(err, ErrConsentExpired) {
		t.Fatalf("open at expiry: %v, want ErrConsentExpired", err)
	}
}

func TestInvalidConsentsAreRefusedBeforeTheRecordIsOpened(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	p := Partner{ID: "agency-a", PublicKey: sk.PublicKey()}
	for _, tc := range []struct {
		name string
		c    Consent
		p    Partner
		want error
	}{
		{"empty", consentFor("agency-a"), p, ErrInvalidConsent},
		{"unknown attribute", consentFor("agency-a", "given_name", "mothers_maiden_name"), p, ErrUnknownAttribute},
		{"bad name", consentFor("agency-a", "Given-Name"), p, ErrInvalidConsent},
		{"duplicate", consentFor("agency-a", "ssn", "ssn"), p, ErrInvalidConsent},
		{"no purpose", func() Consent { c := consentFor("agency-a", "ssn"); c.Purpose = ""; return c }(), p, ErrInvalidConsent},
		{"no partner", consentFor("", "ssn"), Partner{PublicKey: sk.PublicKey()}, ErrInvalidConsent},
		{"key of another partner", consentFor("agency-a", "ssn"), Partner{ID: "agency-b", PublicKey: sk.PublicKey()}, ErrWrongPartner},
		{"no key", consentFor("agency-a", "ssn"), Partner{ID: "agency-a"}, ErrUnsupportedSuite},
		{"P-384 key", consentFor("agency-a", "ssn"), Partner{ID: "agency-a", PublicKey: partnerKey(t, hpke.DHKEM(ecdh.P384()), 1).PublicKey()}, ErrUnsupportedSuite},
	} {
		acct := &fakeAccount{user: "u", id: jane}
		_, err := New(Config{}).disclose(context.Background(), acct, "pii", []byte("sealed-record"), tc.c, tc.p, t0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if acct.opened != 0 {
			t.Errorf("%s: identity record opened before the consent was checked", tc.name)
		}
	}
}

func TestEveryBitFlipIsRefused(t *testing.T) {
	for _, kem := range allKEMs() {
		sk := partnerKey(t, kem, 1)
		pkg, err := disclose(t, New(Config{}), consentFor("agency-a", vault.AttrGivenName, vault.AttrBirthDate), Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
		if err != nil {
			t.Fatal(err)
		}
		step := 1
		if testing.Short() && (kem.ID() == KEMMLKEM768X25519 || kem.ID() == KEMMLKEM768P256) {
			step = 7
		}
		for i := 0; i < len(pkg)*8; i += step {
			c := bytes.Clone(pkg)
			c[i/8] ^= 1 << (i % 8)
			if d, err := Open(sk, "agency-a", c, t0); err == nil {
				t.Fatalf("kem 0x%04x: flip of bit %d accepted: %+v", kem.ID(), i, d)
			}
		}
		for n := range len(pkg) {
			if _, err := Open(sk, "agency-a", pkg[:n], t0); err == nil {
				t.Fatalf("truncation to %d accepted", n)
			}
		}
		if _, err := Open(sk, "agency-a", append(bytes.Clone(pkg), 0), t0); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func TestOversizedPackageRefusedBeforeWork(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	if _, err := Open(sk, "agency-a", make([]byte, MaxPackageSize+1), t0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
}

func TestAuditEventsNameAttributesNeverValues(t *testing.T) {
	var buf bytes.Buffer
	d := New(Config{Audit: slog.New(slog.NewJSONHandler(&buf, nil))})
	sk := partnerKey(t, defaultKEM(), 1)
	p := Partner{ID: "agency-a", PublicKey: sk.PublicKey()}
	all := vault.AttributeNames()
	if _, err := disclose(t, d, consentFor("agency-a", all...), p, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := disclose(t, d, consentFor("agency-a", vault.AttrSSN), p, t0.Add(48*time.Hour)); !errors.Is(err, ErrConsentExpired) {
		t.Fatal(err)
	}
	log := buf.String()
	for _, v := range secretValues {
		if strings.Contains(log, v) {
			t.Errorf("audit log contains the value %q:\n%s", v, log)
		}
	}
	for _, want := range []string{`"msg":"disclosure.released"`, `"msg":"disclosure.refused"`, `"partner_id":"agency-a"`,
		`"user_id":"user-42"`, "given_name", "ssn", `"purpose":"Verify identity for benefits application"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "\n"); n != 2 {
		t.Errorf("%d audit events, want one per call (2)", n)
	}
}

func TestConsentEncodingIsCanonical(t *testing.T) {
	a := consentFor("agency-a", "given_name", "birthdate", "family_name")
	b := consentFor("agency-a", "family_name", "given_name", "birthdate")
	ea, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := b.MarshalBinary()
	if !bytes.Equal(ea, eb) {
		t.Fatal("attribute order changes the encoding")
	}
	c, err := ParseConsent(ea)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.MarshalBinary(); !bytes.Equal(again, ea) {
		t.Fatal("consent does not round-trip")
	}
	// Unsorted names on the wire are refused.
	swapped := bytes.Clone(ea)
	i := bytes.Index(swapped, []byte("\x09birthdate"))
	j := bytes.Index(swapped, []byte("\x0bfamily_name"))
	if i < 0 || j < 0 {
		t.Fatal("test setup: names not found")
	}
	un := append(append(append([]byte(nil), swapped[:i]...), swapped[j:j+12]...), swapped[i:i+10]...)
	un = append(un, swapped[j+12:]...)
	if _, err := ParseConsent(un); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted names: %v, want ErrMalformed", err)
	}
}

func FuzzParseConsent(f *testing.F) {
	cb, _ := consentFor("agency-a", "given_name", "ssn").MarshalBinary()
	f.Add(cb)
	f.Add([]byte("PVCN\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConsent(b)
		if err != nil {
			return
		}
		out, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %x -> %x (%v)", b, out, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	sk := partnerKey(f, defaultKEM(), 1)
	pkg, err := disclose(f, New(Config{}), consentFor("agency-a", "given_name"), Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkg)
	f.Add(pkg[:60])
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(sk, "agency-a", b, t0)
		if err != nil {
			if d != nil {
				t.Fatal("result returned with an error")
			}
			return
		}
		if len(d.Attributes) != len(d.Consent.Attributes) {
			t.Fatal("opened package with attributes outside its consent")
		}
		if _, err := PackageConsent(b); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLargestConsentAndAllAttributesRoundTrip(t *testing.T) {
	sk := partnerKey(t, hpke.MLKEM768P256(), 3)
	c := Consent{
		PartnerID: strings.Repeat("p", MaxPartnerIDLength), Subject: strings.Repeat("s", MaxSubjectLength),
		Attributes: vault.AttributeNames(), Purpose: strings.Repeat("é", MaxPurposeLength/2),
		GivenAt: t0, ExpiresAt: t0.Add(time.Hour),
	}
	pkg, err := disclose(t, New(Config{}), c, Partner{ID: c.PartnerID, PublicKey: sk.PublicKey()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(sk, c.PartnerID, pkg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Value(vault.AttrSSN); v != "900123456" || len(d.Attributes) != len(vault.AttributeNames()) {
		t.Fatalf("attributes %v", d.Attributes)
	}
	c.Purpose += "x"
	if _, err := c.MarshalBinary(); !errors.Is(err, ErrInvalidConsent) {
		t.Fatalf("purpose over the limit: %v", err)
	}
}
