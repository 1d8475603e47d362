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

// BenchmarkStream seals and opens 64 MiB each way of streamImpls, as
// separate sub-benchmarks: this package's stream (64 KiB and 1 MiB chunks;
// opening also with OpenStreamBytes, "envelope-bytes"), raw AES-256-GCM
// from crypto/cipher over the same chunk size (the floor; "raw-read" reads
// each chunk from an io.Reader first) and tink-go's AES256_GCM_HKDF_1MB
// (1 MiB segments whatever the chunk label). Each reports wall time and the
// thread's CPU time (cpu-ns/op, steadier on a shared machine). Compare with
// benchstat:
//
//	go test -run '^$' -bench 'BenchmarkStream$' -benchtime 4x -count 8 ./envelope | tee s.txt
//	benchstat -col /impl -row /op,/chunk -filter '.unit:cpu-ns/op' s.txt
func BenchmarkStream(b *testing.B) {
	fipstest.Skip(b, fipstest.CallerGCMNonce) // raw GCM and tink
	pt, k, tsa, ad := newStreamBench(b)
	for _, chunk := range []int{64 << 10, 1 << 20} {
		impls := streamImpls(b, pt, k, tsa, ad, chunk)
		for _, op := range []string{"seal", "open"} {
			for _, name := range streamImplNames {
				f := impls[op][name]
				if f == nil {
					continue
				}
				b.Run(fmt.Sprintf("op=%s/chunk=%dKiB/impl=%s", op, chunk>>10, name), func(b *testing.B) {
					b.SetBytes(benchStreamSize)
					loopCPU(b, f)
				})
			}
		}
	}
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

// streamImplNames are the keys of streamImpls, in report order; envelope
// first (the ratios of BenchmarkStreamVsRaw are against it).
var streamImplNames = []string{"envelope", "envelope-bytes", "raw", "raw-read", "tink"}

// streamImpls returns, by operation ("seal", "open") and by name, the ways
// both stream benchmarks seal and open pt (benchStreamSize bytes) at chunk
// size chunk. "raw" is AES-256-GCM from crypto/cipher over the same chunks
// (one key, an index nonce, no framing, chunks already in memory: the
// floor); "raw-read" opens them after reading each from an io.Reader, as
// any stream reader must; "envelope-bytes" is OpenStreamBytes on the
// stream in memory; "tink" is AES256_GCM_HKDF_1MB.
func streamImpls(b *testing.B, pt []byte, k *RecordKey, tsa tink.StreamingAEAD, ad []byte, chunk int) map[string]map[string]func() error {
	var sealed bytes.Buffer
	w, err := k.NewStreamWriter(&sealed, bindPII, chunk)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(pt)
	w.Close()
	var tsealed bytes.Buffer
	tw, err := tsa.NewEncryptingWriter(&tsealed, ad)
	if err != nil {
		b.Fatal(err)
	}
	tw.Write(pt)
	tw.Close()
	raw := rawGCMChunks(pt, chunk)
	rawStream := bytes.Join(raw, nil)
	g := rawGCM()
	buf := make([]byte, chunk+gcmTagSize)
	out := make([]byte, 0, benchStreamSize)
	var nonce [gcmNonceSize]byte
	return map[string]map[string]func() error{
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
				if n, err := r.WriteTo(io.Discard); err != nil || n != benchStreamSize {
					return fmt.Errorf("%d bytes: %v", n, err)
				}
				return nil
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
				if n, err := io.Copy(io.Discard, r); err != nil || n != benchStreamSize {
					return fmt.Errorf("%d bytes: %v", n, err)
				}
				return nil
			},
		},
	}
}

// BenchmarkStreamVsRaw runs the ways of streamImpls alternating within
// each iteration on one locked thread, and reports this package's thread
// CPU time per 64 MiB and the throughput ratios envelope/raw,
// envelope/raw-read, envelope/tink and envelope-bytes/raw (above 1: ours
// faster), so that load changes on a shared machine hit all alike.
func BenchmarkStreamVsRaw(b *testing.B) {
	fipstest.Skip(b, fipstest.CallerGCMNonce) // raw GCM and tink
	pt, k, tsa, ad := newStreamBench(b)
	for _, chunk := range []int{64 << 10, 1 << 20} {
		impls := streamImpls(b, pt, k, tsa, ad, chunk)
		for _, op := range []string{"seal", "open"} {
			b.Run(fmt.Sprintf("op=%s/chunk=%dKiB", op, chunk>>10), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu := map[string]int64{}
				for b.Loop() {
					for _, name := range streamImplNames {
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
				for _, name := range streamImplNames[2:] {
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
