package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

var pkFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$`)

func TestPersonalKeyRevealIsDashedCrockford(t *testing.T) {
	for range 100 {
		pk, err := newPersonalKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		s := pk.Reveal()
		if !pkFormat.MatchString(s) {
			t.Fatalf("%q is not 8 dashed groups of 4 Crockford characters", s)
		}
		back, err := ParsePersonalKey(s)
		if err != nil || !back.Equal(pk) {
			t.Fatalf("ParsePersonalKey(Reveal()) = %v, %v", back, err)
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
	if got := pk.Reveal(); got != b.String() {
		t.Fatalf("Reveal() = %s, want %s", got, b.String())
	}
}

func TestParsePersonalKeyNormalizes(t *testing.T) {
	pk, err := newPersonalKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	canon := pk.Reveal()
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
	bare := strings.ReplaceAll(pk.Reveal(), "-", "")
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
	if !z.IsZero() || z.Reveal() != "" || z.Equal(a) {
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
	if strings.Contains(buf.String(), pk.Reveal()[:9]) {
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
		canon := pk.Reveal()
		if !pkFormat.MatchString(canon) {
			t.Fatalf("Reveal() = %q", canon)
		}
		again, err := ParsePersonalKey(canon)
		if err != nil || !again.Equal(pk) || again.Reveal() != canon {
			t.Fatalf("canonical form %q does not round-trip", canon)
		}
	})
}

// TestPersonalKeyNeverPrintsItself: String, GoString, every fmt verb and
// flag, errors wrapping it, and slog print a placeholder; only Reveal and
// AppendReveal give the characters.
func TestPersonalKeyNeverPrintsItself(t *testing.T) {
	pk, _ := newPersonalKey(nil)
	canon := pk.Reveal()
	if !pkFormat.MatchString(canon) {
		t.Fatalf("Reveal() = %q", canon)
	}
	bare := strings.ReplaceAll(canon, "-", "")
	hexKey := fmt.Sprintf("%x", pk.b[:])
	type wrapper struct{ K PersonalKey }
	outs := []string{
		pk.String(), pk.GoString(),
		fmt.Sprint(pk), fmt.Sprintln(pk), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%10s|%-v", pk, pk, pk, pk, pk, pk, pk, pk, pk, pk),
		fmt.Sprintf("%v %+v %#v", wrapper{pk}, &wrapper{pk}, []PersonalKey{pk}),
		fmt.Errorf("recovering with %v: %w", pk, ErrInvalidInput).Error(),
	}
	for _, out := range outs {
		if strings.Contains(out, canon[:9]) || strings.Contains(out, bare[:8]) || strings.Contains(strings.ToLower(out), hexKey[:8]) {
			t.Fatalf("personal key printed: %s", out)
		}
		if !strings.Contains(out, "redacted") {
			t.Fatalf("no placeholder in %q", out)
		}
	}
	if got := string(pk.AppendReveal([]byte("key: "))); got != "key: "+canon {
		t.Fatalf("AppendReveal = %q", got)
	}
	var z PersonalKey
	if z.Reveal() != "" || len(z.AppendReveal(nil)) != 0 || z.String() != "[no personal key]" || fmt.Sprint(z) != "[no personal key]" {
		t.Fatalf("zero value prints %q / reveals %q", z.String(), z.Reveal())
	}
}

// TestParsePersonalKeyBytesMatchesStringAndLeavesInputAlone: the []byte
// parser accepts exactly what the string parser does, gives the same key,
// and neither modifies nor keeps the caller's buffer (which the caller
// then clears).
func TestParsePersonalKeyBytesMatchesStringAndLeavesInputAlone(t *testing.T) {
	pk, _ := newPersonalKey(nil)
	for _, in := range []string{pk.Reveal(), strings.ToLower(pk.Reveal()), "", "U" + pk.Reveal()[1:], strings.Repeat("-", maxPersonalKeyInput+1)} {
		buf := []byte(in)
		fromBytes, errB := ParsePersonalKeyBytes(buf)
		fromString, errS := ParsePersonalKey(in)
		if (errB == nil) != (errS == nil) || !fromBytes.Equal(fromString) {
			t.Fatalf("%q: bytes %v, string %v", in, errB, errS)
		}
		if errB != nil && !errors.Is(errB, ErrInvalidInput) {
			t.Fatalf("%q: %v does not wrap ErrInvalidInput", in, errB)
		}
		if string(buf) != in {
			t.Fatalf("ParsePersonalKeyBytes modified its input")
		}
		clear(buf)
		if errB == nil && !fromBytes.Equal(pk) {
			t.Fatal("clearing the input changed the parsed key")
		}
	}
}

// TestEveryRandomByteReachesThePersonalKey: an enrolled personal key is
// 20 bytes taken as they are from the vault's Rand (so a key built from
// fewer random bytes, such as an 80-bit one padded or repeated to 20, is
// caught), and flipping one bit in any one of the 20 bytes makes it open
// nothing (so every byte reaches the recovery key). Over many keys, every
// byte position varies.
func TestEveryRandomByteReachesThePersonalKey(t *testing.T) {
	ctx := context.Background()
	rr := &recordingReader{}
	v, _ := newTestVault(t, testPolicy(t), func(c *Config) { c.Rand = rr })
	account, pk, err := v.Enroll(ctx, "user-entropy", pw1)
	if err != nil {
		t.Fatal(err)
	}
	rr.mu.Lock()
	drawn := bytes.Clone(rr.out)
	rr.mu.Unlock()
	if !bytes.Contains(drawn, pk.b[:]) {
		t.Fatal("the personal key's 20 bytes are not 20 consecutive bytes read from Rand")
	}
	if err := opensWithPK(t, "user-entropy", account, pk); err != nil {
		t.Fatalf("the key itself does not open: %v", err)
	}
	for i := range PersonalKeySize {
		for _, bit := range []byte{0x01, 0x80} {
			k := pk
			k.b[i] ^= bit
			if err := opensWithPK(t, "user-entropy", account, k); err == nil {
				t.Fatalf("key with byte %d bit %#x flipped still opens the account", i, bit)
			}
		}
	}
	// Across 64 fresh keys every position takes more than one value (a
	// constant byte would survive this with probability 2^-504 at most).
	var first [PersonalKeySize]byte
	varies := make([]bool, PersonalKeySize)
	for n := range 64 {
		k, err := newPersonalKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range PersonalKeySize {
			if n == 0 {
				first[i] = k.b[i]
			} else if k.b[i] != first[i] {
				varies[i] = true
			}
		}
	}
	for i, ok := range varies {
		if !ok {
			t.Errorf("byte %d of the personal key never varies", i)
		}
	}
}

// TestNewPersonalKeyUsesExactlyTheBytesItReads: newPersonalKey reads
// exactly PersonalKeySize bytes and uses them all.
func TestNewPersonalKeyUsesExactlyTheBytesItReads(t *testing.T) {
	src := make([]byte, PersonalKeySize+1)
	for i := range src {
		src[i] = byte(0xa0 + i)
	}
	r := bytes.NewReader(src)
	pk, err := newPersonalKey(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pk.b[:], src[:PersonalKeySize]) || r.Len() != 1 {
		t.Fatalf("key %x from %x, %d bytes left unread", pk.b, src, r.Len())
	}
	if _, err := newPersonalKey(bytes.NewReader(src[:PersonalKeySize-1])); err == nil {
		t.Fatal("a short read gave a key")
	}
}
