package blamka

//go:generate go run gen_generic.go -out generic_permute.go

// processGeneric is the portable implementation of G. It copies in1 XOR in2
// into a stack scratch block R, permutes a second copy Q, and writes
// R XOR Q (XORed into out when xor is set). Every read of in1 and in2
// happens before the first write to out.
func processGeneric(out, in1, in2 *Block, xor bool) {
	var r, q Block
	for i := range r {
		r[i] = in1[i] ^ in2[i]
	}
	q = r
	permute(&q) // generic_permute.go
	if xor {
		for i := range out {
			out[i] ^= r[i] ^ q[i]
		}
	} else {
		for i := range out {
			out[i] = r[i] ^ q[i]
		}
	}
}
