// Package blamka implements the Argon2 compression function G of
// RFC 9106 section 3.5: a 1 KiB block is split into an 8x8 matrix of
// 16-byte registers and permuted row-wise then column-wise with the
// BLAKE2b round function whose additions are replaced by the BlaMka
// multiply-add a + b + 2*lo32(a)*lo32(b).
//
// On amd64 the permutation runs in AVX-512 (F and VL) or AVX2 assembly,
// chosen once at start-up with golang.org/x/sys/cpu; every other platform,
// and amd64 built with the purego tag, uses the portable Go code. All paths
// give bit-identical results (tested against each other and against the
// RFC 9106 per-pass memory dump).
//
// Most users won't need this package: it is the inner loop of the Argon2id
// engine in kdf/internal/argon2.
//
// # Aliasing
//
// ProcessBlock and ProcessBlockXOR read all of in1 and in2 before they write
// out, so out may be the same block as in1, in2 or both, and in1 may be the
// same block as in2 (in1 XOR in1 is the zero block). Partially overlapping
// blocks (pointers into the same array less than 1 KiB apart) are not
// supported; Argon2 never produces them.
//
// # Secrets
//
// The blocks hold password-derived state; wiping the arena is the caller's
// job. The functions do not clear their own scratch (vector registers and,
// on the AVX2 and Go paths, 1-2 KiB of goroutine stack): what is left there
// after a call is the input of the latest compression, and reproducing such
// a late block for a password guess costs the whole memory-hard
// computation up to it, so it does not help an attacker test guesses the
// way the cheap early blocks of an unwiped arena would.
package blamka

// BlockSize is the size of an Argon2 memory block in bytes.
const BlockSize = 1024

// Block is one Argon2 memory block: 1024 bytes as 128 little-endian words.
type Block [128]uint64

// ProcessBlock sets out = G(in1 XOR in2), the compression of RFC 9106
// section 3.5 used to fill a block in the first pass (and to generate
// Argon2i/Argon2id reference addresses). Any of out, in1, in2 may be the
// same block (see Aliasing in the package documentation).
func ProcessBlock(out, in1, in2 *Block) {
	process(out, in1, in2, false)
}

// ProcessBlockXOR sets out = out XOR G(in1 XOR in2), the version 0x13 rule
// for passes after the first. Any of out, in1, in2 may be the same block;
// when out is in1 or in2 the old value of out is used both as input and as
// the value XORed into.
func ProcessBlockXOR(out, in1, in2 *Block) {
	process(out, in1, in2, true)
}

// path names one implementation of the permutation.
type path uint8

const (
	pathGeneric path = iota
	pathAVX2
	pathAVX512
)

func (p path) String() string {
	switch p {
	case pathAVX2:
		return "avx2"
	case pathAVX512:
		return "avx512"
	}
	return "generic"
}

// active is the implementation in use; it is set once from the CPU
// features (detect) and changed only by UsePath in tests.
var active = detect()

func process(out, in1, in2 *Block, xor bool) {
	switch active {
	case pathAVX512:
		processAVX512(out, in1, in2, xor)
	case pathAVX2:
		processAVX2(out, in1, in2, xor)
	default:
		processGeneric(out, in1, in2, xor)
	}
}

// Path returns the name of the implementation in use: "avx512", "avx2" or
// "generic".
func Path() string { return active.String() }

// Paths returns the names of the implementations this CPU can run, fastest
// first; "generic" is always last.
func Paths() []string {
	var names []string
	for _, p := range supported() {
		names = append(names, p.String())
	}
	return names
}

// UsePath switches every later call to the implementation named (one of
// Paths) and returns a function that switches back. It exists so that tests
// can run the same inputs through every path; it must not be called while
// another goroutine may be inside ProcessBlock or ProcessBlockXOR. It
// panics on a name this CPU cannot run.
func UsePath(name string) (restore func()) {
	for _, p := range supported() {
		if p.String() == name {
			old := active
			active = p
			return func() { active = old }
		}
	}
	panic("blamka: path " + name + " not available on this CPU")
}
