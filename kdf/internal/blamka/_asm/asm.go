// Command asm generates ../blamka_amd64.s, the AVX-512 and AVX2
// implementations of the Argon2 compression G, with avo.
//
//	cd kdf/internal/blamka/_asm && go run . -out ../blamka_amd64.s
//
// It lives in its own module so that avo never enters piivault's go.mod.
// CI regenerates the file and fails if it differs from the committed one.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	avx512()
	avx2()
	Generate()
}

// The block is an 8x8 matrix M[r][c] of 16-byte registers (RFC 9106
// section 3.6): M[r][c] holds words 16r+2c and 16r+2c+1. The permutation P
// runs on each row (M[r][0..7]) and then on each column (M[0..7][c]). In P's
// input (v0..v15) the GB steps combine, lane by lane, a=(v0..v3),
// b=(v4..v7), c=(v8..v11), d=(v12..v15), and after rotating b, c and d by
// one, two and three words, the same again ("diagonal step").
//
// AVX-512 keeps the block in 16 zmm registers. The row pass uses a layout
// where each register holds the same quarter (a, b, c or d) of two rows, so
// the diagonal step is one in-lane VPERMQ (or VSHUFI64X2) per register; it
// costs 16 VSHUFI64X2 in and 16 out. The column pass works on the rows as
// loaded (Z[2r], Z[2r+1] = row r): a register of row 0 holds (v0, v1) of
// four columns and one of row 1 holds (v2, v3), so the column step needs no
// data movement at all and the diagonal step is VSHUFPD between the two
// registers of a pair (or a register swap, for c). Every GB step is six
// instructions (VPMULUDQ, three VPADDQ, VPXORQ, VPRORQ). On the Zen 4
// machine this was measured on (512-bit operations double-pumped), the four
// GB layers cost about two thirds of the time and the loads, stores and
// shuffles the rest.
//
// AVX2 has 16 ymm registers. It works on four independent groups at a
// time (four rows in the row pass, where a row is four ymm a, b, c, d as
// loaded; two pairs of columns in the column pass, split into even and odd
// rows, with the same VSHUFPD diagonal step as AVX-512), through a 1 KiB
// stack scratch. A GB step uses either a or c, never both, so the other
// waits in its scratch slot: 12 state registers and 4 temporaries. Four
// groups rather than two hide most of the latency of the GB chain (149 ns
// to 122 ns per block on the Zen 4 test machine). Rotations by 32, 24 and
// 16 are VPSHUFD and VPSHUFB; by 63 an add, a shift and an OR.

// gbStep is the BlaMka step a = a + b + 2*lo32(a)*lo32(b) followed by
// d = (d ^ a) >>> rot, on lists of registers, emitted step by step across
// the lists so that independent groups interleave.
func gbStep(mul, add, xor func(ops ...Op), ror func(rot int, x, tmp VecVirtual), newTmp func() VecVirtual, a, b, d []VecVirtual, rot int) {
	t := make([]VecVirtual, len(a))
	for i := range a {
		t[i] = newTmp()
		mul(b[i], a[i], t[i])
	}
	for i := range a {
		add(b[i], a[i], a[i])
	}
	for i := range a {
		add(t[i], t[i], t[i])
	}
	for i := range a {
		add(t[i], a[i], a[i])
	}
	for i := range a {
		xor(a[i], d[i], d[i])
	}
	for i := range a {
		ror(rot, d[i], t[i])
	}
}

// gb is the function GB of RFC 9106 on lists of (a, b, c, d) vectors.
func gb(mul, add, xor func(ops ...Op), ror func(rot int, x, tmp VecVirtual), newTmp func() VecVirtual, a, b, c, d []VecVirtual) {
	gbStep(mul, add, xor, ror, newTmp, a, b, d, 32)
	gbStep(mul, add, xor, ror, newTmp, c, d, b, 24)
	gbStep(mul, add, xor, ror, newTmp, a, b, d, 16)
	gbStep(mul, add, xor, ror, newTmp, c, d, b, 63)
}

