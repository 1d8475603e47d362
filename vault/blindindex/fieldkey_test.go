package blindindex

import (
	"bytes"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
)

// TestEachFieldHasItsOwnSubkey: fingerprints are made under a subkey per
// field, derived from the key's secret (known answers computed with
// Python from RFC 5869), distinct per field and from the secret itself.
func TestEachFieldHasItsOwnSubkey(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	ssn, err := kr.FieldKeys(FieldSSN)
	if err != nil {
		t.Fatal(err)
	}
	given, _ := kr.FieldKeys(FieldGivenName)
	for _, c := range []struct {
		keys []Key
		want string
	}{
		{ssn, "e60ebb687ea7e1dce029300c594326e8e345b0d6f7552fd442e2c3e1e6ad8359"},
		{given, "887b74abca04344a273755c7dc0aab8e293f279578f25b5756e158c06194e17e"},
	} {
		if len(c.keys) != 1 || c.keys[0].ID != "k1" || hex.EncodeToString(c.keys[0].Secret) != c.want {
			t.Errorf("subkey %s:%x, want k1:%s", c.keys[0].ID, c.keys[0].Secret, c.want)
		}
	}
	if bytes.Equal(ssn[0].Secret, seqKey("k1", 0).Secret) {
		t.Fatal("the ssn subkey is the key itself")
	}
	custom, err := kr.FieldKeys("passport_number")
	if err != nil || bytes.Equal(custom[0].Secret, ssn[0].Secret) {
		t.Fatalf("custom field subkey: %v", err)
	}
}

// TestFieldKeyringIndexesItsFieldOnlyAndKeepsRotating: the subkeys of one
// field, handed to another service, give exactly the full keyring's
// fingerprints for that field under every key id (current first, so
// rotation keeps working there too), and nothing for any other field.
func TestFieldKeyringIndexesItsFieldOnlyAndKeepsRotating(t *testing.T) {
	full := ring(t, seqKey("2026", 100), seqKey("2025", 0))
	keys, err := full.FieldKeys(FieldSSN)
	if err != nil {
		t.Fatal(err)
	}
	only, err := NewFieldKeyring(FieldSSN, keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		clear(k.Secret) // the field keyring keeps its own copies
	}
	want, _ := full.Fingerprints(FieldSSN, "900-12-3456")
	got, err := only.Fingerprints(FieldSSN, "900 12 3456")
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] || got[0].KeyID != "2026" {
		t.Fatalf("field keyring fingerprints %v, %v; want %v", got, err, want)
	}
	if cur, _ := only.Fingerprint(FieldSSN, "900123456"); cur != want[0] {
		t.Fatal("field keyring's current fingerprint differs")
	}
	for _, f := range []Field{FieldGivenName, FieldFamilyName, FieldBirthDate, FieldPhone} {
		if _, err := only.Fingerprint(f, "2001-01-01"); !errors.Is(err, ErrConfig) {
			t.Errorf("ssn-only keyring fingerprinted %s: %v", f, err)
		}
	}
	if _, err := only.FingerprintNormalized("passport_number", "x1"); !errors.Is(err, ErrConfig) {
		t.Errorf("ssn-only keyring fingerprinted another field: %v", err)
	}
	if _, err := only.FieldKeys(FieldGivenName); !errors.Is(err, ErrConfig) {
		t.Errorf("ssn-only keyring gave out another field's keys: %v", err)
	}
	if _, err := NewFieldKeyring("Bad Field", keys[0]); !errors.Is(err, ErrUnknownField) {
		t.Errorf("invalid field name: %v", err)
	}
}

// TestNamesDifferingOnlyByDefaultIgnorablesIndexAlike: zero-width and
// other default-ignorable code points (which render as nothing) are
// stripped, so "Sam<ZWSP>ple" matches "Sample"; visible characters that
// share the format category are kept, and a name made only of ignorables
// is empty.
func TestNamesDifferingOnlyByDefaultIgnorablesIndexAlike(t *testing.T) {
	want, _ := NormalizeName("Sample")
	for _, r := range []rune{
		0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x034F, 0x061C, 0x180E,
		0xFE0F, 0x202E, 0x2066, 0x115F, 0x3164, 0xE0041, 0xE0100, 0x1D173,
	} {
		got, err := NormalizeName("Sam" + string(r) + "ple")
		if err != nil || got != want {
			t.Errorf("U+%04X inside: %q, %v; want %q", r, got, err, want)
		}
		if !isDefaultIgnorable(r) {
			t.Errorf("U+%04X not default-ignorable", r)
		}
	}
	for _, r := range []rune{' ', 'a', 0x0600, 0xFFF9, 0x13430, 0x0301, 0x00A0} {
		if isDefaultIgnorable(r) {
			t.Errorf("U+%04X wrongly default-ignorable", r)
		}
	}
	if _, err := NormalizeName("\u200b\u200d\ufeff"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("name of ignorables only: %v", err)
	}
	kr := ring(t, seqKey("k1", 0))
	a, _ := kr.Fingerprint(FieldFamilyName, "Sam\u200bple")
	b, _ := kr.Fingerprint(FieldFamilyName, "SAMPLE")
	if a != b {
		t.Fatal("zero-width space changes the fingerprint")
	}
}

// TestKeyringCloseDuringFingerprintIsSafe: Close racing Fingerprint never
// hands out a half-cleared key (run under -race in CI): every call gives
// the right fingerprint or ErrConfig.
func TestKeyringCloseDuringFingerprintIsSafe(t *testing.T) {
	kr := ring(t, seqKey("k1", 0))
	want, _ := kr.Fingerprint(FieldSSN, "900123456")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				fp, err := kr.Fingerprint(FieldSSN, "900123456")
				if err == nil && fp != want {
					t.Error("fingerprint under a half-cleared key")
					return
				}
				if err != nil && !errors.Is(err, ErrConfig) {
					t.Error(err)
					return
				}
			}
		}()
	}
	kr.Close()
	wg.Wait()
}
