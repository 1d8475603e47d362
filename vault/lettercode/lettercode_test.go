package lettercode

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

func testKey(id string, fill byte) Key {
	s := make([]byte, 32)
	for i := range s {
		s[i] = fill + byte(i)
	}
	return Key{ID: id, Secret: s}
}

// countingReader yields 0, 1, 2, ... so the issued code is predictable.
type countingReader struct{ n byte }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func newIssuer(t *testing.T, kr *Keyring) *Issuer {
	t.Helper()
	is, err := New(Config{Keys: kr})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func mustKeyring(t *testing.T, cur Key, old ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(cur, old...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// The MAC and the record bytes below were computed independently with
// Python's hmac module (see the package doc, # FORMAT).
func TestIssueKnownAnswerMatchesIndependentHMAC(t *testing.T) {
	kr := mustKeyring(t, testKey("k1", 0))
	is, err := New(Config{Keys: kr, Rand: &countingReader{}})
	if err != nil {
		t.Fatal(err)
	}
	code, rec, err := is.Issue("user-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if code != "01234-56789" {
		t.Fatalf("code = %q, want 01234-56789", code)
	}
	const wantMAC = "020065114a4a38df253435fc41c9560e8d008f1161749007a7e50638602a39bd"
	if got := hex.EncodeToString(rec.MAC[:]); got != wantMAC {
		t.Fatalf("mac = %s, want %s", got, wantMAC)
	}
	const wantRec = "50564c43010a026b3106757365722d3118867251edfa0000188fa7baf53c0000" + wantMAC
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != wantRec {
		t.Fatalf("record = %s, want %s", got, wantRec)
	}
	if err := is.Verify(ctx, "user-1", rec, "0123456789", t0); err != nil {
		t.Fatal(err)
	}
}

func TestIssuedCodesAreTenCrockfordCharactersInTwoGroups(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	seen := map[string]bool{}
	for range 200 {
		code, rec, err := is.Issue("u", t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != 11 || code[5] != '-' || rec.Length != 10 {
			t.Fatalf("code %q not ABCDE-FGHJK shaped", code)
		}
		for _, c := range strings.ReplaceAll(code, "-", "") {
			if !strings.ContainsRune(Alphabet, c) {
				t.Fatalf("code %q has %q outside the alphabet", code, c)
			}
		}
		if seen[code] {
			t.Fatalf("code %q issued twice in 200 draws of 50 bits", code)
		}
		seen[code] = true
	}
}

func TestExpiryBoundaryLastNanosecondValidBoundaryExpired(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	code, rec, err := is.Issue("u", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.ExpiresAt.Equal(t0.Add(30 * 24 * time.Hour)) {
		t.Fatalf("expires %v, want issue + 30 days", rec.ExpiresAt)
	}
	for _, tc := range []struct {
		at   time.Time
		want error
	}{
		{t0, nil},
		{t0.Add(29 * 24 * time.Hour), nil},
		{rec.ExpiresAt.Add(-time.Nanosecond), nil},
		{rec.ExpiresAt, ErrExpired},
		{rec.ExpiresAt.Add(time.Nanosecond), ErrExpired},
		{t0.Add(31 * 24 * time.Hour), ErrExpired},
	} {
		if err := is.Verify(ctx, "u", rec, code, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("at issue+%v: err = %v, want %v", tc.at.Sub(t0), err, tc.want)
		}
	}
}

func TestValidityIsConfigurable(t *testing.T) {
	is, err := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), Validity: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	code, rec, _ := is.Issue("u", t0)
	if err := is.Verify(ctx, "u", rec, code, t0.Add(10*24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("10-day code on day 10: %v, want ErrExpired", err)
	}
	for _, bad := range []Config{
		{Keys: mustKeyring(t, testKey("k1", 0)), Length: 7},
		{Keys: mustKeyring(t, testKey("k1", 0)), Length: 33},
		{Keys: mustKeyring(t, testKey("k1", 0)), Validity: -time.Second},
		{Keys: mustKeyring(t, testKey("k1", 0)), Validity: MaxValidity + 1},
		{Keys: mustKeyring(t, testKey("k1", 0)), MaxAttempts: MaxAttemptsLimit + 1},
		{},
	} {
		if _, err := New(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", bad, err)
		}
	}
}

func TestNormalizationTable(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"ABCDE-FGHJK", "ABCDEFGHJK", nil},
		{"abcde-fghjk", "ABCDEFGHJK", nil},
		{"abcde fghjk", "ABCDEFGHJK", nil},
		{" ab-cd e-fg hj k ", "ABCDEFGHJK", nil},
		{"IiLlOo0123", "1111000123", nil},
		{"0O1IL-AAAAA", "00111AAAAA", nil},
		{"ABCDEFGHJK", "ABCDEFGHJK", nil},
		{"ABCDE-FGHJU", "", ErrMalformed},  // U is not Crockford
		{"ABCDE_FGHJK", "", ErrMalformed},  // underscore
		{"ABCDE-FGHJ", "", ErrMalformed},   // too short
		{"ABCDE-FGHJKM", "", ErrMalformed}, // too long
		{"ABCDE\tFGHJK", "", ErrMalformed}, // tab is not a separator
		{"ABCDÉ-FGHJK", "", ErrMalformed},  // non-ASCII
		{"", "", ErrMalformed},             // empty
		{"----------", "", ErrMalformed},   // separators only
		{strings.Repeat("A", 200), "", ErrMalformed},
	} {
		got, err := Normalize(tc.in, 10)
		if !errors.Is(err, tc.err) || string(got) != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestVerifyAcceptsTypedVariantsOfTheCode(t *testing.T) {
	is, _ := New(Config{Keys: mustKeyring(t, testKey("k1", 0)), Rand: bytes.NewReader([]byte{1, 18, 0, 1, 2, 3, 4, 5, 6, 7})})
	code, rec, err := is.Issue("u", t0)
	if err != nil {
		t.Fatal(err)
	}
	if code != "1J012-34567" {
		t.Fatalf("code %q", code)
	}
	for _, typed := range []string{"1J012-34567", "1j012 34567", "lJOl234567", "ij o12-3456 7"} {
		if err := is.Verify(ctx, "u", rec, typed, t0); err != nil {
			t.Errorf("Verify(%q) = %v, want nil", typed, err)
		}
	}
}

func TestAttemptLimitFivePerSlidingTenMinutes(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	code, rec, _ := is.Issue("u", t0)
	// Five wrong tries, one minute apart.
	for i := range 5 {
		if err := is.Verify(ctx, "u", rec, "00000-00000", t0.Add(time.Duration(i)*time.Minute)); !errors.Is(err, ErrMismatch) {
			t.Fatalf("try %d: %v, want ErrMismatch", i, err)
		}
	}
	// The sixth, even with the right code, is refused without examining it.
	at := t0.Add(9*time.Minute + 59*time.Second)
	if err := is.Verify(ctx, "u", rec, code, at); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("6th try: %v, want ErrTooManyAttempts", err)
	}
	if n := recordAttempts(t, is, rec); n != 5 {
		t.Fatalf("refused try was counted: %d", n)
	}
	// Just before the first try ages out: still refused.
	if err := is.Verify(ctx, "u", rec, code, t0.Add(10*time.Minute-time.Nanosecond)); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("at 10min-1ns: %v, want ErrTooManyAttempts", err)
	}
	// Exactly ten minutes after the first try, one slot is free again.
	if err := is.Verify(ctx, "u", rec, code, t0.Add(10*time.Minute)); err != nil {
		t.Fatalf("at 10min: %v, want success", err)
	}
	// ...but only one: the window slid, it did not reset.
	if err := is.Verify(ctx, "u", rec, code, t0.Add(10*time.Minute+time.Second)); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("second try after slide: %v, want ErrTooManyAttempts", err)
	}
	// After a full quiet window the state holds only the new attempt.
	is.Verify(ctx, "u", rec, "00000-00000", t0.Add(time.Hour))
	if n := recordAttempts(t, is, rec); n != 1 {
		t.Fatalf("after an hour count = %d, want 1", n)
	}
}

// recordAttempts returns the attempts the issuer's MemoryStore holds for rec.
func recordAttempts(t *testing.T, is *Issuer, rec Record) int {
	t.Helper()
	return storedAttempts(t, is, recordKey(&rec))
}

func storedAttempts(t *testing.T, is *Issuer, key string) int {
	t.Helper()
	b, err := is.attempts.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		return 0
	}
	st, err := ParseAttempts(b)
	if err != nil {
		t.Fatal(err)
	}
	return st.Count()
}
func TestMalformedAndExpiredInputIsNotCounted(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	_, rec, _ := is.Issue("u", t0)
	for range 10 {
		is.Verify(ctx, "u", rec, "not a code!", t0)
		is.Verify(ctx, "u", rec, "00000-00000", rec.ExpiresAt)
		is.Verify(ctx, "u", rec, "00000-00000", rec.IssuedAt.Add(-time.Nanosecond))
		is.Verify(ctx, "someone-else", rec, "00000-00000", t0)
	}
	if n := recordAttempts(t, is, rec); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
}
func TestClockGoingBackwardsKeepsStateOrderedAndCounted(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	_, rec, _ := is.Issue("u", t0)
	is.Verify(ctx, "u", rec, "00000-00000", t0.Add(time.Hour))
	is.Verify(ctx, "u", rec, "00000-00000", t0.Add(time.Minute))
	if n := recordAttempts(t, is, rec); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
}
func TestOldKeyStillVerifiesAfterRotation(t *testing.T) {
	old := mustKeyring(t, testKey("2026-01", 0))
	code, rec, _ := newIssuer(t, old).Issue("u", t0)

	rotated := mustKeyring(t, testKey("2026-02", 100), testKey("2026-01", 0))
	is := newIssuer(t, rotated)
	if err := is.Verify(ctx, "u", rec, code, t0.Add(time.Hour)); err != nil {
		t.Fatalf("old-key record after rotation: %v", err)
	}
	_, rec2, _ := is.Issue("u", t0)
	if rec2.KeyID != "2026-02" {
		t.Fatalf("new code under %q, want the current key 2026-02", rec2.KeyID)
	}
	// Once the old key is dropped, its records are ErrUnknownKey.
	dropped := newIssuer(t, mustKeyring(t, testKey("2026-02", 100)))
	if err := dropped.Verify(ctx, "u", rec, code, t0); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("dropped key: %v, want ErrUnknownKey", err)
	}
}

