package blamka

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// forEachPath runs f once per implementation this CPU supports, with that
// implementation switched in.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range Paths() {
		t.Run(name, func(t *testing.T) {
			defer UsePath(name)()
			f(t)
		})
	}
}

func randomBlock(r *rand.Rand) *Block {
	var b Block
	for i := range b {
		b[i] = r.Uint64()
	}
	return &b
}

// rfcDump is the Argon2id test vector of RFC 9106 section 5.3 with the
// memory printed after each pass, as written by the reference
// implementation's kat tool (P-H-C/phc-winner-argon2, kats/argon2id;
// CC0 1.0 or Apache 2.0). testdata/argon2id-rfc9106-dump.txt.gz is that
// file gzipped, unmodified (sha256 of the plain file:
// ba05643e504fc5778dda99e2d9f42ebe7d22ebb3923cc719fd591b1b14a8d28d).
type rfcDump struct {
	passes [][]Block // memory after each pass
	tag    []byte
}

func loadRFCDump(t *testing.T) rfcDump {
	t.Helper()
	f, err := os.Open("testdata/argon2id-rfc9106-dump.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var d rfcDump
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "After pass"):
			d.passes = append(d.passes, make([]Block, 32))
		case strings.HasPrefix(line, "Block "):
			// Block 0000 [  0]: 6b2e09f10671bd43
			var blk, word int
			var val string
			if _, err := fmt.Sscanf(strings.ReplaceAll(line, "[ ", "["), "Block %d [%d]: %s", &blk, &word, &val); err != nil {
				line2 := strings.ReplaceAll(strings.ReplaceAll(line, "[", " "), "]", " ")
				if _, err := fmt.Sscanf(line2, "Block %d %d : %s", &blk, &word, &val); err != nil {
					t.Fatalf("cannot parse %q: %v", line, err)
				}
			}
			v, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				t.Fatalf("cannot parse %q: %v", line, err)
			}
			d.passes[len(d.passes)-1][blk][word] = v
		case strings.HasPrefix(line, "Tag:"):
			d.tag, err = hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(line, "Tag:"), " ", ""))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(d.passes) != 3 || len(d.tag) != 32 {
		t.Fatalf("dump parsed to %d passes and a %d-byte tag, want 3 and 32", len(d.passes), len(d.tag))
	}
	return d
}

func rfcParams() refParams {
	return refParams{
		password:  bytes.Repeat([]byte{1}, 32),
		salt:      bytes.Repeat([]byte{2}, 16),
		secret:    bytes.Repeat([]byte{3}, 8),
		data:      bytes.Repeat([]byte{4}, 12),
		memoryKiB: 32, passes: 3, lanes: 4, tagLen: 32,
	}
}

// The RFC 9106 Argon2id vector, checked block by block after every pass
// (so a wrong G shows up at the first block it produces, not only in the
// tag), on every implementation.
func TestRFC9106MemoryAfterEachPassOnEveryPath(t *testing.T) {
	want := loadRFCDump(t)
	forEachPath(t, func(t *testing.T) {
		tag := refArgon2id(rfcParams(), func(pass uint32, mem []Block) {
			for b := range mem {
				if mem[b] != want.passes[pass][b] {
					for w := range mem[b] {
						if mem[b][w] != want.passes[pass][b][w] {
							t.Fatalf("after pass %d block %d word %d = %016x, want %016x",
								pass, b, w, mem[b][w], want.passes[pass][b][w])
						}
					}
				}
			}
		})
		if !bytes.Equal(tag, want.tag) {
			t.Fatalf("tag = %x, want %x", tag, want.tag)
		}
	})
}

