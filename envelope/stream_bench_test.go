package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

const benchStreamSize = 64 << 20

// BenchmarkStream seals and opens 64 MiB three ways, side by side in one
// run: this package's stream (64 KiB and 1 MiB chunks), raw AES-256-GCM
// from crypto/cipher over the same chunk sizes (one key, an index nonce,
// no framing, chunks already in memory: the floor; raw-gcm-read also reads
// each chunk from an io.Reader first), and tink-go's streaming AEAD
// AES256_GCM_HKDF_1MB. Each reports wall time and the thread's CPU time
// (cpu-ns/op, steadier on a shared machine). Compare with benchstat:
//
//	go test -run '^$' -bench BenchmarkStream -benchtime 4x -count 8 ./envelope | tee s.txt
//	benchstat -col /impl -row /op,/chunk -filter '.unit:cpu-ns/op' s.txt
func BenchmarkStream(b *testing.B) {
	fipstest.Skip(b, fipstest.CallerGCMNonce) // raw GCM and tink
	pt, k, tsa, ad := newStreamBench(b)
	for _, chunk := range []int{64 << 10, 1 << 20} {
		var sealed bytes.Buffer
		w, _ := k.NewStreamWriter(&sealed, bindPII, chunk)
		w.Write(pt)
		w.Close()
		raw := rawGCMChunks(pt, chunk)
		b.Run(fmt.Sprintf("op=seal/chunk=%dKiB/impl=envelope", chunk>>10), func(b *testing.B) {
			b.SetBytes(benchStreamSize)
			loopCPU(b, func() error {
				w, err := k.NewStreamWriter(io.Discard, bindPII, chunk)
				if err != nil {
					return err
				}
				if _, err := w.Write(pt); err != nil {
					return err
				}
				return w.Close()
			})
		})
		b.Run(fmt.Sprintf("op=seal/chunk=%dKiB/impl=raw-gcm", chunk>>10), func(b *testing.B) {
			b.SetBytes(benchStreamSize)
			g := rawGCM()
			out := make([]byte, 0, chunk+gcmTagSize)
			var nonce [gcmNonceSize]byte
			loopCPU(b, func() error {
				for i := 0; i < len(pt); i += chunk {
					binary.BigEndian.PutUint64(nonce[4:], uint64(i/chunk))
					io.Discard.Write(g.Seal(out[:0], nonce[:], pt[i:i+chunk], nil))
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("op=open/chunk=%dKiB/impl=envelope", chunk>>10), func(b *testing.B) {
			b.SetBytes(benchStreamSize)
			loopCPU(b, func() error {
				r, err := k.NewStreamReader(bytes.NewReader(sealed.Bytes()), bindPII)
				if err != nil {
					return err
				}
				if n, err := r.WriteTo(io.Discard); err != nil || n != benchStreamSize {
					return fmt.Errorf("%d bytes: %v", n, err)
				}
				return nil
			})
		})
		// raw-gcm-read is raw-gcm that first reads each chunk from an
		// io.Reader into its buffer (and opens it in place): the floor
		// for any decrypter that takes an io.Reader, as a stream reader
		// must.
		rawStream := bytes.Join(raw, nil)
		b.Run(fmt.Sprintf("op=open/chunk=%dKiB/impl=raw-gcm-read", chunk>>10), func(b *testing.B) {
			b.SetBytes(benchStreamSize)
			g := rawGCM()
			buf := make([]byte, chunk+gcmTagSize)
			var nonce [gcmNonceSize]byte
			loopCPU(b, func() error {
				src := bytes.NewReader(rawStream)
				for i := range raw {
					if _, err := io.ReadFull(src, buf); err != nil {
						return err
					}
					binary.BigEndian.PutUint64(nonce[4:], uint64(i))
					p, err := g.Open(buf[:0], nonce[:], buf, nil)
					if err != nil {
						return err
					}
					io.Discard.Write(p)
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("op=open/chunk=%dKiB/impl=raw-gcm", chunk>>10), func(b *testing.B) {
			b.SetBytes(benchStreamSize)
			g := rawGCM()
			out := make([]byte, chunk)
			var nonce [gcmNonceSize]byte
			loopCPU(b, func() error {
				for i, c := range raw {
					binary.BigEndian.PutUint64(nonce[4:], uint64(i))
					p, err := g.Open(out[:0], nonce[:], c, nil)
					if err != nil {
						return err
					}
					io.Discard.Write(p)
				}
				return nil
			})
		})
	}
	var tsealed bytes.Buffer
	tw, _ := tsa.NewEncryptingWriter(&tsealed, ad)
	tw.Write(pt)
	tw.Close()
	b.Run("op=seal/chunk=1024KiB/impl=tink", func(b *testing.B) {
		b.SetBytes(benchStreamSize)
		loopCPU(b, func() error {
			w, err := tsa.NewEncryptingWriter(io.Discard, ad)
			if err != nil {
				return err
			}
			if _, err := w.Write(pt); err != nil {
				return err
			}
			return w.Close()
		})
	})
	b.Run("op=open/chunk=1024KiB/impl=tink", func(b *testing.B) {
		b.SetBytes(benchStreamSize)
		loopCPU(b, func() error {
			r, err := tsa.NewDecryptingReader(bytes.NewReader(tsealed.Bytes()), ad)
			if err != nil {
				return err
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchStreamSize {
				return fmt.Errorf("%d bytes: %v", n, err)
			}
			return nil
		})
	})
}

func rawGCM() cipher.AEAD {
	block, _ := aes.NewCipher(bytes.Repeat([]byte{2}, KeySize))
	g, _ := cipher.NewGCM(block)
	return g
}

func rawGCMChunks(pt []byte, chunk int) [][]byte {
	g := rawGCM()
	var out [][]byte
	var nonce [gcmNonceSize]byte
	for i := 0; i < len(pt); i += chunk {
		binary.BigEndian.PutUint64(nonce[4:], uint64(i/chunk))
		out = append(out, g.Seal(nil, nonce[:], pt[i:i+chunk], nil))
	}
	return out
}

// BenchmarkStreamVsRaw seals and opens 64 MiB with this package's stream
// (64 KiB chunks and 1 MiB chunks), raw AES-256-GCM over the same chunk
// size (chunks in memory, and read from an io.Reader first), and tink-go's
// AES256_GCM_HKDF_1MB, alternating within each iteration on one locked
// thread, and reports each one's thread CPU time per 64 MiB and the
// throughput ratios envelope/raw and envelope/tink (above 1: envelope
// faster), so that load changes on a shared machine hit all alike. Opening
// also runs OpenStreamBytes on the stream in memory (envelope-bytes/raw:
// the same comparison with no io.Reader on our side either).
func BenchmarkStreamVsRaw(b *testing.B) {
	fipstest.Skip(b, fipstest.CallerGCMNonce) // raw GCM and tink
	pt, k, tsa, ad := newStreamBench(b)
	var tsealed bytes.Buffer
	tw, _ := tsa.NewEncryptingWriter(&tsealed, ad)
	tw.Write(pt)
	tw.Close()
	for _, chunk := range []int{64 << 10, 1 << 20} {
		var sealed bytes.Buffer
		w, _ := k.NewStreamWriter(&sealed, bindPII, chunk)
		w.Write(pt)
		w.Close()
		raw := rawGCMChunks(pt, chunk)
		rawStream := bytes.Join(raw, nil)
		g := rawGCM()
		buf := make([]byte, chunk+gcmTagSize)
		out := make([]byte, 0, benchStreamSize)
		var nonce [gcmNonceSize]byte
		impls := map[string]map[string]func() error{
			"seal": {
				"envelope": func() error {
					w, err := k.NewStreamWriter(io.Discard, bindPII, chunk)
					if err != nil {
						return err
					}
					if _, err := w.Write(pt); err != nil {
						return err
					}
					return w.Close()
				},
				"raw": func() error {
					for i := 0; i < len(pt); i += chunk {
						binary.BigEndian.PutUint64(nonce[4:], uint64(i/chunk))
						io.Discard.Write(g.Seal(buf[:0], nonce[:], pt[i:i+chunk], nil))
					}
					return nil
				},
				"tink": func() error {
					w, err := tsa.NewEncryptingWriter(io.Discard, ad)
					if err != nil {
						return err
					}
					if _, err := w.Write(pt); err != nil {
						return err
					}
					return w.Close()
				},
			},
			"open": {
				"envelope": func() error {
					r, err := k.NewStreamReader(bytes.NewReader(sealed.Bytes()), bindPII)
					if err != nil {
						return err
					}
					_, err = r.WriteTo(io.Discard)
					return err
				},
				"envelope-bytes": func() error {
					_, err := k.OpenStreamBytes(out[:0], sealed.Bytes(), bindPII)
					return err
				},
				"raw": func() error {
					for i, c := range raw {
						binary.BigEndian.PutUint64(nonce[4:], uint64(i))
						p, err := g.Open(buf[:0], nonce[:], c, nil)
						if err != nil {
							return err
						}
						io.Discard.Write(p)
					}
					return nil
				},
				"raw-read": func() error {
					src := bytes.NewReader(rawStream)
					for i := range raw {
						if _, err := io.ReadFull(src, buf); err != nil {
							return err
						}
						binary.BigEndian.PutUint64(nonce[4:], uint64(i))
						p, err := g.Open(buf[:0], nonce[:], buf, nil)
						if err != nil {
							return err
						}
						io.Discard.Write(p)
					}
					return nil
				},
				"tink": func() error {
					r, err := tsa.NewDecryptingReader(bytes.NewReader(tsealed.Bytes()), ad)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, r)
					return err
				},
			},
		}
		for _, op := range []string{"seal", "open"} {
			b.Run(fmt.Sprintf("op=%s/chunk=%dKiB", op, chunk>>10), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				names := []string{"envelope", "envelope-bytes", "raw", "raw-read", "tink"}
				cpu := map[string]int64{}
				for b.Loop() {
					for _, name := range names {
						f := impls[op][name]
						if f == nil {
							continue
						}
						t0 := threadCPU()
						if err := f(); err != nil {
							b.Fatal(err)
						}
						cpu[name] += threadCPU() - t0
					}
				}
				if cpu["envelope"] == 0 {
					return
				}
				for _, name := range names[2:] {
					if cpu[name] > 0 {
						b.ReportMetric(float64(cpu[name])/float64(cpu["envelope"]), "envelope/"+name)
					}
				}
				if cpu["envelope-bytes"] > 0 {
					b.ReportMetric(float64(cpu["raw"])/float64(cpu["envelope-bytes"]), "envelope-bytes/raw")
				}
				b.ReportMetric(float64(cpu["envelope"])/float64(b.N)/1e6, "envelope-cpu-ms/op")
			})
		}
	}
}

// newStreamBench is the setup both stream benchmarks share: the plaintext,
// a record key, tink's AES256_GCM_HKDF_1MB streaming AEAD, and the binding
// as tink's associated data.
func newStreamBench(b *testing.B) (pt []byte, k *RecordKey, tsa tink.StreamingAEAD, ad []byte) {
	pt = bytes.Repeat([]byte{0x5a}, benchStreamSize)
	k, err := NewRecordKey(bytes.Repeat([]byte{1}, KeySize), nil)
	if err != nil {
		b.Fatal(err)
	}
	kh, err := keyset.NewHandle(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	tsa, err = streamingaead.New(kh)
	if err != nil {
		b.Fatal(err)
	}
	return pt, k, tsa, appendBinding(nil, bindPII)
}
