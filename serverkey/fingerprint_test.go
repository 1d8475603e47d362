package serverkey_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/serverkey"
)

func TestNormalizeEmail(t *testing.T) {
	ok := map[string]string{
		"jane@example.com":             "jane@example.com",
		"  jane@Example.COM \t\n":      "jane@example.com",
		"jane@example.com.":            "jane@example.com",
		"Jane@example.com":             "Jane@example.com",       // local part case kept
		"j.ane+news@example.com":       "j.ane+news@example.com", // dots and tags kept
		"jos\u0065\u0301@example.com":  "jos\u00e9@example.com",  // NFC
		"jane@B\u00dcCHER.example":     "jane@b\u00fccher.example",
		"jane@xn--bcher-kva.example":   "jane@xn--bcher-kva.example", // punycode is not decoded
		`"jane doe"@example.com`:       "",                           // space inside: refused
		"a@b.c":                        "a@b.c",
		"user@\uff45xample.com":        "user@example.com", // NFKC on the domain (fullwidth e)
		"first\"@\"last@example.com":   "first\"@\"last@example.com",
		"ｊａｎｅ@example.com":             "ｊａｎｅ@example.com", // local part not NFKC'd
		"jane@EXAMPLE.com":             "jane@example.com",
		"jane@exa\u0130mple.com":       "jane@exai\u0307mple.com", // full case folding of dotted capital I
		"jane@sub.Example.Org":         "jane@sub.example.org",
		"\u00a0jane@example.com\u00a0": "jane@example.com", // Unicode spaces trimmed
	}
	for in, want := range ok {
		got, err := serverkey.NormalizeEmail(in)
		if want == "" {
			require.ErrorIs(t, err, serverkey.ErrInvalidValue, "%q", in)
			continue
		}
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, got, "%q", in)
		again, err := serverkey.NormalizeEmail(got)
		require.NoError(t, err)
		require.Equal(t, got, again, "idempotent on %q", in)
	}
	for _, in := range []string{
		"", "jane", "@example.com", "jane@", "jane@localhost", "jane@example..com", "jane@.example.com",
		"ja ne@example.com", "jane@exam\x00ple.com", "jane@example.com\x01", "\xff@example.com",
		string(make([]byte, 65)) + "@example.com", "a@" + string(make([]byte, 400)),
	} {
		_, err := serverkey.NormalizeEmail(in)
		require.ErrorIs(t, err, serverkey.ErrInvalidValue, "%q", in)
	}
}

