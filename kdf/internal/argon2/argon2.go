// Package argon2 is piivault's Argon2id engine (RFC 9106, version 0x13).
//
// It computes the same output as golang.org/x/crypto/argon2.IDKey for
// every parameter set, and in addition takes RFC 9106's secret key K and
// associated data X. What differs is where the block matrix lives: in an
// Arena that the caller supplies and may reuse (see Pool), so that a
// server running many derivations does not allocate, fault in and hand to
// the garbage collector a fresh matrix per login.
//
// The arena is never cleared before use: every block of the matrix is
// written (by H' or by the first pass, which overwrites instead of
// XORing) before it is read. After a derivation the used blocks are wiped
// (Pool does it; Key leaves it to the caller).
//
// The compression function G is kdf/internal/blamka's.
package argon2

import (
	"encoding/binary"
	"hash"
	"sync"

	"github.com/piivault/piivault/kdf/internal/blamka"
	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version this package implements (RFC 9106).
const Version = 0x13

// BlockSize is the size of one matrix block in bytes.
const BlockSize = 1024

const (
	syncPoints = 4 // slices per pass
	typeID     = 2 // Argon2id's y in H0 and in the address blocks
)

// Block is one 1 KiB block of the matrix.
type Block = blamka.Block

// Blocks returns m', the number of blocks a derivation with memoryKiB and
// threads uses: memoryKiB rounded down to a multiple of 4*threads, and at
// least 8*threads (as x/crypto does for smaller m). It is never more than
// max(memoryKiB, 8*threads).
func Blocks(memoryKiB uint32, threads uint8) int {
	q := uint64(syncPoints) * uint64(threads)
	m := uint64(memoryKiB) / q * q
	if m < 2*q {
		m = 2 * q
	}
	return int(m)
}

// Key computes Argon2id of password and salt, with secret key K (secret)
// and associated data X (ad), both usually empty, t passes, memoryKiB KiB
// and threads lanes, into out (the tag; its length is the tag length T,
// at least 4 bytes for RFC 9106, any length here as in x/crypto).
// mem must hold at least Blocks(memoryKiB, threads) blocks; only that
// prefix is used, and it is left holding the final matrix: the caller
// wipes it. Lanes run on their own goroutines, synchronised at each slice.
//
// Key panics if t or threads is 0, or mem is too small (programming
// errors: the kdf package checks parameters first).
func Key(mem []Block, out, password, salt, secret, ad []byte, t, memoryKiB uint32, threads uint8) {
	key(mem, out, password, salt, secret, ad, t, memoryKiB, threads, nil)
}

// key is Key; afterPass, if not nil, sees the matrix after each pass (the
// reference implementation's known-answer file prints it; tests compare).
func key(mem []Block, out, password, salt, secret, ad []byte, t, memoryKiB uint32, threads uint8, afterPass func(n uint32, B []Block)) {
	if t < 1 || threads < 1 {
		panic("argon2: t and threads must be positive")
	}
	if len(out) == 0 {
		panic("argon2: empty output")
	}
	nb := Blocks(memoryKiB, threads)
	if len(mem) < nb {
		panic("argon2: arena too small")
	}
	B := mem[:nb:nb]
	h0 := initHash(password, salt, secret, ad, t, memoryKiB, uint32(threads), uint32(len(out)))
	initBlocks(B, &h0, uint32(threads))
	clear(h0[:])
	processBlocks(B, t, uint32(nb), uint32(threads), afterPass)
	extractKey(B, uint32(nb), uint32(threads), out)
}

// initHash computes H0 (RFC 9106 section 3.2, step 1) with 8 spare bytes
// at the end for the block counter and lane of H'.
func initHash(password, salt, key, data []byte, t, memory, threads, keyLen uint32) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)
	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], t)
	binary.LittleEndian.PutUint32(params[16:20], Version)
	binary.LittleEndian.PutUint32(params[20:24], typeID)
	b2.Write(params[:])
	for _, f := range [][]byte{password, salt, key, data} {
		binary.LittleEndian.PutUint32(tmp[:], uint32(len(f)))
		b2.Write(tmp[:])
		b2.Write(f)
	}
	b2.Sum(h0[:0])
	return h0
}

// initBlocks writes B[i][0] and B[i][1] of each lane i from H0 (step 3).
func initBlocks(B []Block, h0 *[blake2b.Size + 8]byte, threads uint32) {
	var buf [BlockSize]byte
	laneLen := uint32(len(B)) / threads
	for lane := uint32(0); lane < threads; lane++ {
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)
		for j := uint32(0); j < 2; j++ {
			binary.LittleEndian.PutUint32(h0[blake2b.Size:], j)
			hPrime(buf[:], h0[:])
			b := &B[lane*laneLen+j]
			for i := range b {
				b[i] = binary.LittleEndian.Uint64(buf[i*8:])
			}
		}
	}
	clear(buf[:])
}