func avx512() {
	TEXT("processAVX512", NOSPLIT, "func(out, in1, in2 *[128]uint64, xor bool)")
	Doc("processAVX512 sets out = G(in1^in2), or out ^= G(in1^in2) when xor is set,",
		"using AVX-512F: the whole block stays in 16 zmm registers.")
	out := Mem{Base: Load(Param("out"), GP64())}
	in1 := Mem{Base: Load(Param("in1"), GP64())}
	in2 := Mem{Base: Load(Param("in2"), GP64())}
	ror := func(rot int, x, _ VecVirtual) { VPRORQ(U8(rot), x, x) }
	newTmp := func() VecVirtual { return ZMM() }

	Comment("Z[j] = in1[8j..8j+7] ^ in2[8j..8j+7]: Z[2r] is M[r][0..3], Z[2r+1] is M[r][4..7].")
	var z [16]VecVirtual
	for j := range z {
		z[j] = ZMM()
		VMOVDQU64(in1.Offset(64*j), z[j])
		VPXORQ(in2.Offset(64*j), z[j], z[j])
	}

	Comment("Row pass on rows 2g and 2g+1 together: A[g] = (a of row 2g, a of row 2g+1), and B, C, D alike.")
	var A, B, C, D [4]VecVirtual
	for g := 0; g < 4; g++ {
		A[g], B[g], C[g], D[g] = ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFI64X2(U8(0x44), z[4*g+2], z[4*g], A[g])
		VSHUFI64X2(U8(0xee), z[4*g+2], z[4*g], B[g])
		VSHUFI64X2(U8(0x44), z[4*g+3], z[4*g+1], C[g])
		VSHUFI64X2(U8(0xee), z[4*g+3], z[4*g+1], D[g])
	}
	gb(VPMULUDQ, VPADDQ, VPXORQ, ror, newTmp, A[:], B[:], C[:], D[:])
	Comment("Diagonalize: rotate b, c, d left by 1, 2, 3 words within each 256-bit half.")
	for g := 0; g < 4; g++ {
		VPERMQ(U8(0x39), B[g], B[g])
		VSHUFI64X2(U8(0xb1), C[g], C[g], C[g])
		VPERMQ(U8(0x93), D[g], D[g])
	}
	gb(VPMULUDQ, VPADDQ, VPXORQ, ror, newTmp, A[:], B[:], C[:], D[:])
	Comment("Undiagonalize.")
	for g := 0; g < 4; g++ {
		VPERMQ(U8(0x93), B[g], B[g])
		VSHUFI64X2(U8(0xb1), C[g], C[g], C[g])
		VPERMQ(U8(0x39), D[g], D[g])
	}
	Comment("Back to rows: Z[2r] = M[r][0..3], Z[2r+1] = M[r][4..7].")
	for g := 0; g < 4; g++ {
		z[4*g], z[4*g+2], z[4*g+1], z[4*g+3] = ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFI64X2(U8(0x44), B[g], A[g], z[4*g])
		VSHUFI64X2(U8(0xee), B[g], A[g], z[4*g+2])
		VSHUFI64X2(U8(0x44), D[g], C[g], z[4*g+1])
		VSHUFI64X2(U8(0xee), D[g], C[g], z[4*g+3])
	}

	Comment("Column pass. For the columns 4h..4h+3 the even rows (0, 2, 4, 6) hold",
		"(v0,v1), (v4,v5), (v8,v9), (v12,v13) of each column and the odd rows",
		"(v2,v3), (v6,v7), (v10,v11), (v14,v15): the column step works on each",
		"group of four rows as it stands.")
	var ea, eb, ec, ed, oa, ob, oc, od []VecVirtual
	for h := 0; h < 2; h++ {
		ea, eb, ec, ed = append(ea, z[h]), append(eb, z[4+h]), append(ec, z[8+h]), append(ed, z[12+h])
		oa, ob, oc, od = append(oa, z[2+h]), append(ob, z[6+h]), append(oc, z[10+h]), append(od, z[14+h])
	}
	gb(VPMULUDQ, VPADDQ, VPXORQ, ror, newTmp, append(ea, oa...), append(eb, ob...), append(ec, oc...), append(ed, od...))
	Comment("Diagonalize: even b = (v5,v6) = (row2.hi, row3.lo), odd b = (v7,v4);",
		"c swaps between the groups; even d = (v15,v12), odd d = (v13,v14).")
	var db, db2, dd, dd2 [2]VecVirtual
	for h := 0; h < 2; h++ {
		db[h], db2[h], dd[h], dd2[h] = ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFPD(U8(0x55), ob[h], eb[h], db[h])  // (row2.hi, row3.lo)
		VSHUFPD(U8(0x55), eb[h], ob[h], db2[h]) // (row3.hi, row2.lo)
		VSHUFPD(U8(0x55), ed[h], od[h], dd[h])  // (row7.hi, row6.lo)
		VSHUFPD(U8(0x55), od[h], ed[h], dd2[h]) // (row6.hi, row7.lo)
	}
	gb(VPMULUDQ, VPADDQ, VPXORQ, ror, newTmp,
		append(append([]VecVirtual{}, ea...), oa...),
		append(db[:], db2[:]...),
		append(append([]VecVirtual{}, oc...), ec...),
		append(dd[:], dd2[:]...))
	Comment("Undiagonalize.")
	for h := 0; h < 2; h++ {
		eb[h], ob[h], ed[h], od[h] = ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFPD(U8(0x55), db[h], db2[h], eb[h]) // row2 = (db2.hi, db.lo)
		VSHUFPD(U8(0x55), db2[h], db[h], ob[h]) // row3 = (db.hi, db2.lo)
		VSHUFPD(U8(0x55), dd2[h], dd[h], ed[h]) // row6 = (dd.hi, dd2.lo)
		VSHUFPD(U8(0x55), dd[h], dd2[h], od[h]) // row7 = (dd2.hi, dd.lo)
		z[4+h], z[6+h], z[12+h], z[14+h] = eb[h], ob[h], ed[h], od[h]
	}

	Comment("out = Z ^ in1 ^ in2, or out ^= Z ^ in1 ^ in2. Each 64-byte piece of",
		"in1, in2 and out is read before that piece of out is written.")
	x := Load(Param("xor"), GP8())
	TESTB(x, x)
	JNZ(LabelRef("xor512"))
	for j := range z {
		t := ZMM()
		VMOVDQU64(in1.Offset(64*j), t)
		VPTERNLOGQ(U8(0x96), in2.Offset(64*j), z[j], t)
		VMOVDQU64(t, out.Offset(64*j))
	}
	VZEROUPPER()
	RET()
	Label("xor512")
	for j := range z {
		t := ZMM()
		VMOVDQU64(in1.Offset(64*j), t)
		VPTERNLOGQ(U8(0x96), in2.Offset(64*j), z[j], t)
		VPXORQ(out.Offset(64*j), t, t)
		VMOVDQU64(t, out.Offset(64*j))
	}
	VZEROUPPER()
	RET()
}

