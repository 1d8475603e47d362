package kdf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

var canonicalParams = []struct {
	text string
	bin  string // hex
	p    Params
}{
	{"$argon2id$v=19$m=65536,t=3,p=4", "0113000100000000000304", Params{Algorithm: Argon2id, MemoryKiB: 65536, Passes: 3, Threads: 4}},
	{"$argon2id$v=19$m=19456,t=2,p=1", "011300004c000000000201", Params{Algorithm: Argon2id, MemoryKiB: 19456, Passes: 2, Threads: 1}},
	{"$argon2id$v=19$m=8,t=1,p=1", "0113000000080000000101", Params{Algorithm: Argon2id, MemoryKiB: 8, Passes: 1, Threads: 1}},
	{"$argon2id$v=19$m=4294967295,t=4294967295,p=255", "0113ffffffffffffffffff", Params{Algorithm: Argon2id, MemoryKiB: math.MaxUint32, Passes: math.MaxUint32, Threads: 255}},
	{"$scrypt$ln=17,r=8,p=1", "02110000000800000001", Params{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 1}},
	{"$scrypt$ln=16,r=8,p=1", "02100000000800000001", Params{Algorithm: Scrypt, LogN: 16, BlockSize: 8, Parallelism: 1}},
	{"$scrypt$ln=1,r=1,p=1", "02010000000100000001", Params{Algorithm: Scrypt, LogN: 1, BlockSize: 1, Parallelism: 1}},
	{"$scrypt$ln=62,r=1,p=1073741823", "023e000000013fffffff", Params{Algorithm: Scrypt, LogN: 62, BlockSize: 1, Parallelism: 1<<30 - 1}},
	{"$pbkdf2-sha256$i=600000", "03000927c0", Params{Algorithm: PBKDF2SHA256, Iterations: 600000}},
	{"$pbkdf2-sha256$i=1", "0300000001", Params{Algorithm: PBKDF2SHA256, Iterations: 1}},
}

func TestParamsEncodingsAreCanonicalAndMatchFORMAT(t *testing.T) {
	for _, c := range canonicalParams {
		p, err := ParseParams(c.text)
		if err != nil {
			t.Fatalf("ParseParams(%q): %v", c.text, err)
		}
		if p != c.p {
			t.Errorf("ParseParams(%q) = %+v, want %+v", c.text, p, c.p)
		}
		if got := p.String(); got != c.text {
			t.Errorf("String() = %q, want %q", got, c.text)
		}
		bin, err := p.AppendBinary([]byte("prefix"))
		if err != nil {
			t.Fatalf("AppendBinary(%q): %v", c.text, err)
		}
		if !bytes.HasPrefix(bin, []byte("prefix")) || hex.EncodeToString(bin[6:]) != c.bin {
			t.Errorf("AppendBinary(%q) = %x, want prefix || %s", c.text, bin, c.bin)
		}
		q, err := ParseBinary(bin[6:])
		if err != nil || q != c.p {
			t.Errorf("ParseBinary(%s) = %+v, %v; want %+v", c.bin, q, err, c.p)
		}
		var u Params
		if err := u.UnmarshalText([]byte(c.text)); err != nil || u != c.p {
			t.Errorf("UnmarshalText(%q) = %+v, %v", c.text, u, err)
		}
		if err := u.UnmarshalBinary(bin[6:]); err != nil || u != c.p {
			t.Errorf("UnmarshalBinary(%s) = %+v, %v", c.bin, u, err)
		}
	}
}

