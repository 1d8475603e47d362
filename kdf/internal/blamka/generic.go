package blamka

import "math/bits"

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
	permute(&q)
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

// permute applies the Argon2 permutation P to the eight rows (registers
// 16i..16i+15) and then to the eight columns (registers 2i, 2i+1, 2i+16,
// 2i+17, ..., 2i+113) of q.
func permute(q *Block) {
	for i := 0; i < 128; i += 16 {
		roundP(q, i, i+1, i+2, i+3, i+4, i+5, i+6, i+7,
			i+8, i+9, i+10, i+11, i+12, i+13, i+14, i+15)
	}
	for i := 0; i < 16; i += 2 {
		roundP(q, i, i+1, i+16, i+17, i+32, i+33, i+48, i+49,
			i+64, i+65, i+80, i+81, i+96, i+97, i+112, i+113)
	}
}

// roundP is the permutation P of RFC 9106 section 3.6 on the sixteen words
// of q at the given indices (v0..v15).
func roundP(q *Block, i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11, i12, i13, i14, i15 int) {
	v0, v1, v2, v3 := q[i0], q[i1], q[i2], q[i3]
	v4, v5, v6, v7 := q[i4], q[i5], q[i6], q[i7]
	v8, v9, v10, v11 := q[i8], q[i9], q[i10], q[i11]
	v12, v13, v14, v15 := q[i12], q[i13], q[i14], q[i15]

	v0, v4, v8, v12 = gb(v0, v4, v8, v12)
	v1, v5, v9, v13 = gb(v1, v5, v9, v13)
	v2, v6, v10, v14 = gb(v2, v6, v10, v14)
	v3, v7, v11, v15 = gb(v3, v7, v11, v15)

	v0, v5, v10, v15 = gb(v0, v5, v10, v15)
	v1, v6, v11, v12 = gb(v1, v6, v11, v12)
	v2, v7, v8, v13 = gb(v2, v7, v8, v13)
	v3, v4, v9, v14 = gb(v3, v4, v9, v14)

	q[i0], q[i1], q[i2], q[i3] = v0, v1, v2, v3
	q[i4], q[i5], q[i6], q[i7] = v4, v5, v6, v7
	q[i8], q[i9], q[i10], q[i11] = v8, v9, v10, v11
	q[i12], q[i13], q[i14], q[i15] = v12, v13, v14, v15
}

// fBlaMka is the BlaMka addition x + y + 2*lo32(x)*lo32(y) mod 2^64.
func fBlaMka(x, y uint64) uint64 {
	return x + y + 2*(x&0xffffffff)*(y&0xffffffff)
}

// gb is the function GB of RFC 9106 section 3.6.
func gb(a, b, c, d uint64) (uint64, uint64, uint64, uint64) {
	a = fBlaMka(a, b)
	d = bits.RotateLeft64(d^a, -32)
	c = fBlaMka(c, d)
	b = bits.RotateLeft64(b^c, -24)
	a = fBlaMka(a, b)
	d = bits.RotateLeft64(d^a, -16)
	c = fBlaMka(c, d)
	b = bits.RotateLeft64(b^c, -63)
	return a, b, c, d
}