// cell is one ymm of AVX2 state: in a register, or in its home slot of the
// stack scratch, or not loaded yet (src).
type cell struct {
	r    VecVirtual
	home Mem
	src  func(r VecVirtual)
}

// reg returns the cell's register, loading it first if needed.
func (c *cell) reg() VecVirtual {
	if c.r == nil {
		c.r = YMM()
		if c.src != nil {
			c.src(c.r)
			c.src = nil
		} else {
			VMOVDQU(c.home, c.r)
		}
	}
	return c.r
}

// spill moves the cell to its home slot.
func (c *cell) spill() {
	if c.r != nil {
		VMOVDQU(c.r, c.home)
		c.r = nil
	}
}

// gbCells is GB on groups of cells (a, b, c, d), four groups at a time
// with 16 ymm registers: b and d stay in registers, and of a and c only the
// one the current step needs is loaded (the other waits in its home slot).
func gbCells(ror func(rot int, x, tmp VecVirtual), a, b, c, d []*cell) {
	step := func(x, y, z, idle []*cell, rot int) {
		for i := range idle {
			idle[i].spill()
		}
		var xr, yr, zr []VecVirtual
		for i := range x {
			xr, yr, zr = append(xr, x[i].reg()), append(yr, y[i].reg()), append(zr, z[i].reg())
		}
		gbStep(VPMULUDQ, VPADDQ, vpxor, ror, func() VecVirtual { return YMM() }, xr, yr, zr, rot)
	}
	step(a, b, d, c, 32)
	step(c, d, b, a, 24)
	step(a, b, d, c, 16)
	step(c, d, b, a, 63)
}