// Whole Argon2id derivations through this package's G agree with
// golang.org/x/crypto/argon2 over random parameters, including odd memory
// sizes, several lanes and more than one address block per segment, on
// every implementation.
func TestArgon2idAgreesWithXCryptoOnEveryPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type tc struct {
		pw, salt         []byte
		m, passes, lanes uint32
		tagLen           uint32
	}
	var cases []tc
	n := 24
	if testing.Short() {
		n = 8
	}
	for i := 0; i < n; i++ {
		lanes := 1 + r.Uint32N(4)
		c := tc{
			pw:     make([]byte, r.IntN(80)),
			salt:   make([]byte, 16+r.IntN(49)),
			lanes:  lanes,
			m:      8*lanes + r.Uint32N(600),
			passes: 1 + r.Uint32N(3),
			tagLen: 4 + r.Uint32N(100),
		}
		for j := range c.pw {
			c.pw[j] = byte(r.Uint32())
		}
		for j := range c.salt {
			c.salt[j] = byte(r.Uint32())
		}
		cases = append(cases, c)
	}
	cases = append(cases, tc{pw: []byte("password"), salt: []byte("somesaltsomesalt"), m: 2048, passes: 2, lanes: 1, tagLen: 32})
	forEachPath(t, func(t *testing.T) {
		for _, c := range cases {
			want := argon2.IDKey(c.pw, c.salt, c.passes, c.m, uint8(c.lanes), c.tagLen)
			got := refArgon2id(refParams{password: c.pw, salt: c.salt, memoryKiB: c.m, passes: c.passes, lanes: c.lanes, tagLen: c.tagLen}, nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("m=%d t=%d p=%d taglen=%d: got %x, want %x", c.m, c.passes, c.lanes, c.tagLen, got, want)
			}
		}
	})
}

// Every implementation gives the generic Go result, for both functions, on
// the same random inputs.
func TestEveryPathMatchesGenericOnRandomBlocks(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4)) // the same inputs on every path
		for i := 0; i < 500; i++ {
			in1, in2, out0 := randomBlock(r), randomBlock(r), randomBlock(r)
			var want, wantX Block
			processGeneric(&want, in1, in2, false)
			wantX = *out0
			processGeneric(&wantX, in1, in2, true)
			got := *randomBlock(r) // garbage that must be overwritten
			ProcessBlock(&got, in1, in2)
			if got != want {
				t.Fatalf("input %d: ProcessBlock differs from generic", i)
			}
			gotX := *out0
			ProcessBlockXOR(&gotX, in1, in2)
			if gotX != wantX {
				t.Fatalf("input %d: ProcessBlockXOR differs from generic", i)
			}
		}
	})
}

// ProcessBlockXOR is out XOR ProcessBlock, and ProcessBlock ignores what out
// held before.
func TestProcessBlockXORIsOutXORProcessBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forEachPath(t, func(t *testing.T) {
		in1, in2, out := randomBlock(r), randomBlock(r), randomBlock(r)
		var g, g2 Block
		ProcessBlock(&g, in1, in2)
		g2 = *randomBlock(r)
		ProcessBlock(&g2, in1, in2)
		if g != g2 {
			t.Fatal("ProcessBlock result depends on the previous contents of out")
		}
		x := *out
		ProcessBlockXOR(&x, in1, in2)
		for i := range x {
			if x[i] != out[i]^g[i] {
				t.Fatalf("word %d: ProcessBlockXOR = %016x, want out^G = %016x", i, x[i], out[i]^g[i])
			}
		}
		if g == *in1 || g == (Block{}) {
			t.Fatal("G returned its input or zero")
		}
	})
}

// The aliasing documented in the package comment gives the same result as
// separate blocks, on every path: out = in1, out = in2, in1 = in2, and all
// three the same block.
func TestAliasedBlocksGiveSameResultAsSeparateCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type alias struct {
		name string
		run  func(f func(out, in1, in2 *Block), a, b *Block) Block
		// want computes the expected result from separate copies.
		want func(f func(out, in1, in2 *Block), a, b *Block) Block
	}
	sep := func(f func(out, in1, in2 *Block), out0, in1, in2 Block) Block {
		out := out0
		f(&out, &in1, &in2)
		return out
	}
	cases := []alias{
		{"out=in1", func(f func(out, in1, in2 *Block), a, b *Block) Block { x := *a; f(&x, &x, b); return x },
			func(f func(out, in1, in2 *Block), a, b *Block) Block { return sep(f, *a, *a, *b) }},
		{"out=in2", func(f func(out, in1, in2 *Block), a, b *Block) Block { x := *b; f(&x, a, &x); return x },
			func(f func(out, in1, in2 *Block), a, b *Block) Block { return sep(f, *b, *a, *b) }},
		{"in1=in2", func(f func(out, in1, in2 *Block), a, b *Block) Block { x := *b; f(&x, a, a); return x },
			func(f func(out, in1, in2 *Block), a, b *Block) Block { return sep(f, *b, *a, *a) }},
		{"out=in1=in2", func(f func(out, in1, in2 *Block), a, b *Block) Block { x := *a; f(&x, &x, &x); return x },
			func(f func(out, in1, in2 *Block), a, b *Block) Block { return sep(f, *a, *a, *a) }},
	}
	fns := []struct {
		name string
		f    func(out, in1, in2 *Block)
	}{{"ProcessBlock", ProcessBlock}, {"ProcessBlockXOR", ProcessBlockXOR}}
	forEachPath(t, func(t *testing.T) {
		for _, fn := range fns {
			for _, c := range cases {
				a, b := randomBlock(r), randomBlock(r)
				if got, want := c.run(fn.f, a, b), c.want(fn.f, a, b); got != want {
					t.Errorf("%s with %s differs from separate blocks", fn.name, c.name)
				}
			}
		}
	})
}

