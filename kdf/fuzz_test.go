package kdf

import (
	"bytes"
	"errors"
	"testing"
)

func addParamSeeds(f *testing.F, text bool) {
	for _, c := range canonicalParams {
		if text {
			f.Add([]byte(c.text))
		} else {
			b, _ := c.p.AppendBinary(nil)
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "$", "$argon2id$", "$argon2id$v=19$m=065536,t=3,p=4", "$argon2id$v=19$m=65536,m=1,t=3,p=4",
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ", "$scrypt$ln=63,r=8,p=1", "$pbkdf2-sha256$i=0",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255",
	} {
		f.Add([]byte(s)) // for the binary parser, arbitrary bytes
	}
}

// checkParsed asserts what every successful parse must satisfy: the result
// is valid, both encodings round-trip to it, and Check and NeedsUpgrade do
// not panic under the shipped policies and report only the documented
// sentinels.
func checkParsed(t *testing.T, p Params) {
	if err := p.validate(); err != nil {
		t.Fatalf("parsed params %+v are invalid: %v", p, err)
	}
	txt, err := p.MarshalText()
	if err != nil {
		t.Fatalf("MarshalText(%+v): %v", p, err)
	}
	if q, err := ParseParams(string(txt)); err != nil || q != p {
		t.Fatalf("text round trip %q: %+v, %v", txt, q, err)
	}
	bin, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatalf("AppendBinary(%+v): %v", p, err)
	}
	if q, err := ParseBinary(bin); err != nil || q != p {
		t.Fatalf("binary round trip %x: %+v, %v", bin, q, err)
	}
	for _, pol := range []Policy{DefaultPolicy(), FIPSPolicy()} {
		err := pol.Check(p)
		if err != nil && !errors.Is(err, ErrParamsNotAllowed) && !errors.Is(err, ErrParamsTooCostly) {
			t.Fatalf("Check(%+v) of parsed params: %v", p, err)
		}
		_ = pol.NeedsUpgrade(p)
	}
}

// FuzzParseParams: any text that parses is the canonical encoding of its
// result (encode(parse(s)) == s), and anything that fails, fails with
// ErrMalformedParams.
func FuzzParseParams(f *testing.F) {
	addParamSeeds(f, true)
	f.Fuzz(func(t *testing.T, s []byte) {
		p, err := ParseParams(string(s))
		if err != nil {
			if !errors.Is(err, ErrMalformedParams) || p != (Params{}) {
				t.Fatalf("ParseParams(%q) = %+v, %v", s, p, err)
			}
			return
		}
		if got := p.String(); got != string(s) {
			t.Fatalf("ParseParams(%q).String() = %q: not canonical", s, got)
		}
		checkParsed(t, p)
	})
}

// FuzzParseBinary: any bytes that parse are the canonical encoding of the
// result (AppendBinary(ParseBinary(b)) == b), and failures are
// ErrMalformedParams.
func FuzzParseBinary(f *testing.F) {
	addParamSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseBinary(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedParams) || p != (Params{}) {
				t.Fatalf("ParseBinary(%x) = %+v, %v", b, p, err)
			}
			return
		}
		got, err := p.AppendBinary(nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("ParseBinary(%x) re-encodes to %x, %v: not canonical", b, got, err)
		}
		checkParsed(t, p)
	})
}

// FuzzPolicyCheck: for arbitrary field values, Check never panics, returns
// nil or exactly one sentinel, and a Params it admits is encodable and
// within the caps.
func FuzzPolicyCheck(f *testing.F) {
	f.Add(uint8(1), uint32(65536), uint32(3), uint8(4), uint8(0), uint32(0), uint32(0), uint32(0))
	f.Add(uint8(2), uint32(0), uint32(0), uint8(0), uint8(16), uint32(8), uint32(1), uint32(0))
	f.Add(uint8(3), uint32(0), uint32(0), uint8(0), uint8(0), uint32(0), uint32(0), uint32(600000))
	f.Add(uint8(1), uint32(1<<32-1), uint32(1<<32-1), uint8(255), uint8(0), uint32(0), uint32(0), uint32(0))
	f.Add(uint8(2), uint32(0), uint32(0), uint8(0), uint8(62), uint32(1<<32-1), uint32(1<<32-1), uint32(0))
	f.Fuzz(func(t *testing.T, alg uint8, m, tt uint32, th, ln uint8, r, sp, it uint32) {
		p := Params{Algorithm: Algorithm(alg), MemoryKiB: m, Passes: tt, Threads: th, LogN: ln, BlockSize: r, Parallelism: sp, Iterations: it}
		for _, pol := range []Policy{DefaultPolicy(), FIPSPolicy()} {
			err := pol.Check(p)
			n := 0
			for _, s := range []error{ErrMalformedParams, ErrParamsNotAllowed, ErrParamsTooCostly} {
				if errors.Is(err, s) {
					n++
				}
			}
			if (err == nil) != (n == 0) || n > 1 {
				t.Fatalf("Check(%+v) = %v", p, err)
			}
			_ = pol.NeedsUpgrade(p)
			if err != nil {
				continue
			}
			if _, err := p.MarshalText(); err != nil {
				t.Fatalf("admitted %+v has no text encoding: %v", p, err)
			}
			c := pol.Caps
			if p.MemoryKiB > c.MaxMemoryKiB || p.Passes > c.MaxPasses || p.Threads > c.MaxThreads ||
				p.Parallelism > c.MaxScryptP || p.Iterations > c.MaxPBKDF2Iterations ||
				(p.Algorithm == Scrypt && (uint64(1)<<p.LogN)*uint64(p.BlockSize) > c.MaxScryptNR) {
				t.Fatalf("admitted %+v is over the caps", p)
			}
		}
	})
}