func TestSameKeyIDDifferentSecretDoesNotVerify(t *testing.T) {
	code, rec, _ := newIssuer(t, mustKeyring(t, testKey("k", 0))).Issue("u", t0)
	other := newIssuer(t, mustKeyring(t, testKey("k", 1)))
	if err := other.Verify(ctx, "u", rec, code, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("%v, want ErrMismatch", err)
	}
}

func TestStoredBytesNeverContainTheCode(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	for range 100 {
		code, rec, _ := is.Issue("user-1", t0)
		b, err := rec.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		raw := strings.ReplaceAll(code, "-", "")
		for _, form := range []string{code, raw, strings.ToLower(raw)} {
			if bytes.Contains(b, []byte(form)) {
				t.Fatalf("record bytes contain the code %q", form)
			}
		}
		is.Verify(ctx, "user-1", rec, code, t0)
		ms := is.attempts.(*MemoryStore)
		for k, v := range ms.m {
			if strings.Contains(k, raw) || bytes.Contains(v, []byte(raw)) {
				t.Fatal("attempt store contains the code")
			}
		}
	}
}

func TestRecordEditedInStorageVerifiesNothing(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0), testKey("k0", 9)))
	code, rec, _ := is.Issue("user-1", t0)
	later := rec
	later.ExpiresAt = rec.ExpiresAt.Add(365 * 24 * time.Hour)
	if err := is.Verify(ctx, "user-1", later, code, t0.Add(31*24*time.Hour)); !errors.Is(err, ErrMismatch) {
		t.Fatalf("extended expiry: %v, want ErrMismatch", err)
	}
	if err := is.Verify(ctx, "user-2", rec, code, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other subject: %v, want ErrMismatch", err)
	}
	moved := rec
	moved.KeyID = "k0"
	if err := is.Verify(ctx, "user-1", moved, code, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("relabelled key id: %v, want ErrMismatch", err)
	}
}