// The inputs are not modified (when they are not also out).
func TestInputsAreNotModified(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forEachPath(t, func(t *testing.T) {
		in1, in2 := randomBlock(r), randomBlock(r)
		c1, c2 := *in1, *in2
		var out Block
		ProcessBlock(&out, in1, in2)
		ProcessBlockXOR(&out, in1, in2)
		if *in1 != c1 || *in2 != c2 {
			t.Fatal("an input block was modified")
		}
	})
}

func TestPathsListsGenericLastAndActiveFirst(t *testing.T) {
	ps := Paths()
	if len(ps) == 0 || ps[len(ps)-1] != "generic" {
		t.Fatalf("Paths() = %v, want generic last", ps)
	}
	if Path() != ps[0] {
		t.Fatalf("Path() = %q, want the fastest supported %q", Path(), ps[0])
	}
	defer func() {
		if recover() == nil {
			t.Fatal("UsePath accepted an unknown name")
		}
	}()
	UsePath("no-such-path")
}

func blocksFromBytes(data []byte) (out, in1, in2 Block) {
	var buf [3 * BlockSize]byte
	// Repeat the fuzz input over the three blocks so short inputs still
	// reach every word.
	if len(data) > 0 {
		for i := 0; i < len(buf); i += len(data) {
			copy(buf[i:], data)
		}
	}
	for i := 0; i < 128; i++ {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])
		in1[i] = binary.LittleEndian.Uint64(buf[BlockSize+8*i:])
		in2[i] = binary.LittleEndian.Uint64(buf[2*BlockSize+8*i:])
	}
	return
}

// FuzzPathsAgree feeds the same blocks to every implementation, for both
// functions, and requires identical results.
func FuzzPathsAgree(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Add(bytes.Repeat([]byte{0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 50))
	f.Fuzz(func(t *testing.T, data []byte) {
		out0, in1, in2 := blocksFromBytes(data)
		var want, wantX Block
		processGeneric(&want, &in1, &in2, false)
		wantX = out0
		processGeneric(&wantX, &in1, &in2, true)
		for _, p := range supported() {
			var got Block
			gotX := out0
			switch p {
			case pathAVX512:
				processAVX512(&got, &in1, &in2, false)
				processAVX512(&gotX, &in1, &in2, true)
			case pathAVX2:
				processAVX2(&got, &in1, &in2, false)
				processAVX2(&gotX, &in1, &in2, true)
			default:
				continue
			}
			if got != want || gotX != wantX {
				t.Fatalf("%s differs from generic", p)
			}
		}
	})
}

// BenchmarkProcessBlock times one compression on each path; with -count N
// the paths interleave: compare them with benchstat -col /path.
func BenchmarkProcessBlock(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	in1, in2, out := randomBlock(r), randomBlock(r), randomBlock(r)
	for _, name := range Paths() {
		b.Run("path="+name, func(b *testing.B) {
			defer UsePath(name)()
			b.SetBytes(BlockSize)
			for b.Loop() {
				ProcessBlock(out, in1, in2)
			}
		})
	}
}

func BenchmarkProcessBlockXOR(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	in1, in2, out := randomBlock(r), randomBlock(r), randomBlock(r)
	for _, name := range Paths() {
		b.Run("path="+name, func(b *testing.B) {
			defer UsePath(name)()
			b.SetBytes(BlockSize)
			for b.Loop() {
				ProcessBlockXOR(out, in1, in2)
			}
		})
	}
}