func TestParseParamsRejectsNonCanonicalText(t *testing.T) {
	cases := []struct {
		in   string
		want paramError
	}{
		{"", errUnknownAlgorithm},
		{"argon2id$v=19$m=65536,t=3,p=4", errUnknownAlgorithm},
		{"$argon2i$v=19$m=65536,t=3,p=4", errUnknownAlgorithm},
		{"$argon2d$v=19$m=65536,t=3,p=4", errUnknownAlgorithm},
		{"$ARGON2ID$v=19$m=65536,t=3,p=4", errUnknownAlgorithm},
		{"$argon2id$m=65536,t=3,p=4", errTextUnexpectedKey},     // version missing
		{"$argon2id$v=16$m=65536,t=3,p=4", errArgon2Version},    // Argon2 1.0
		{"$argon2id$v=019$m=65536,t=3,p=4", errTextLeadingZero}, // leading zero
		{"$argon2id$v=19$m=065536,t=3,p=4", errTextLeadingZero}, // leading zero
		{"$argon2id$v=19$m=65536,t=03,p=4", errTextLeadingZero}, // leading zero
		{"$argon2id$v=19$m=65536,t=3,p=00", errTextLeadingZero}, // leading zero
		{"$argon2id$v=19$m=+65536,t=3,p=4", errTextSyntax},      // sign
		{"$argon2id$v=19$m=-1,t=3,p=4", errTextSyntax},          // sign
		{"$argon2id$v=19$m=,t=3,p=4", errTextSyntax},            // empty number
		{"$argon2id$v=19$m=65536,m=65536,t=3,p=4", errTextDuplicateKey},
		{"$argon2id$v=19$m=65536,t=3,t=3,p=4", errTextDuplicateKey},
		{"$argon2id$v=19$t=3,m=65536,p=4", errTextUnexpectedKey},     // reordered
		{"$argon2id$v=19$m=65536,t=3,p=4,x=1", errTextUnexpectedKey}, // unknown key
		{"$argon2id$v=19$m=65536,x=1,t=3,p=4", errTextUnexpectedKey},
		{"$argon2id$v=19$m=65536,t=3", errTextSyntax},      // p missing
		{"$argon2id$v=19$m=65536,t=3,", errTextMissingKey}, // p missing
		{"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ", errTextTrailing},
		{"$argon2id$v=19$m=65536,t=3,p=4 ", errTextTrailing},
		{"$argon2id$v=19$m=65536,t=3,p=4\n", errTextTrailing},
		{"$argon2id$v=19$m=65536,t=3,p=4\x00", errTextTrailing},
		{"$argon2id$v=19$m=4294967296,t=3,p=4", errTextRange}, // > uint32
		{"$argon2id$v=19$m=65536,t=4294967296,p=4", errTextRange},
		{"$argon2id$v=19$m=65536,t=3,p=256", errTextRange}, // > uint8
		{"$argon2id$v=19$m=99999999999999999999999,t=3,p=4", errTextRange},
		{"$argon2id$v=19$m=31,t=3,p=4", errArgon2Memory}, // m < 8p
		{"$argon2id$v=19$m=65536,t=0,p=4", errArgon2Passes},
		{"$argon2id$v=19$m=65536,t=3,p=0", errArgon2Threads},
		{"$scrypt$ln=0,r=8,p=1", errScryptLogN},
		{"$scrypt$ln=63,r=8,p=1", errScryptLogN},
		{"$scrypt$ln=17,r=0,p=1", errScryptR},
		{"$scrypt$ln=17,r=8,p=0", errScryptP},
		{"$scrypt$ln=17,r=1024,p=1048576", errScryptRP}, // r*p = 2^30
		{"$scrypt$ln=17,p=1,r=8", errTextUnexpectedKey},
		{"$scrypt$n=131072,r=8,p=1", errTextUnexpectedKey},
		{"$scrypt$ln=17,r=8,p=1,ln=17", errTextUnexpectedKey},
		{"$pbkdf2-sha256$i=0", errPBKDF2Iterations},
		{"$pbkdf2-sha256$i=0600000", errTextLeadingZero},
		{"$pbkdf2-sha256$rounds=600000", errTextUnexpectedKey},
		{"$pbkdf2-sha256$i=600000$", errTextTrailing},
		{"$pbkdf2-sha512$i=600000", errUnknownAlgorithm},
		{"$pbkdf2-sha256$i=" + strings.Repeat("1", 60), errTextTooLong},
	}
	for _, c := range cases {
		p, err := ParseParams(c.in)
		if !errors.Is(err, ErrMalformedParams) {
			t.Errorf("ParseParams(%q) = %+v, %v; want ErrMalformedParams", c.in, p, err)
			continue
		}
		if err != error(c.want) {
			t.Errorf("ParseParams(%q): %v; want reason %v", c.in, err, c.want)
		}
		if p != (Params{}) {
			t.Errorf("ParseParams(%q) returned non-zero Params %+v with an error", c.in, p)
		}
		var u = Params{Algorithm: PBKDF2SHA256, Iterations: 7}
		if u.UnmarshalText([]byte(c.in)) == nil || u.Iterations != 7 {
			t.Errorf("UnmarshalText(%q) changed its receiver or succeeded", c.in)
		}
	}
}

func TestParseBinaryRejectsNonCanonicalBytes(t *testing.T) {
	cases := []struct {
		hex  string
		want paramError
	}{
		{"", errBinaryLength},
		{"00", errUnknownAlgorithm},
		{"04000927c0", errUnknownAlgorithm},
		{"ff", errUnknownAlgorithm},
		{"01", errBinaryLength},
		{"01130001000000000003", errBinaryLength},     // one short
		{"011300010000000000030400", errBinaryLength}, // one long
		{"0110000100000000000304", errArgon2Version},  // v=16
		{"0113000100000000000000", errArgon2Threads},  // p=0
		{"0113000100000000000004", errArgon2Passes},   // t=0
		{"0113000000070000000101", errArgon2Memory},   // m=7 < 8
		{"021100000008000000", errBinaryLength},       // short
		{"0211000000080000000100", errBinaryLength},   // long
		{"02000000000800000001", errScryptLogN},       // ln=0
		{"023f0000000800000001", errScryptLogN},       // ln=63
		{"02110000000000000001", errScryptR},          // r=0
		{"02110000000800000000", errScryptP},          // p=0
		{"02110000040000100000", errScryptRP},         // r*p = 2^30
		{"03000927", errBinaryLength},                 // short
		{"03000927c000", errBinaryLength},             // long
		{"0300000000", errPBKDF2Iterations},           // i=0
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		p, err := ParseBinary(b)
		if !errors.Is(err, ErrMalformedParams) || err != error(c.want) {
			t.Errorf("ParseBinary(%s) = %+v, %v; want %v", c.hex, p, err, c.want)
		}
	}
}

