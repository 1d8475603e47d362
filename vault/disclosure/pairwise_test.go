package disclosure

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/piivault/piivault/vault"
)

// Known answers computed independently with Python's hmac and hashlib
// (HMAC-SHA256, RFC 2104) from the construction in FORMAT.md, section 7:
//
//	m = b"piivault/disclosure/pairwise-subject/v1\x00" + bytes([len(p)]) + p + struct.pack(">H", len(u)) + u
//	base64.urlsafe_b64encode(hmac.new(secret, m, hashlib.sha256).digest()).rstrip(b"=")
//
// with secret = bytes(range(32)).
func TestPairwiseSubjectKnownAnswers(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	p, err := NewPairwise(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ partner, user, want string }{
		{"urn:gov:example:agency-a", "user-42", "ZzH8DQMWxOKfdWVHUALMb9SQGNR1Ue6pWjzBgn-M7Uw"},
		{"urn:gov:example:agency-b", "user-42", "bfozC2GFiXgngdv0TI024xB-TAzAVojp5BapZpKpkMk"},
		{"urn:gov:example:agency-a", "user-43", "hWMPSSihnV0cKZMgtbqHOD6dBHUTMj33bS4GAeKQ7Zg"},
		{"a", strings.Repeat("b", 300), "_srRPyJNhLDH1W51LshzA_R_Qw4nQz97pM5flK2-y5o"},
		{strings.Repeat("p", 255), "0f8fad5b-d9cb-469f-a165-70867728950e", "NG0bnDWNCyTsbkDLzN8ZRv9JnZv4wPAilZGXiNrWOx4"},
	} {
		got, err := p.Subject(tc.partner, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("Subject(%.20q, %.20q) = %q, %v; want %q", tc.partner, tc.user, got, err, tc.want)
		}
	}
}

func TestPairwiseSubjectsDifferAcrossPartnersAndAreStablePerPartner(t *testing.T) {
	p, _ := NewPairwise(bytes.Repeat([]byte{9}, 32))
	other, _ := NewPairwise(bytes.Repeat([]byte{8}, 32))
	seen := map[string]string{}
	for _, partner := range []string{"agency-a", "agency-b", "agency-c", "agency-ab"} {
		for _, user := range []string{"user-1", "user-2", "c", "user-42"} {
			s1, _ := p.Subject(partner, user)
			s2, _ := p.Subject(partner, user)
			if s1 != s2 {
				t.Fatalf("%s/%s: not stable", partner, user)
			}
			if prev, dup := seen[s1]; dup {
				t.Fatalf("%s/%s and %s share subject %s", partner, user, prev, s1)
			}
			seen[s1] = partner + "/" + user
			if o, _ := other.Subject(partner, user); o == s1 {
				t.Fatal("another secret gives the same subject")
			}
			if len(s1) != 43 {
				t.Fatalf("subject of %d characters", len(s1))
			}
		}
	}
	// The encoding is injective: moving bytes between partner and user
	// changes the subject.
	x, _ := p.Subject("agency-ab", "c")
	y, _ := p.Subject("agency-a", "bc")
	if x == y {
		t.Fatal("partner/user boundary is ambiguous")
	}
	for _, n := range []int{0, 31, 65} {
		if _, err := NewPairwise(make([]byte, n)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("secret of %d bytes: %v", n, err)
		}
	}
	if _, err := p.Subject("", "u"); !errors.Is(err, ErrInvalidConsent) {
		t.Errorf("empty partner: %v", err)
	}
	if _, err := p.Subject("a", ""); !errors.Is(err, ErrInvalidConsent) {
		t.Errorf("empty user: %v", err)
	}
}

// With Config.Pairwise, the partner receives the pairwise subject, two
// partners receive different ones, and a consent claiming another subject
// is refused.
func TestDiscloseSetsThePairwiseSubject(t *testing.T) {
	pw, _ := NewPairwise(bytes.Repeat([]byte{9}, 32))
	d, err := New(Config{Signer: ed25519Signer(7), Pairwise: pw})
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]string{}
	for _, partner := range []string{"agency-a", "agency-b"} {
		f := newFixture(t, defaultKEM(), ed25519Signer(7))
		f.d = d
		f.partner.ID = partner
		c := consentFor(partner, vault.AttrGivenName)
		c.Subject = ""
		pkg := f.mustDisclose(c, t0)
		got, err := f.newOpener(f.sk, partner, NewMemoryReplayCache(1)).Open(context.Background(), pkg, testNonce, t0)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := pw.Subject(partner, "user-42")
		if got.Consent.Subject != want {
			t.Fatalf("%s got subject %q, want %q", partner, got.Consent.Subject, want)
		}
		subjects[partner] = want
		c.Subject = want // the caller may also pass the right one
		f.mustDisclose(c, t0)
		c.Subject = "user-42"
		if _, err := f.disclose(c, t0); !errors.Is(err, ErrInvalidConsent) {
			t.Fatalf("a non-pairwise subject: %v, want ErrInvalidConsent", err)
		}
	}
	if subjects["agency-a"] == subjects["agency-b"] {
		t.Fatal("two partners got the same subject")
	}
}
