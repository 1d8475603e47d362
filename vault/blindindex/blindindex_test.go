package blindindex

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func seqKey(id string, start byte) Key {
	s := make([]byte, 32)
	for i := range s {
		s[i] = start + byte(i)
	}
	return Key{ID: id, Secret: s}
}

func ring(t *testing.T, cur Key, old ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(cur, old...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// Expected MACs computed independently with Python's hmac module (HKDF
// written out from RFC 5869 with it) over the input described in the
// package doc, # FORMAT (version 2: a subkey per field).
func TestFingerprintKnownAnswersMatchIndependentHMAC(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	for _, tc := range []struct {
		field Field
		value string
		want  string
	}{
		{FieldSSN, "900-12-3456", "5bc0f013d8b488f422a4af8cf8918301b9991db48a2c003fc0e04ee9e49188a2"},
		{FieldGivenName, "  JANE ", "cb63d1b667833b7443968325379fbc389ea581d3af6fc6a71270cdf0776b2d1c"},
	} {
		fp, err := kr.Fingerprint(tc.field, tc.value)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(fp.MAC[:]); got != tc.want || fp.KeyID != "k1" || fp.Field != tc.field {
			t.Errorf("%s %q: %s, want %s", tc.field, tc.value, got, tc.want)
		}
	}
}

func TestSameValueDifferentFieldsNeverCollide(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	ssn, _ := kr.Fingerprint(FieldSSN, "900123456")
	phone, _ := kr.Fingerprint(FieldPhone, "900123456")
	if ssn.MAC == phone.MAC {
		t.Fatal("ssn and phone fingerprints of the same digits are equal")
	}
	// Length prefixes: moving bytes between field and value changes the MAC.
	a, _ := kr.FingerprintNormalized("ab", "c")
	b, _ := kr.FingerprintNormalized("a", "bc")
	if a.MAC == b.MAC {
		t.Fatal("field/value boundary is ambiguous")
	}
}

func TestEquivalentSpellingsIndexAlike(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	groups := []struct {
		field Field
		vals  []string
	}{
		{FieldSSN, []string{"900-12-3456", "900 12 3456", "900123456"}},
		{FieldFamilyName, []string{"Sample", "SAMPLE", "  sample\t", "ｓａｍｐｌｅ"}},
		{FieldGivenName, []string{"Jane Q.", "jane   q.", "\u00a0Jane\u2003Q. "}},
		{FieldPhone, []string{"+1 (202) 555-0100", "1.202.555.0100", "12025550100"}},
		{FieldBirthDate, []string{"1980-02-29", " 1980-02-29 "}},
	}
	for _, g := range groups {
		first, err := kr.Fingerprint(g.field, g.vals[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range g.vals[1:] {
			fp, err := kr.Fingerprint(g.field, v)
			if err != nil || fp != first {
				t.Errorf("%s: %q and %q index differently (%v)", g.field, g.vals[0], v, err)
			}
		}
	}
	a, _ := kr.Fingerprint(FieldFamilyName, "José")
	b, _ := kr.Fingerprint(FieldFamilyName, "Jose")
	if a == b {
		t.Error("diacritics were dropped; documented as kept")
	}
}

func TestNormalizersRejectInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		field Field
		value string
	}{
		{FieldSSN, "90012345"},
		{FieldSSN, "9001234567"},
		{FieldSSN, "900-12-345X"},
		{FieldSSN, "900/12/3456"},
		{FieldSSN, "９００１２３４５６"}, // full-width digits
		{FieldSSN, ""},
		{FieldPhone, "555-01"},
		{FieldPhone, "1234567890123456"},
		{FieldPhone, "202-555-0100 ext 7"},
		{FieldBirthDate, "1981-02-29"},
		{FieldBirthDate, "02/03/1980"},
		{FieldBirthDate, "1980-2-3"},
		{FieldBirthDate, "1980-02-03T00:00:00Z"},
		{FieldGivenName, "   "},
		{FieldGivenName, "Jane\x00"},
		{FieldGivenName, "\xff"},
		{FieldGivenName, strings.Repeat("a", MaxValueLength+1)},
	} {
		if _, err := Normalize(tc.field, tc.value); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Normalize(%s, %q) = %v, want ErrInvalidValue", tc.field, tc.value, err)
		}
	}
	if _, err := Normalize("favorite_color", "blue"); !errors.Is(err, ErrUnknownField) {
		t.Errorf("unknown field: %v", err)
	}
	kr := ring(t, seqKey("k1", 0))
	if _, err := kr.FingerprintNormalized("Bad-Field", "x"); !errors.Is(err, ErrUnknownField) {
		t.Errorf("bad field name: %v", err)
	}
}

func TestFingerprintsOnePerKeyCurrentFirstForRotation(t *testing.T) {
	old := ring(t, seqKey("2025", 0))
	stored, _ := old.Fingerprint(FieldSSN, "900-12-3456")

	rotated := ring(t, seqKey("2026", 50), seqKey("2025", 0))
	fps, err := rotated.Fingerprints(FieldSSN, "900123456")
	if err != nil {
		t.Fatal(err)
	}
	if len(fps) != 2 || fps[0].KeyID != "2026" || fps[1].KeyID != "2025" {
		t.Fatalf("fingerprints %v, want 2026 then 2025", fps)
	}
	if fps[1] != stored {
		t.Fatal("old-key fingerprint does not match the stored one: duplicate missed during rotation")
	}
	if fps[0].MAC == stored.MAC {
		t.Fatal("new key gives the old fingerprint")
	}
	cur, _ := rotated.Fingerprint(FieldSSN, "900123456")
	if cur != fps[0] {
		t.Fatal("Fingerprint does not use the current key")
	}
}

func TestStringFormIsStableAndDistinct(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	fp, _ := kr.Fingerprint(FieldSSN, "900-12-3456")
	want := "k1:ssn:W8DwE9i0iPQipK-M-JGDAbmZHbSKLAA_wOBO6eSRiKI"
	if fp.String() != want {
		t.Fatalf("String() = %q, want %q", fp.String(), want)
	}
}

func TestKeyringValidatesAndClears(t *testing.T) {
	for _, ks := range [][]Key{
		{{ID: "k:1", Secret: make([]byte, 32)}},
		{{ID: "", Secret: make([]byte, 32)}},
		{{ID: "k", Secret: make([]byte, 16)}},
		{{ID: "k", Secret: make([]byte, 32)}, {ID: "k", Secret: make([]byte, 32)}},
	} {
		if _, err := NewKeyring(ks[0], ks[1:]...); !errors.Is(err, ErrConfig) {
			t.Errorf("NewKeyring(%q) = %v, want ErrConfig", ks[0].ID, err)
		}
	}
	k := seqKey("k1", 0)
	kr := ring(t, k)
	before, _ := kr.Fingerprint(FieldSSN, "900123456")
	clear(k.Secret)
	after, _ := kr.Fingerprint(FieldSSN, "900123456")
	if before != after {
		t.Fatal("keyring shares the caller's secret slice")
	}
	kr.Close()
	if _, err := kr.Fingerprint(FieldSSN, "900123456"); !errors.Is(err, ErrConfig) {
		t.Fatalf("closed keyring: %v, want ErrConfig", err)
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Jane Q. Sample", " ｓａｍｐｌｅ ", "José", "ß", "\u0130"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeName(s)
		if err != nil {
			return
		}
		again, err := NormalizeName(n)
		if err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, n, again, err)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("white space not collapsed: %q", n)
		}
	})
}