func TestRecordEncodingRoundTripsAndRejectsEveryTruncation(t *testing.T) {
	is := newIssuer(t, mustKeyring(t, testKey("k1", 0)))
	_, rec, _ := is.Issue("user-1", t0)
	b, _ := rec.MarshalBinary()
	got, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || got.KeyID != rec.KeyID || !got.ExpiresAt.Equal(rec.ExpiresAt) || got.MAC != rec.MAC {
		t.Fatal("record did not round-trip")
	}
	for n := range len(b) {
		if _, err := ParseRecord(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncation to %d bytes: %v", n, err)
		}
	}
	if _, err := ParseRecord(append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	for _, mut := range []func([]byte){
		func(b []byte) { b[0] ^= 1 },                            // magic
		func(b []byte) { b[4] = 2 },                             // version
		func(b []byte) { b[5] = 7 },                             // code length below MinLength
		func(b []byte) { b[7] = ' ' },                           // key id with a space
		func(b []byte) { copy(b[len(b)-40:], make([]byte, 8)) }, // expiry before issue
	} {
		c := bytes.Clone(b)
		mut(c)
		if _, err := ParseRecord(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("mutated record accepted: %x", c)
		}
	}
}

func TestAttemptsEncodingIsStrict(t *testing.T) {
	for _, bad := range []string{
		"", "PVLA", "PVLA\x01", "PVLA\x02\x00", "XVLA\x01\x00", "PVLA\x01\x01",
		"PVLA\x01\x00\x00",
		"PVLA\x01\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01", // out of order
	} {
		if _, err := ParseAttempts([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAttempts(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	a, err := ParseAttempts([]byte("PVLA\x01\x00"))
	if err != nil || a.Count() != 0 {
		t.Fatalf("empty state: %v", err)
	}
}

func TestKeyringRejectsBadKeys(t *testing.T) {
	for _, tc := range [][]Key{
		{{ID: "", Secret: make([]byte, 32)}},
		{{ID: "a b", Secret: make([]byte, 32)}},
		{{ID: "k", Secret: make([]byte, 31)}},
		{{ID: "k", Secret: make([]byte, 32)}, {ID: "k", Secret: make([]byte, 32)}},
		{{ID: strings.Repeat("k", MaxKeyIDLength+1), Secret: make([]byte, 32)}},
	} {
		if _, err := NewKeyring(tc[0], tc[1:]...); !errors.Is(err, ErrConfig) {
			t.Errorf("NewKeyring(%q...) = %v, want ErrConfig", tc[0].ID, err)
		}
	}
}

func TestKeyringCopiesAndClearsSecrets(t *testing.T) {
	k := testKey("k1", 0)
	kr := mustKeyring(t, k)
	code, rec, _ := newIssuer(t, kr).Issue("u", t0)
	clear(k.Secret) // caller clears its copy: the ring still works
	is := newIssuer(t, kr)
	if err := is.Verify(ctx, "u", rec, code, t0); err != nil {
		t.Fatalf("after caller cleared its secret: %v", err)
	}
	kr.Close()
	if err := is.Verify(ctx, "u", rec, code, t0); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after Close: %v, want ErrUnknownKey", err)
	}
}

func FuzzParseRecord(f *testing.F) {
	b, _ := hex.DecodeString("50564c43010a026b3106757365722d3118867251edfa0000188fa7baf53c0000020065114a4a38df253435fc41c9560e8d008f1161749007a7e50638602a39bd")
	f.Add(b)
	f.Add([]byte("PVLC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse/marshal not canonical: %x -> %x (%v)", b, out, err)
		}
	})
}

func FuzzParseAttempts(f *testing.F) {
	f.Add([]byte("PVLA\x01\x00"))
	f.Add([]byte("PVLA\x01\x01\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttempts(b)
		if err != nil {
			return
		}
		out, err := a.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse/marshal not canonical: %x -> %x (%v)", b, out, err)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	f.Add("ABCDE-FGHJK")
	f.Add("il o0 -")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Normalize(s, 10)
		if err != nil {
			return
		}
		if len(out) != 10 {
			t.Fatalf("len %d", len(out))
		}
		for _, c := range out {
			if strings.IndexByte(Alphabet, c) < 0 {
				t.Fatalf("%q outside alphabet", c)
			}
		}
	})
}