func avx2() {
	TEXT("processAVX2", 0, "func(out, in1, in2 *[128]uint64, xor bool)")
	Doc("processAVX2 sets out = G(in1^in2), or out ^= G(in1^in2) when xor is set,",
		"using AVX2: four rows (or four half columns) at a time, through a 1 KiB",
		"stack scratch that also holds the a or c quarter a step does not use.")
	out := Mem{Base: Load(Param("out"), GP64())}
	in1 := Mem{Base: Load(Param("in1"), GP64())}
	in2 := Mem{Base: Load(Param("in2"), GP64())}
	q := AllocLocal(1024)

	rot24, rot16 := shuffleMask("rot24", 3), shuffleMask("rot16", 2)
	ror := func(rot int, x, tmp VecVirtual) {
		switch rot {
		case 32:
			VPSHUFD(U8(0xb1), x, x)
		case 24:
			VPSHUFB(rot24, x, x)
		case 16:
			VPSHUFB(rot16, x, x)
		case 63:
			VPADDQ(x, x, tmp)
			VPSRLQ(U8(63), x, x)
			VPOR(tmp, x, x)
		default:
			panic(rot)
		}
	}

	Comment("Row pass, four rows at a time: row r is Y[4r..4r+3] = (a, b, c, d) as loaded.")
	for r := 0; r < 8; r += 4 {
		var a, b, c, d []*cell
		for k := r; k < r+4; k++ {
			var v [4]*cell
			for i := range v {
				off := 128*k + 32*i
				v[i] = &cell{home: q.Offset(off), src: func(x VecVirtual) {
					VMOVDQU(in1.Offset(off), x)
					VPXOR(in2.Offset(off), x, x)
				}}
			}
			a, b, c, d = append(a, v[0]), append(b, v[1]), append(c, v[2]), append(d, v[3])
		}
		gbCells(ror, a, b, c, d)
		for i := range b {
			VPERMQ(U8(0x39), b[i].reg(), b[i].reg())
			VPERMQ(U8(0x4e), c[i].reg(), c[i].reg())
			VPERMQ(U8(0x93), d[i].reg(), d[i].reg())
		}
		gbCells(ror, a, b, c, d)
		for i := range b {
			VPERMQ(U8(0x93), b[i].reg(), b[i].reg())
			VPERMQ(U8(0x4e), c[i].reg(), c[i].reg())
			VPERMQ(U8(0x39), d[i].reg(), d[i].reg())
		}
		for i := range a {
			a[i].spill()
			b[i].spill()
			c[i].spill()
			d[i].spill()
		}
	}

	Comment("Column pass, columns 2k..2k+3 at a time: row r holds Y[4r+k]; even and",
		"odd rows form separate groups, whose b and d meet in the diagonal step.")
	x := Load(Param("xor"), GP8())
	for k0 := 0; k0 < 4; k0 += 2 {
		var ea, eb, ec, ed, oa, ob, oc, od []*cell
		for k := k0; k < k0+2; k++ {
			var y [8]*cell
			for r := range y {
				y[r] = &cell{home: q.Offset(128*r + 32*k)}
			}
			ea, eb, ec, ed = append(ea, y[0]), append(eb, y[2]), append(ec, y[4]), append(ed, y[6])
			oa, ob, oc, od = append(oa, y[1]), append(ob, y[3]), append(oc, y[5]), append(od, y[7])
		}
		cat := func(x, y []*cell) []*cell { return append(append([]*cell{}, x...), y...) }
		gbCells(ror, cat(ea, oa), cat(eb, ob), cat(ec, oc), cat(ed, od))
		var db, db2, dd, dd2 []*cell
		for i := range eb {
			n := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
			VSHUFPD(U8(0x5), ob[i].reg(), eb[i].reg(), n[0])
			VSHUFPD(U8(0x5), eb[i].reg(), ob[i].reg(), n[1])
			VSHUFPD(U8(0x5), ed[i].reg(), od[i].reg(), n[2])
			VSHUFPD(U8(0x5), od[i].reg(), ed[i].reg(), n[3])
			db, db2 = append(db, &cell{r: n[0], home: eb[i].home}), append(db2, &cell{r: n[1], home: ob[i].home})
			dd, dd2 = append(dd, &cell{r: n[2], home: ed[i].home}), append(dd2, &cell{r: n[3], home: od[i].home})
		}
		gbCells(ror, cat(ea, oa), cat(db, db2), cat(oc, ec), cat(dd, dd2))
		for i := range eb {
			n := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
			VSHUFPD(U8(0x5), db[i].reg(), db2[i].reg(), n[0])
			VSHUFPD(U8(0x5), db2[i].reg(), db[i].reg(), n[1])
			VSHUFPD(U8(0x5), dd2[i].reg(), dd[i].reg(), n[2])
			VSHUFPD(U8(0x5), dd[i].reg(), dd2[i].reg(), n[3])
			eb[i].r, ob[i].r, ed[i].r, od[i].r = n[0], n[1], n[2], n[3]
		}
		Comment("Write these columns: out = Q ^ in1 ^ in2 (^ out).")
		for i, k := 0, k0; k < k0+2; i, k = i+1, k+1 {
			y := []*cell{ea[i], oa[i], eb[i], ob[i], ec[i], oc[i], ed[i], od[i]}
			label := fmt.Sprintf("store%d", k)
			for r, c := range y {
				off := 128*r + 32*k
				v := c.reg()
				VPXOR(in1.Offset(off), v, v)
				VPXOR(in2.Offset(off), v, v)
			}
			TESTB(x, x)
			JZ(LabelRef(label))
			for r, c := range y {
				VPXOR(out.Offset(128*r+32*k), c.r, c.r)
			}
			Label(label)
			for r, c := range y {
				VMOVDQU(c.r, out.Offset(128*r+32*k))
				c.r = nil
			}
		}
	}
	VZEROUPPER()
	RET()
}

// vpxor adapts VPXOR to the variadic form of the other instructions.
func vpxor(ops ...Op) { VPXOR(ops[0], ops[1], ops[2]) }

// shuffleMask returns a 32-byte VPSHUFB mask that rotates each 64-bit word
// right by n bytes.
func shuffleMask(name string, n int) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		DATA(i, U8(i&^7|(i+n)&7))
	}
	return m
}