// processBlocks runs the t passes. Lanes of one slice run concurrently
// (lanes-1 goroutines plus the caller's); slices are barriers.
func processBlocks(B []Block, t, memory, threads uint32, afterPass func(uint32, []Block)) {
	if threads == 1 {
		for n := uint32(0); n < t; n++ {
			for slice := uint32(0); slice < syncPoints; slice++ {
				processSegment(B, t, memory, threads, n, slice, 0)
			}
			if afterPass != nil {
				afterPass(n, B)
			}
		}
		return
	}
	var wg sync.WaitGroup
	for n := uint32(0); n < t; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			wg.Add(int(threads) - 1)
			for lane := uint32(1); lane < threads; lane++ {
				go func() {
					defer wg.Done()
					processSegment(B, t, memory, threads, n, slice, lane)
				}()
			}
			processSegment(B, t, memory, threads, n, slice, 0)
			wg.Wait()
		}
		if afterPass != nil {
			afterPass(n, B)
		}
	}
}

// processSegment fills one segment (RFC 9106 section 3.4): lane's blocks
// of slice in pass n.
func processSegment(B []Block, t, memory, threads, n, slice, lane uint32) {
	laneLen := memory / threads
	segLen := laneLen / syncPoints
	dataIndependent := n == 0 && slice < syncPoints/2

	var addresses, in, zero Block
	if dataIndependent {
		in[0] = uint64(n)
		in[1] = uint64(lane)
		in[2] = uint64(slice)
		in[3] = uint64(memory)
		in[4] = uint64(t)
		in[5] = typeID
	}
	index := uint32(0)
	if n == 0 && slice == 0 {
		index = 2 // the first two blocks come from H'
		if dataIndependent {
			nextAddresses(&addresses, &in, &zero)
		}
	}
	offset := lane*laneLen + slice*segLen + index
	for ; index < segLen; index, offset = index+1, offset+1 {
		prev := offset - 1
		if index == 0 && slice == 0 {
			prev += laneLen // the lane's last block
		}
		var rand uint64
		if dataIndependent {
			if index%128 == 0 {
				nextAddresses(&addresses, &in, &zero)
			}
			rand = addresses[index%128]
		} else {
			rand = B[prev][0]
		}
		ref := indexAlpha(rand, laneLen, segLen, threads, n, slice, lane, index)
		if n == 0 {
			// First pass: the block is written, not XORed, so the
			// arena's previous contents never matter.
			blamka.ProcessBlock(&B[offset], &B[prev], &B[ref])
		} else {
			blamka.ProcessBlockXOR(&B[offset], &B[prev], &B[ref])
		}
	}
	clear(addresses[:])
}

// nextAddresses increments the counter of the address generator's input
// block and computes the next 128 pseudo-random values.
func nextAddresses(addresses, in, zero *Block) {
	in[6]++
	blamka.ProcessBlock(addresses, in, zero)
	blamka.ProcessBlock(addresses, addresses, zero)
}

// indexAlpha maps the pseudo-random value to the reference block's index
// in B (RFC 9106 section 3.4.1.2).
func indexAlpha(rand uint64, laneLen, segLen, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segLen, ((slice+1)%syncPoints)*segLen
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segLen, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	x := rand & 0xFFFFFFFF
	x = (x * x) >> 32
	x = (x * uint64(m)) >> 32
	return refLane*laneLen + uint32((uint64(s)+uint64(m)-(x+1))%uint64(laneLen))
}

// extractKey XORs the last block of every lane into the last block of the
// last lane and hashes it with H' into out (RFC 9106 section 3.2, steps
// 7 and 8).
func extractKey(B []Block, memory, threads uint32, out []byte) {
	laneLen := memory / threads
	last := &B[memory-1]
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range &B[lane*laneLen+laneLen-1] {
			last[i] ^= v
		}
	}
	var buf [BlockSize]byte
	for i, v := range last {
		binary.LittleEndian.PutUint64(buf[i*8:], v)
	}
	hPrime(out, buf[:])
	clear(buf[:])
}

// hPrime is the variable-length hash H' (RFC 9106 section 3.3).
func hPrime(out, in []byte) {
	var b2 hash.Hash
	if n := len(out); n < blake2b.Size {
		b2, _ = blake2b.New(n, nil)
	} else {
		b2, _ = blake2b.New512(nil)
	}
	var buf [blake2b.Size]byte
	binary.LittleEndian.PutUint32(buf[:4], uint32(len(out)))
	b2.Write(buf[:4])
	b2.Write(in)
	if len(out) <= blake2b.Size {
		b2.Sum(out[:0])
		return
	}
	outLen := len(out)
	b2.Sum(buf[:0])
	b2.Reset()
	copy(out, buf[:32])
	out = out[32:]
	for len(out) > blake2b.Size {
		b2.Write(buf[:])
		b2.Sum(buf[:0])
		copy(out, buf[:32])
		out = out[32:]
		b2.Reset()
	}
	if outLen%blake2b.Size > 0 {
		r := (outLen+31)/32 - 2
		b2, _ = blake2b.New(outLen-32*r, nil)
	}
	b2.Write(buf[:])
	b2.Sum(out[:0])
	clear(buf[:])
}
