package vault

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

var pkFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$`)

func TestPersonalKeyStringIsDashedCrockford(t *testing.T) {
	for range 100 {
		pk, err := newPersonalKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		s := pk.String()
		if !pkFormat.MatchString(s) {
			t.Fatalf("%q is not 8 dashed groups of 4 Crockford characters", s)
		}
		back, err := ParsePersonalKey(s)
		if err != nil || !back.Equal(pk) {
			t.Fatalf("ParsePersonalKey(String()) = %v, %v", back, err)
		}
	}
}

// TestPersonalKeyKnownAnswer fixes the bit order: bytes 0x00..0x13 encode
// (MSB first, 5 bits a symbol) as below, the same as RFC 4648 base32 with
// Crockford's alphabet.
func TestPersonalKeyKnownAnswer(t *testing.T) {
	var pk PersonalKey
	for i := range pk.b {
		pk.b[i] = byte(i)
	}
	pk.set = true
	// RFC 4648 base32 of 00 01 02 ... 13 (encoding/base32 agrees),
	// mapped symbol by symbol to Crockford's alphabet.
	rfc := "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT"
	std := "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b strings.Builder
	for i, c := range rfc {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[strings.IndexRune(std, c)])
	}
	if got := pk.String(); got != b.String() {
		t.Fatalf("String() = %s, want %s", got, b.String())
	}
}

func TestParsePersonalKeyNormalizes(t *testing.T) {
	pk, err := newPersonalKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	canon := pk.String()
	bare := strings.ReplaceAll(canon, "-", "")
	variants := []string{
		strings.ToLower(canon),
		bare,
		" " + strings.Join(strings.Split(canon, "-"), " ") + "\n",
		strings.NewReplacer("1", "l", "0", "o").Replace(bare),
		strings.NewReplacer("1", "I", "0", "O").Replace(strings.ToLower(bare)),
		strings.NewReplacer("1", "i", "0", "o").Replace(bare),
	}
	for _, s := range variants {
		got, err := ParsePersonalKey(s)
		if err != nil || !got.Equal(pk) {
			t.Errorf("ParsePersonalKey(%q) = %v, %v; want the key %s", s, got, err, canon)
		}
	}
}

func TestParsePersonalKeyRejectsMalformed(t *testing.T) {
	pk, _ := newPersonalKey(nil)
	bare := strings.ReplaceAll(pk.String(), "-", "")
	for name, s := range map[string]string{
		"empty":              "",
		"one short":          bare[1:],
		"one long":           bare + "0",
		"U is not Crockford": "U" + bare[1:],
		"punctuation":        "*" + bare[1:],
		"non-ASCII":          "é" + bare[2:],
		"huge":               strings.Repeat("-", maxPersonalKeyInput+1),
	} {
		if _, err := ParsePersonalKey(s); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: ParsePersonalKey(%q) err = %v, want ErrInvalidInput", name, s, err)
		}
	}
}

func TestPersonalKeyEqualAndZero(t *testing.T) {
	a, _ := newPersonalKey(nil)
	b, _ := newPersonalKey(nil)
	if a.Equal(b) || !a.Equal(a) {
		t.Fatal("Equal is wrong")
	}
	var z PersonalKey
	if !z.IsZero() || z.String() != "" || z.Equal(a) {
		t.Fatal("zero value is not 'no key'")
	}
	// A key of all-zero bytes is a key, not the zero value.
	allZero, err := ParsePersonalKey(strings.Repeat("0", PersonalKeyChars))
	if err != nil || allZero.IsZero() || allZero.Equal(z) {
		t.Fatal("all-zero key confused with the zero value")
	}
	c := a
	c.Destroy()
	if !c.IsZero() || c.b != [PersonalKeySize]byte{} || a.IsZero() {
		t.Fatal("Destroy did not clear only its copy")
	}
}

func TestPersonalKeyIsRedactedInSlog(t *testing.T) {
	pk, _ := newPersonalKey(nil)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("oops", "pk", pk)
	if strings.Contains(buf.String(), pk.String()[:9]) {
		t.Fatalf("personal key logged: %s", buf.String())
	}
}

func TestDecodeSymbolMatchesTable(t *testing.T) {
	for c := 0; c < 256; c++ {
		v, ok := decodeSymbol(byte(c))
		u := strings.ToUpper(string(rune(c)))
		if c >= 128 {
			u = ""
		}
		want := -1
		switch {
		case u == "I" || u == "L":
			want = 1
		case u == "O":
			want = 0
		case len(u) == 1:
			want = strings.IndexByte(crockford, u[0])
		}
		if (want >= 0) != (ok == 1) || (want >= 0 && int(v) != want) {
			t.Fatalf("decodeSymbol(%#x) = %d, %d; want %d", c, v, ok, want)
		}
	}
	for i := 0; i < 32; i++ {
		if encodeSymbol(byte(i)) != crockford[i] {
			t.Fatalf("encodeSymbol(%d)", i)
		}
	}
}

func FuzzParsePersonalKey(f *testing.F) {
	f.Add("0000-0000-0000-0000-0000-0000-0000-0000")
	f.Add("zzzz zzzz zzzz zzzz zzzz zzzz zzzz zzzz")
	f.Add("ILOO-ilo0-1234-5678-9ABC-DEFG-HJKM-NPQR")
	f.Add("U000-0000-0000-0000-0000-0000-0000-0000")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := ParsePersonalKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		canon := pk.String()
		if !pkFormat.MatchString(canon) {
			t.Fatalf("String() = %q", canon)
		}
		again, err := ParsePersonalKey(canon)
		if err != nil || !again.Equal(pk) || again.String() != canon {
			t.Fatalf("canonical form %q does not round-trip", canon)
		}
	})
}