func TestInvalidParamsHaveNoEncoding(t *testing.T) {
	for _, p := range []Params{
		{},
		{Algorithm: 9, Iterations: 1},
		{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1, Iterations: 1}, // stray field
		{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 1, Threads: 1},
		{Algorithm: PBKDF2SHA256, Iterations: 1, LogN: 1},
		{Algorithm: Argon2id, MemoryKiB: 7, Passes: 1, Threads: 1},
	} {
		if b, err := p.AppendBinary([]byte("x")); !errors.Is(err, ErrMalformedParams) || string(b) != "x" {
			t.Errorf("AppendBinary(%+v) = %q, %v", p, b, err)
		}
		if _, err := p.MarshalText(); !errors.Is(err, ErrMalformedParams) {
			t.Errorf("MarshalText(%+v): %v", p, err)
		}
		s := p.String()
		if _, err := ParseParams(s); err == nil || !strings.HasPrefix(s, "!invalid(") {
			t.Errorf("String(%+v) = %q parses or lacks the invalid marker", p, s)
		}
	}
}

func TestMemoryBytes(t *testing.T) {
	cases := []struct {
		p    Params
		want int64
	}{
		{Params{Algorithm: Argon2id, MemoryKiB: 65536, Passes: 3, Threads: 4}, 64 << 20},
		{Params{Algorithm: Argon2id, MemoryKiB: math.MaxUint32, Passes: 1, Threads: 1}, math.MaxUint32 * 1024},
		{Params{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 1}, 128 * 8 * (1<<17 + 1 + 2)},
		{Params{Algorithm: Scrypt, LogN: 62, BlockSize: math.MaxUint32, Parallelism: 1}, math.MaxInt64}, // saturates
		{Params{Algorithm: Scrypt, LogN: 200, BlockSize: 1, Parallelism: 1}, math.MaxInt64},             // invalid, no panic
		{Params{Algorithm: PBKDF2SHA256, Iterations: 600000}, 0},
	}
	for _, c := range cases {
		if got := c.p.MemoryBytes(); got != c.want {
			t.Errorf("MemoryBytes(%+v) = %d, want %d", c.p, got, c.want)
		}
	}
}

// TestMemoryBytesCoversWhatTheKDFAllocates: the bytes a derivation
// reserves from the budget cover what the KDF actually allocates (Go heap,
// measured with runtime.MemStats), up to small per-call buffers; otherwise
// "the budget is never exceeded" would not hold.
func TestMemoryBytesCoversWhatTheKDFAllocates(t *testing.T) {
	d := newTestDeriver(t, Config{})
	const slack = 64 << 10
	for _, p := range []Params{
		{Algorithm: Argon2id, MemoryKiB: 4096, Passes: 1, Threads: 1},
		{Algorithm: Argon2id, MemoryKiB: 4096, Passes: 1, Threads: 4},
		{Algorithm: Scrypt, LogN: 12, BlockSize: 8, Parallelism: 2},
		{Algorithm: PBKDF2SHA256, Iterations: 10},
	} {
		out := make([]byte, 32)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := d.run([]byte("pw"), testSalt, p, out); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := int64(after.TotalAlloc - before.TotalAlloc); got > p.MemoryBytes()+slack {
			t.Errorf("%v allocated %d bytes, reserves %d", p, got, p.MemoryBytes())
		}
	}
}

// TestParseRefusesLongInputBeforeCopying: a huge string is refused without
// copying it.
func TestParseRefusesLongInputBeforeCopying(t *testing.T) {
	huge := "$argon2id$v=19$m=65536,t=3,p=4" + strings.Repeat(" ", 1<<20)
	var err error
	allocs := testing.AllocsPerRun(10, func() { _, err = ParseParams(huge) })
	if !errors.Is(err, ErrMalformedParams) || allocs != 0 {
		t.Errorf("ParseParams(1 MiB): %v, %.0f allocations", err, allocs)
	}
}

// TestBinaryBitFlipsNeverKeepParams: flipping any bit of a valid binary
// encoding either fails to parse or yields different Params that
// re-encode to the flipped bytes: no two spellings share a meaning.
func TestBinaryBitFlipsNeverKeepParams(t *testing.T) {
	for _, c := range canonicalParams {
		orig, _ := c.p.AppendBinary(nil)
		for i := range len(orig) * 8 {
			b := bytes.Clone(orig)
			b[i/8] ^= 1 << (i % 8)
			q, err := ParseBinary(b)
			if err != nil {
				continue
			}
			if q == c.p {
				t.Errorf("%x and %x both parse to %v", orig, b, q)
			}
			if re, _ := q.AppendBinary(nil); !bytes.Equal(re, b) {
				t.Errorf("%x parses to %v which encodes as %x", b, q, re)
			}
		}
	}
}