func TestNormalizePhone(t *testing.T) {
	type c struct{ in, cc, want string }
	for _, tc := range []c{
		{"+1 202 555 0100", "1", "+12025550100"},
		{"(202) 555-0100", "1", "+12025550100"},
		{"202.555.0100", "1", "+12025550100"},
		{"1-202-555-0100", "1", "+12025550100"},
		{"  +44 20 7946 0958 ", "1", "+442079460958"},
		{"020 7946 0958", "44", "+442079460958"},
		{"01 23 45 67 89", "33", "+33123456789"},
		{"06 12 34 56 78", "33", "+33612345678"},
		{"06 1234 5678", "39", "+390612345678"}, // Italy keeps its 0
		{"+683 4002", "1", "+6834002"},          // 7 digits: Niue
		{"555-0100", "1", ""},                   // NANP needs 10 digits
		{"123 555 0100", "1", ""},               // NANP area code starts 2-9
		{"0033 1 23 45 67 89", "1", ""},         // international prefix not read
		{"+1 202 555 0100 x12", "1", ""},
		{"+0 123 456 789", "1", ""},
		{"+1234567890123456", "1", ""},
		{"+123456", "1", ""},
		{"", "1", ""},
		{"+", "1", ""},
		{"202/555/0100", "1", ""},
	} {
		got, err := serverkey.NormalizePhone(tc.in, tc.cc)
		if tc.want == "" {
			require.ErrorIs(t, err, serverkey.ErrInvalidValue, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
		again, err := serverkey.NormalizePhone(got, "1")
		require.NoError(t, err)
		require.Equal(t, got, again, "E.164 output normalizes to itself")
	}
	_, err := serverkey.NormalizePhone("2025550100", "0")
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
}

func TestFingerprintsMatchAcrossSpellingsAndNotAcrossKinds(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "fp1"))
	a, err := kr.Fingerprint(t.Context(), serverkey.KindEmail, " jane@EXAMPLE.com")
	require.NoError(t, err)
	b, err := kr.Fingerprint(t.Context(), serverkey.KindEmail, "jane@example.com")
	require.NoError(t, err)
	require.True(t, a.Equal(b))
	require.Equal(t, a.String(), b.String())
	c, err := kr.Fingerprint(t.Context(), serverkey.KindEmail, "Jane@example.com")
	require.NoError(t, err)
	require.False(t, a.Equal(c), "local part case is not folded")

	p1, err := kr.Fingerprint(t.Context(), serverkey.KindPhone, "(202) 555-0100")
	require.NoError(t, err)
	p2, err := kr.Fingerprint(t.Context(), serverkey.KindPhone, "+1 202 555 0100")
	require.NoError(t, err)
	require.True(t, p1.Equal(p2))
	// The same bytes under another kind give another fingerprint.
	n1, err := kr.FingerprintNormalized(t.Context(), "backup_code", "+12025550100")
	require.NoError(t, err)
	require.False(t, n1.Equal(p1))
	_, err = kr.FingerprintNormalized(t.Context(), "Bad Kind", "x")
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
	_, err = kr.Fingerprint(t.Context(), "ssn", "900-12-3456")
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
}

func TestLookupsKeepWorkingDuringFingerprintKeyRotation(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "fp-2026-01"), genKey(t, kms, "fp-2026-07")
	before := newRing(t, kms, k1)
	stored, err := before.Fingerprint(t.Context(), serverkey.KindEmail, "jane@example.com")
	require.NoError(t, err)
	index := map[string]string{stored.String(): jane} // the operator's look-up column

	during := newRing(t, kms, k2, k1)
	fps, err := during.Fingerprints(t.Context(), serverkey.KindEmail, "jane@EXAMPLE.com ")
	require.NoError(t, err)
	require.Len(t, fps, 2)
	require.Equal(t, "fp-2026-07", fps[0].KeyID)
	found := ""
	for _, fp := range fps {
		if uid, ok := index[fp.String()]; ok {
			found = uid
		}
	}
	require.Equal(t, jane, found, "found under the older key")
	ok, err := during.Verify(t.Context(), stored, serverkey.KindEmail, "jane@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = during.Verify(t.Context(), stored, serverkey.KindEmail, "john@example.com")
	require.NoError(t, err)
	require.False(t, ok)

	after := newRing(t, kms, k2)
	_, err = after.Verify(t.Context(), stored, serverkey.KindEmail, "jane@example.com")
	require.ErrorIs(t, err, serverkey.ErrUnknownKey)
	cur, err := after.Fingerprint(t.Context(), serverkey.KindEmail, "jane@example.com")
	require.NoError(t, err)
	require.True(t, cur.Equal(fps[0]), "the current fingerprint is the same in every process")
}

func TestParseFingerprintRoundTripsAndIsStrict(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	fp, err := kr.Fingerprint(t.Context(), serverkey.KindEmail, "a@example.com")
	require.NoError(t, err)
	back, err := serverkey.ParseFingerprint(fp.String())
	require.NoError(t, err)
	require.True(t, back.Equal(fp))
	s := fp.String()
	for _, bad := range []string{"", s[:len(s)-1], s + "A", "k1" + s[2:len(s)-1] + "=", ":" + s[3:], "k 1" + s[2:]} {
		_, err := serverkey.ParseFingerprint(bad)
		require.ErrorIs(t, err, serverkey.ErrMalformed, "%q", bad)
	}
}
