package blamka

import (
	"encoding/binary"

	"golang.org/x/crypto/blake2b"
)

// This file is a small Argon2id (RFC 9106, version 0x13) written from the
// RFC and the reference implementation's description, used only to drive
// ProcessBlock and ProcessBlockXOR through whole derivations in tests:
// single-threaded, lanes filled in order within each slice (which is
// allowed because no lane reads another lane's current slice).

type refParams struct {
	password, salt, secret, data []byte
	memoryKiB, passes, lanes     uint32
	tagLen                       uint32
}

func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// refHPrime is the variable-length hash H' of RFC 9106 section 3.3.
func refHPrime(out []byte, in []byte) {
	t := uint32(len(out))
	prefixed := append(le32(nil, t), in...)
	if t <= 64 {
		h, _ := blake2b.New(int(t), nil)
		h.Write(prefixed)
		h.Sum(out[:0])
		return
	}
	r := (t+31)/32 - 2
	v := blake2b.Sum512(prefixed)
	copy(out, v[:32])
	pos := uint32(32)
	for i := uint32(2); i <= r; i++ {
		v = blake2b.Sum512(v[:])
		copy(out[pos:], v[:32])
		pos += 32
	}
	h, _ := blake2b.New(int(t-32*r), nil)
	h.Write(v[:])
	h.Sum(out[pos:pos])
}

func blockFromBytes(b *Block, src []byte) {
	for i := range b {
		b[i] = binary.LittleEndian.Uint64(src[8*i:])
	}
}

// refArgon2id derives the tag; afterPass, if not nil, sees the whole memory
// after each pass (lane-major, as the reference implementation prints it).
func refArgon2id(p refParams, afterPass func(pass uint32, mem []Block)) []byte {
	const syncPoints = 4
	h := make([]byte, 0, 256)
	h = le32(h, p.lanes)
	h = le32(h, p.tagLen)
	h = le32(h, p.memoryKiB)
	h = le32(h, p.passes)
	h = le32(h, 0x13)
	h = le32(h, 2) // Argon2id
	for _, s := range [][]byte{p.password, p.salt, p.secret, p.data} {
		h = le32(h, uint32(len(s)))
		h = append(h, s...)
	}
	h0 := blake2b.Sum512(h)

	blocks := p.memoryKiB
	if blocks < 2*syncPoints*p.lanes {
		blocks = 2 * syncPoints * p.lanes
	}
	segLen := blocks / (syncPoints * p.lanes)
	laneLen := segLen * syncPoints
	mem := make([]Block, laneLen*p.lanes)

	var buf [BlockSize]byte
	for l := uint32(0); l < p.lanes; l++ {
		for j := uint32(0); j < 2; j++ {
			in := le32(le32(append([]byte(nil), h0[:]...), j), l)
			refHPrime(buf[:], in)
			blockFromBytes(&mem[l*laneLen+j], buf[:])
		}
	}

	var zero, input, addr Block
	for pass := uint32(0); pass < p.passes; pass++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			for lane := uint32(0); lane < p.lanes; lane++ {
				independent := pass == 0 && slice < syncPoints/2
				if independent {
					input = Block{}
					input[0], input[1], input[2] = uint64(pass), uint64(lane), uint64(slice)
					input[3], input[4], input[5] = uint64(len(mem)), uint64(p.passes), 2
				}
				nextAddresses := func() {
					input[6]++
					ProcessBlock(&addr, &zero, &input)
					ProcessBlock(&addr, &zero, &addr) // out aliases in2, as in the reference
				}
				start := uint32(0)
				if pass == 0 && slice == 0 {
					start = 2
					if independent {
						nextAddresses()
					}
				}
				for i := start; i < segLen; i++ {
					col := slice*segLen + i
					cur := lane*laneLen + col
					prev := cur - 1
					if col == 0 {
						prev = lane*laneLen + laneLen - 1
					}
					var rnd uint64
					if independent {
						if i%128 == 0 {
							nextAddresses()
						}
						rnd = addr[i%128]
					} else {
						rnd = mem[prev][0]
					}
					refLane := uint32(rnd>>32) % p.lanes
					if pass == 0 && slice == 0 {
						refLane = lane
					}
					same := refLane == lane
					var area uint32
					switch {
					case pass == 0 && slice == 0:
						area = i - 1
					case pass == 0 && same:
						area = slice*segLen + i - 1
					case pass == 0:
						area = slice * segLen
						if i == 0 {
							area--
						}
					case same:
						area = laneLen - segLen + i - 1
					default:
						area = laneLen - segLen
						if i == 0 {
							area--
						}
					}
					x := (rnd & 0xffffffff) * (rnd & 0xffffffff) >> 32
					rel := uint64(area) - 1 - (uint64(area) * x >> 32)
					startPos := uint64(0)
					if pass != 0 && slice != syncPoints-1 {
						startPos = uint64(slice+1) * uint64(segLen)
					}
					ref := refLane*laneLen + uint32((startPos+rel)%uint64(laneLen))
					if pass == 0 {
						ProcessBlock(&mem[cur], &mem[prev], &mem[ref])
					} else {
						ProcessBlockXOR(&mem[cur], &mem[prev], &mem[ref])
					}
				}
			}
		}
		if afterPass != nil {
			afterPass(pass, mem)
		}
	}

	final := mem[laneLen-1]
	for l := uint32(1); l < p.lanes; l++ {
		for k, w := range mem[l*laneLen+laneLen-1] {
			final[k] ^= w
		}
	}
	for k, w := range final {
		binary.LittleEndian.PutUint64(buf[8*k:], w)
	}
	tag := make([]byte, p.tagLen)
	refHPrime(tag, buf[:])
	return tag
}
