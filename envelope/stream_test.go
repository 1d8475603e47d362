package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
)

func testStreamKey(t testing.TB, gen uint32, seed string) *RecordKey {
	t.Helper()
	k, err := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x42}, KeySize), gen, newDetReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealStream seals pt as one stream, written in pieces of the sizes split
// returns (nil: all at once).
func sealStream(t testing.TB, k *RecordKey, b Binding, chunk int, pt []byte, split func() int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := k.NewStreamWriter(&out, b, chunk)
	if err != nil {
		t.Fatal(err)
	}
	for p := pt; len(p) > 0; {
		n := len(p)
		if split != nil {
			n = min(n, split())
		}
		if m, err := w.Write(p[:n]); err != nil || m != n {
			t.Fatalf("write: %d, %v", m, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// openStream opens a stream and returns what it released before the end or
// the first error, reading in pieces of the sizes read returns (nil: WriteTo).
// Every call also opens the stream with OpenStreamBytes and returns an
// error of no class if the two disagree, so every test of the reader tests
// the in-memory opener too (see checkStreamBytesAgrees).
func openStream(k *RecordKey, b Binding, stream []byte, read func() int) ([]byte, error) {
	got, err := openStreamReader(k, b, stream, read)
	if d := checkStreamBytesAgrees(k, b, stream, got, err); d != nil {
		return got, d
	}
	return got, err
}

func openStreamReader(k *RecordKey, b Binding, stream []byte, read func() int) ([]byte, error) {
	r, err := k.NewStreamReader(bytes.NewReader(stream), b)
	if err != nil {
		return nil, err
	}
	var got bytes.Buffer
	if read == nil {
		_, err = r.WriteTo(&got)
		return got.Bytes(), err
	}
	for {
		p := make([]byte, read())
		n, err := r.Read(p)
		got.Write(p[:n])
		if err == io.EOF {
			return got.Bytes(), nil
		}
		if err != nil {
			return got.Bytes(), err
		}
	}
}

// streamErrorClasses are the errors a caller tells apart with errors.Is.
var streamErrorClasses = []error{ErrMalformed, ErrVersion, ErrGeneration, ErrTooLarge,
	ErrCommitment, ErrPayloadAuth, ErrInvalidKey, ErrInvalidBinding}

// checkStreamBytesAgrees opens stream with OpenStreamBytes, appending to a
// dst that has a prefix and spare capacity, and checks it against what the
// reader gave (all of the plaintext and nil, or an error): the same
// plaintext after dst's prefix, or nil and an error of the same classes
// with nothing left in dst's spare capacity. It returns a description of
// any difference, wrapping no error class.
func checkStreamBytesAgrees(k *RecordKey, b Binding, stream, readerGot []byte, readerErr error) error {
	dst := make([]byte, 3, 3+len(stream)+8)
	copy(dst, "dst")
	out, err := k.OpenStreamBytes(dst, stream, b)
	if readerErr == nil {
		if err != nil || string(out[:3]) != "dst" || !bytes.Equal(out[3:], readerGot) {
			return fmt.Errorf("OpenStreamBytes disagrees with the reader, which opened %d bytes: %d bytes, %v", len(readerGot), len(out), err)
		}
		return nil
	}
	if err == nil || out != nil {
		return fmt.Errorf("OpenStreamBytes opened (%d bytes) what the reader refused (%v)", len(out), readerErr)
	}
	for _, class := range streamErrorClasses {
		if errors.Is(err, class) != errors.Is(readerErr, class) {
			return fmt.Errorf("OpenStreamBytes refused with %q, the reader with %q", err.Error(), readerErr.Error())
		}
	}
	if string(dst[:3]) != "dst" || slices.ContainsFunc(dst[3:cap(dst)], func(c byte) bool { return c != 0 }) {
		return fmt.Errorf("OpenStreamBytes left plaintext in dst's spare capacity after refusing (%v)", err)
	}
	return nil
}

func streamChunks(stream []byte, chunk int) (header []byte, chunks [][]byte) {
	header, rest := stream[:StreamHeaderSize], stream[StreamHeaderSize:]
	for len(rest) > 0 {
		n := min(len(rest), chunk+StreamChunkOverhead)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	return header, chunks
}

func joinStream(header []byte, chunks ...[]byte) []byte {
	return bytes.Join(append([][]byte{header}, chunks...), nil)
}

func streamPlaintext(n int) []byte {
	pt := make([]byte, n)
	for i := range pt {
		pt[i] = byte(i*7 + i/251)
	}
	return pt
}

// TestStreamRoundTripsAtEveryLengthAroundChunkBoundaries seals every length
// from 0 to 5 chunks + 1 with small chunk sizes, written all at once, a
// byte at a time and in random pieces, and reads it back through WriteTo,
// one-byte reads and random reads: the plaintext comes back exactly, the
// stream has max(1, ceil(n/chunk)) chunks, and the way the plaintext was
// written does not change the bytes.
func TestStreamRoundTripsAtEveryLengthAroundChunkBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, chunk := range []int{16, 32} {
		for n := 0; n <= 5*chunk+1; n++ {
			pt := streamPlaintext(n)
			var first []byte
			for wi, split := range []func() int{nil, func() int { return 1 }, func() int { return 1 + rng.IntN(3*chunk) }} {
				k := testStreamKey(t, 0, "roundtrip")
				s := sealStream(t, k, bindPII, chunk, pt, split)
				chunks := max(1, (n+chunk-1)/chunk)
				if len(s) != StreamHeaderSize+n+chunks*StreamChunkOverhead {
					t.Fatalf("chunk %d n %d: %d bytes, want %d chunks", chunk, n, len(s), chunks)
				}
				if wi == 0 {
					first = s
				} else if !fipstest.Active(fipstest.CallerGCMNonce) && !bytes.Equal(s, first) {
					t.Fatalf("chunk %d n %d: write pattern %d changed the stream", chunk, n, wi)
				}
				for ri, read := range []func() int{nil, func() int { return 1 }, func() int { return 1 + rng.IntN(2*chunk) }} {
					got, err := openStream(k, bindPII, s, read)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("chunk %d n %d write %d read %d: %v", chunk, n, wi, ri, err)
					}
				}
			}
		}
	}
}

// checkVerifiedPrefix: what a failed open released is whole chunks of the
// true plaintext, from its start, and never all of it.
func checkVerifiedPrefix(t *testing.T, what string, got, pt []byte, chunk int, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: opened", what)
	}
	if len(got)%chunk != 0 || !bytes.HasPrefix(pt, got) || (len(got) == len(pt) && len(pt) > 0) {
		t.Fatalf("%s: released %d bytes that are not a strict prefix of whole verified chunks", what, len(got))
	}
}

// TestStreamRefusesTruncatedDroppedDuplicatedReorderedSwappedAndExtendedChunks
// tries, on small chunk sizes and for stream lengths around chunk
// boundaries, every truncation at a chunk boundary, every dropped and
// duplicated chunk, every swap of two chunks, data after the last chunk,
// and every chunk replaced by the chunk at the same position of another
// stream of the same key, binding and length. Each is refused with
// ErrPayloadAuth, having released only whole chunks before the first bad
// one.
func TestStreamRefusesTruncatedDroppedDuplicatedReorderedSwappedAndExtendedChunks(t *testing.T) {
	k := testStreamKey(t, 0, "attacks")
	for _, chunk := range []int{16, 32} {
		for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 5, 4 * chunk} {
			pt := streamPlaintext(n)
			s := sealStream(t, k, bindPII, chunk, pt, nil)
			other := sealStream(t, k, bindPII, chunk, pt, nil) // same key, binding, length
			hdr, cs := streamChunks(s, chunk)
			_, ocs := streamChunks(other, chunk)
			try := func(what string, mod []byte) {
				t.Helper()
				got, err := openStream(k, bindPII, mod, nil)
				if !errors.Is(err, ErrPayloadAuth) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("chunk %d n %d %s: %v", chunk, n, what, err)
				}
				checkVerifiedPrefix(t, fmt.Sprintf("chunk %d n %d %s", chunk, n, what), got, pt, chunk, err)
			}
			for i := range cs {
				try(fmt.Sprintf("truncated after %d chunks", i), joinStream(hdr, cs[:i]...))
				try(fmt.Sprintf("chunk %d dropped", i), joinStream(hdr, append(append([][]byte{}, cs[:i]...), cs[i+1:]...)...))
				dup := append(append(append([][]byte{}, cs[:i+1]...), cs[i]), cs[i+1:]...)
				try(fmt.Sprintf("chunk %d duplicated", i), joinStream(hdr, dup...))
				for j := i + 1; j < len(cs); j++ {
					sw := append([][]byte{}, cs...)
					sw[i], sw[j] = sw[j], sw[i]
					if !bytes.Equal(sw[i], sw[j]) {
						try(fmt.Sprintf("chunks %d and %d swapped", i, j), joinStream(hdr, sw...))
					}
				}
				mixed := append([][]byte{}, cs...)
				mixed[i] = ocs[i]
				try(fmt.Sprintf("chunk %d from another stream", i), joinStream(hdr, mixed...))
			}
			try("one byte appended", append(bytes.Clone(s), 0))
			try("last chunk repeated", joinStream(hdr, append(append([][]byte{}, cs...), cs[len(cs)-1])...))
			try("a chunk of another stream appended", joinStream(hdr, append(append([][]byte{}, cs...), ocs[len(ocs)-1])...))
			try("another stream's chunks under this header", joinStream(hdr, ocs...))
			for cut := StreamHeaderSize; cut < len(s); cut++ {
				try(fmt.Sprintf("truncated to %d bytes", cut), s[:cut])
			}
		}
	}
}

// TestStreamEveryBitFlipIsRefused flips every bit of small streams: header
// flips give the header's error classes before any plaintext, chunk flips
// ErrPayloadAuth after the verified chunks before them.
func TestStreamEveryBitFlipIsRefused(t *testing.T) {
	k := testStreamKey(t, 7, "flips")
	const chunk = 16
	for _, n := range []int{0, 20, 48} {
		pt := streamPlaintext(n)
		s := sealStream(t, k, bindPII, chunk, pt, nil)
		for i := range s {
			for bit := range 8 {
				mod := bytes.Clone(s)
				mod[i] ^= 1 << bit
				got, err := openStream(k, bindPII, mod, nil)
				var want []error
				switch {
				case i < 4:
					want = []error{ErrMalformed}
				case i < 6:
					want = []error{ErrVersion}
				case i < 10:
					want = []error{ErrGeneration}
				case i == 10:
					want = []error{ErrTooLarge, ErrMalformed, ErrCommitment}
				case i < StreamHeaderSize:
					want = []error{ErrCommitment}
				default:
					want = []error{ErrPayloadAuth}
				}
				ok := false
				for _, w := range want {
					ok = ok || errors.Is(err, w)
				}
				if !ok {
					t.Fatalf("n %d byte %d bit %d: %v, want one of %v", n, i, bit, err, want)
				}
				if i < StreamHeaderSize && got != nil {
					t.Fatalf("n %d byte %d: plaintext released before the header verified", n, i)
				}
				checkVerifiedPrefix(t, fmt.Sprintf("n %d byte %d bit %d", n, i, bit), got, pt, chunk, err)
			}
		}
	}
}

// TestStreamHeaderIsCheckedBeforeAnyPlaintext: another binding, another
// key or another generation is refused by NewStreamReader itself, before a
// chunk is read.
func TestStreamHeaderIsCheckedBeforeAnyPlaintext(t *testing.T) {
	k := testStreamKey(t, 3, "header")
	s := sealStream(t, k, bindPII, 0, streamPlaintext(100_000), nil)
	other, _ := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x43}, KeySize), 3, nil)
	gen4, _ := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x42}, KeySize), 4, nil)
	for name, c := range map[string]struct {
		k    *RecordKey
		b    Binding
		want error
	}{
		"other user":       {k, bindOther, ErrCommitment},
		"other label":      {k, bindJane, ErrCommitment},
		"other key":        {other, bindPII, ErrCommitment},
		"other generation": {gen4, bindPII, ErrGeneration},
	} {
		r := &countingReader{r: bytes.NewReader(s)}
		if _, err := c.k.NewStreamReader(r, c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if r.n != StreamHeaderSize {
			t.Errorf("%s: read %d bytes, want only the %d-byte header", name, r.n, StreamHeaderSize)
		}
	}
	if g, err := StreamGeneration(s); err != nil || g != 3 {
		t.Fatalf("StreamGeneration: %d, %v", g, err)
	}
	// Several keys: the one of the stream's generation whose commitment
	// matches is used, in any order.
	gen3b, _ := NewRecordKeyForGeneration(bytes.Repeat([]byte{0x44}, KeySize), 3, nil)
	for _, keys := range [][]*RecordKey{{gen4, gen3b, k}, {k, gen4}, {gen3b, other, k}} {
		r, err := NewStreamReaderWithKeys(bytes.NewReader(s), bindPII, keys...)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, streamPlaintext(100_000)) {
			t.Fatalf("with keys: %v", err)
		}
	}
	if _, err := NewStreamReaderWithKeys(bytes.NewReader(s), bindPII, gen3b, other); !errors.Is(err, ErrCommitment) {
		t.Fatalf("no matching key: %v", err)
	}
	if _, err := NewStreamReaderWithKeys(bytes.NewReader(s), bindPII, gen4); !errors.Is(err, ErrGeneration) {
		t.Fatalf("no key of the generation: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestStreamHeaderRefusesMalformedVersionsAndHugeChunksBeforeAllocating(t *testing.T) {
	k := testStreamKey(t, 0, "malformed")
	s := sealStream(t, k, bindPII, 16, []byte("x"), nil)
	set := func(i int, v byte) []byte { c := bytes.Clone(s); c[i] = v; return c }
	for name, c := range map[string]struct {
		s    []byte
		want error
	}{
		"empty":             {nil, ErrMalformed},
		"short header":      {s[:StreamHeaderSize-1], ErrMalformed},
		"bad magic":         {set(3, 'R'), ErrMalformed},
		"a record":          {append([]byte("PVER"), s[4:]...), ErrMalformed},
		"version 2":         {set(4, 2), ErrVersion},
		"suite 2":           {set(5, 2), ErrVersion},
		"chunk 2^25":        {set(10, 25), ErrTooLarge},
		"chunk 2^255":       {set(10, 255), ErrTooLarge},
		"chunk 2^3":         {set(10, 3), ErrMalformed},
		"chunk 2^24 forged": {set(10, 24), ErrCommitment},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := k.NewStreamReader(bytes.NewReader(c.s), bindPII)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("%s: allocated %d bytes before refusing", name, d)
		}
	}
}

func TestStreamWriterRefusesBadUse(t *testing.T) {
	k := testStreamKey(t, 0, "misuse")
	for _, c := range []int{-1, 1, 8, 15, 17, 3000, MaxStreamChunkSize * 2} {
		if _, err := k.NewStreamWriter(io.Discard, bindPII, c); !errors.Is(err, ErrChunkSize) {
			t.Errorf("chunk size %d: %v", c, err)
		}
	}
	if _, err := k.NewStreamWriter(io.Discard, Binding{UserID: "u"}, 0); !errors.Is(err, ErrInvalidBinding) {
		t.Errorf("empty label: %v", err)
	}
	w, _ := k.NewStreamWriter(io.Discard, bindPII, 16)
	w.Write([]byte("abc"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("write after close: %v", err)
	}
	// A failing destination breaks the stream for good.
	fw := &failingWriter{after: StreamHeaderSize}
	w, err := k.NewStreamWriter(fw, bindPII, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 40)); err == nil {
		t.Fatal("write to a failing writer succeeded")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after a failure succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("close after a failure succeeded")
	}
	k.Destroy()
	if _, err := k.NewStreamWriter(io.Discard, bindPII, 0); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("destroyed key: %v", err)
	}
}

type failingWriter struct{ n, after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n+len(p) > f.after {
		return 0, errors.New("disk full")
	}
	f.n += len(p)
	return len(p), nil
}

// TestStreamFIPSPathMatchesFastPath: streams sealed with module-drawn
// nonces (FIPS 140-3 mode) and with index nonces open under either path.
func TestStreamFIPSPathMatchesFastPath(t *testing.T) {
	fipstest.Skip(t, fipstest.CallerGCMNonce)
	key := bytes.Repeat([]byte{0x24}, KeySize)
	fast, _ := newRecordKey(key, 1, nil, false)
	slow, _ := newRecordKey(key, 1, nil, true)
	for _, n := range []int{0, 15, 16, 17, 100} {
		pt := streamPlaintext(n)
		for _, pair := range [][2]*RecordKey{{fast, slow}, {slow, fast}, {slow, slow}} {
			s := sealStream(t, pair[0], bindPII, 16, pt, nil)
			if got, err := openStream(pair[1], bindPII, s, nil); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("n %d: %v", n, err)
			}
		}
	}
}

// TestStreamReaderReleasesNothingOfAChunkThatFails reads with a buffer
// larger than the stream: the first chunk is released, the bad second one
// is not, and the caller's buffer holds nothing of it.
func TestStreamReaderReleasesNothingOfAChunkThatFails(t *testing.T) {
	k := testStreamKey(t, 0, "release")
	pt := bytes.Repeat([]byte{0xee}, 40)
	s := sealStream(t, k, bindPII, 16, pt, nil)
	s[StreamHeaderSize+StreamChunkOverhead+16+gcmNonceSize] ^= 1 // second chunk's ciphertext
	r, err := k.NewStreamReader(bytes.NewReader(s), bindPII)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil || n != 16 {
		t.Fatalf("first chunk: %d, %v", n, err)
	}
	clear(buf)
	n, err = r.Read(buf)
	if !errors.Is(err, ErrPayloadAuth) || n != 0 || bytes.Contains(buf, []byte{0xee}) {
		t.Fatalf("second chunk: %d, %v", n, err)
	}
	if _, err2 := r.Read(buf); !errors.Is(err2, ErrPayloadAuth) {
		t.Fatalf("errors are not sticky: %v", err2)
	}
}

func FuzzOpenStream(f *testing.F) {
	k := testStreamKey(f, 0, "fuzz")
	genuine := map[string]bool{}
	for _, n := range []int{0, 5, 16, 40} {
		s := sealStream(f, k, bindPII, 16, streamPlaintext(n), nil)
		genuine[string(s)] = true
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := openStream(k, bindPII, data, nil)
		if err == nil && !genuine[string(data)] {
			t.Fatalf("a stream the key never sealed opened: %x", data)
		}
		if err != nil && len(got)%16 != 0 {
			t.Fatalf("released a partial chunk: %d bytes", len(got))
		}
	})
}

// TestStreamRefusesAnEmptyLastChunkAfterData: a writer ends a stream whose
// length is a multiple of the chunk size on a full last chunk, never on an
// empty one; an authentic stream built that way (by a hand-made writer)
// is refused as non-canonical, after its verified chunks.
func TestStreamRefusesAnEmptyLastChunkAfterData(t *testing.T) {
	fipstest.Skip(t, fipstest.CallerGCMNonce) // a hand-made fast-path writer
	k := testStreamKey(t, 0, "empty-last")
	pt := streamPlaintext(32)
	var out bytes.Buffer
	w, err := k.NewStreamWriter(&out, bindPII, 16)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := w.seal(pt[16*i:16*(i+1)], false); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.seal(nil, true); err != nil {
		t.Fatal(err)
	}
	got, err := openStream(k, bindPII, out.Bytes(), nil)
	if !errors.Is(err, ErrMalformed) || !bytes.Equal(got, pt) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	// The canonical stream of the same plaintext opens.
	if got, err := openStream(k, bindPII, sealStream(t, k, bindPII, 16, pt, nil), nil); err != nil || !bytes.Equal(got, pt) {
		t.Fatal(err)
	}
}

type stallingReader struct{ r io.Reader }

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.r != nil {
		n, err := s.r.Read(p)
		if err == io.EOF {
			s.r = nil
			err = nil
		}
		return n, err
	}
	return 0, nil
}

// TestStreamReaderStopsOnAReaderThatMakesNoProgress: a source that keeps
// returning (0, nil) gets io.ErrNoProgress instead of a spinning reader.
func TestStreamReaderStopsOnAReaderThatMakesNoProgress(t *testing.T) {
	k := testStreamKey(t, 0, "stall")
	s := sealStream(t, k, bindPII, 16, streamPlaintext(40), nil)
	r, err := k.NewStreamReader(&stallingReader{r: bytes.NewReader(s[:len(s)-5])}, bindPII)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, io.ErrNoProgress) || len(got) != 32 {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// TestOpenStreamBytesReleasesNothingOfAStreamThatFailsAnywhere: where the
// reader has already released the verified chunks before a bad last chunk,
// OpenStreamBytes returns nil and leaves no plaintext in dst (every other
// test of the reader checks OpenStreamBytes the same way, through
// openStream).
func TestOpenStreamBytesReleasesNothingOfAStreamThatFailsAnywhere(t *testing.T) {
	k := testStreamKey(t, 0, "all-or-nothing")
	pt := bytes.Repeat([]byte{0xee}, 100)
	s := sealStream(t, k, bindPII, 16, pt, nil)
	s[len(s)-1] ^= 1 // the last chunk's tag
	got, err := openStreamReader(k, bindPII, s, nil)
	if !errors.Is(err, ErrPayloadAuth) || len(got) != 96 {
		t.Fatalf("reader: %d bytes, %v (want the 6 verified chunks, then ErrPayloadAuth)", len(got), err)
	}
	dst := make([]byte, 0, 200)
	out, err := k.OpenStreamBytes(dst, s, bindPII)
	if !errors.Is(err, ErrPayloadAuth) || out != nil {
		t.Fatalf("OpenStreamBytes: %d bytes, %v", len(out), err)
	}
	if bytes.Contains(dst[:cap(dst)], []byte{0xee}) {
		t.Fatal("plaintext of the verified chunks left in dst's spare capacity")
	}
}

// TestOpenStreamBytesWithDstInsideTheStreamNeitherPanicsNorCorrupts: dst
// may share memory with the stream (a caller reusing the buffer it read
// the stream into); the plaintext then goes to a new buffer, the stream's
// bytes are left as they were, and crypto/cipher never sees an inexact
// overlap (it would panic).
func TestOpenStreamBytesWithDstInsideTheStreamNeitherPanicsNorCorrupts(t *testing.T) {
	k := testStreamKey(t, 0, "overlap")
	pt := streamPlaintext(200)
	s := sealStream(t, k, bindPII, 16, pt, nil)
	orig := bytes.Clone(s)
	for _, at := range []int{0, 1, StreamHeaderSize, StreamHeaderSize + 12, len(s) / 2} {
		out, err := k.OpenStreamBytes(s[at:at], s, bindPII)
		if err != nil || !bytes.Equal(out, pt) {
			t.Fatalf("dst at %d: %d bytes, %v", at, len(out), err)
		}
		if !bytes.Equal(s, orig) {
			t.Fatalf("dst at %d: the stream's bytes changed", at)
		}
	}
}

// TestOpenStreamBytesWithKeysPicksTheStreamsGeneration: with the keys of
// several generations, the stream's own opens it; without it, ErrGeneration.
func TestOpenStreamBytesWithKeysPicksTheStreamsGeneration(t *testing.T) {
	k1, k2 := testStreamKey(t, 1, "g1"), testStreamKey(t, 2, "g2")
	pt := streamPlaintext(50)
	s := sealStream(t, k1, bindPII, 16, pt, nil)
	if out, err := OpenStreamBytesWithKeys(nil, s, bindPII, k2, k1); err != nil || !bytes.Equal(out, pt) {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	if _, err := OpenStreamBytesWithKeys(nil, s, bindPII, k2); !errors.Is(err, ErrGeneration) {
		t.Fatalf("without the stream's generation: %v", err)
	}
	if _, err := OpenStreamBytesWithKeys(nil, s, bindPII); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("no key: %v", err)
	}
}

// TestOpenStreamBytesWithDstInsideAMalformedStreamNeitherPanicsNorReleases:
// a stream whose tail is too short for a chunk makes the plaintext length
// unknowable up front; with dst inside the stream, the first chunk's
// plaintext must still not be written over the stream (crypto/cipher
// would panic on the inexact overlap), and nothing is returned.
func TestOpenStreamBytesWithDstInsideAMalformedStreamNeitherPanicsNorReleases(t *testing.T) {
	k := testStreamKey(t, 0, "overlap-bad")
	s := sealStream(t, k, bindPII, 16, streamPlaintext(40), nil)
	for _, cut := range []int{StreamHeaderSize + 16 + StreamChunkOverhead + 5, StreamHeaderSize + 5} {
		bad := bytes.Clone(s[:cut])
		orig := bytes.Clone(bad)
		out, err := k.OpenStreamBytes(bad[:0], bad, bindPII)
		if !errors.Is(err, ErrPayloadAuth) || out != nil {
			t.Fatalf("cut at %d: %d bytes, %v", cut, len(out), err)
		}
		if !bytes.Equal(bad, orig) {
			t.Fatalf("cut at %d: the stream's bytes changed", cut)
		}
	}
}

// FuzzOpenStreamBytesWithDstAnywhereInTheStream: whatever the bytes and
// wherever dst starts inside them, OpenStreamBytes does not panic, leaves
// the stream's bytes alone, and opens only a stream the key sealed, to
// the plaintext it sealed.
func FuzzOpenStreamBytesWithDstAnywhereInTheStream(f *testing.F) {
	k := testStreamKey(f, 0, "fuzz-in-place")
	genuine := map[string][]byte{}
	for _, n := range []int{0, 5, 16, 40} {
		pt := streamPlaintext(n)
		s := sealStream(f, k, bindPII, 16, pt, nil)
		genuine[string(s)] = pt
		f.Add(s, uint16(0))
		f.Add(s, uint16(StreamHeaderSize))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		buf := bytes.Clone(data)
		off := int(at) % (len(buf) + 1)
		out, err := k.OpenStreamBytes(buf[off:off], buf, bindPII)
		if !bytes.Equal(buf, data) {
			t.Fatalf("dst at %d: the stream's bytes changed", off)
		}
		pt, ok := genuine[string(data)]
		switch {
		case err == nil && !ok:
			t.Fatalf("a stream the key never sealed opened: %x", data)
		case err == nil && !bytes.Equal(out, pt):
			t.Fatalf("opened to other plaintext")
		case err != nil && out != nil:
			t.Fatalf("returned %d bytes with %v", len(out), err)
		}
	})
}

// TestStreamPlaintextLenNeverOverflows: OpenStreamBytes sizes its output
// from the stream's length; the chunk count must not overflow for any
// length a slice can have (len+full-1 overflowed near math.MaxInt, which
// a 32-bit build reaches with a 2 GiB stream), and the result is exact for
// a well-formed body and never negative nor above the body.
func TestStreamPlaintextLenNeverOverflows(t *testing.T) {
	for _, full := range []int{MinStreamChunkSize + StreamChunkOverhead, DefaultStreamChunkSize + StreamChunkOverhead, MaxStreamChunkSize + StreamChunkOverhead} {
		for _, n := range []int{0, 1, StreamChunkOverhead, full, full + 1, full + StreamChunkOverhead, math.MaxInt32, math.MaxInt32 - 1, math.MaxInt - 1, math.MaxInt} {
			got := streamPlaintextLen(n, full)
			if got < 0 || got > n {
				t.Fatalf("full %d, body %d: plaintext length %d", full, n, got)
			}
			// A body of whole chunks and a last one of r sealed bytes.
			chunks, r := n/full, n%full
			want := chunks * (full - StreamChunkOverhead)
			if r > 0 {
				want += max(r-StreamChunkOverhead, 0)
				if r < StreamChunkOverhead {
					want -= StreamChunkOverhead - r // the malformed tail's chunk still costs its overhead
				}
			}
			if want < 0 {
				want = 0
			}
			if got != want {
				t.Fatalf("full %d, body %d: plaintext length %d, want %d", full, n, got, want)
			}
		}
	}
}

// TestOpenStreamBytesWithDstOfAnyLengthAndCapacityAroundTheStream: dst
// may start before, inside or after the stream in one buffer, hold bytes
// already (len(dst) > 0, possibly bytes of the stream itself) and have a
// capacity that reaches into the stream or past it. Whatever the layout,
// OpenStreamBytes neither panics nor writes over the stream, returns dst's
// bytes followed by the plaintext for a genuine stream, and returns nil
// for a tampered one.
func TestOpenStreamBytesWithDstOfAnyLengthAndCapacityAroundTheStream(t *testing.T) {
	k := testStreamKey(t, 0, "overlap-any")
	pt := streamPlaintext(40)
	s := sealStream(t, k, bindPII, 16, pt, nil)
	for _, tamper := range []bool{false, true} {
		for _, pre := range []int{0, 7, 20} {
			total := pre + len(s) + 20
			for a := 0; a <= total; a += 3 {
				for b := a; b <= total && b-a <= 12; b += 4 {
					for c := b; c <= total; c += 9 {
						buf := make([]byte, total)
						for i := range buf {
							buf[i] = byte(i*7 + 1)
						}
						copy(buf[pre:], s)
						if tamper {
							buf[pre+len(s)-1] ^= 1
						}
						stream := buf[pre : pre+len(s)]
						orig := bytes.Clone(stream)
						dst := buf[a:b:c]
						prefix := bytes.Clone(dst)
						out, err := k.OpenStreamBytes(dst, stream, bindPII)
						if !bytes.Equal(stream, orig) {
							t.Fatalf("stream at %d, dst [%d:%d:%d]: the stream's bytes changed", pre, a, b, c)
						}
						switch {
						case tamper && (err == nil || out != nil):
							t.Fatalf("stream at %d, dst [%d:%d:%d]: a tampered stream gave %d bytes, %v", pre, a, b, c, len(out), err)
						case !tamper && err != nil:
							t.Fatalf("stream at %d, dst [%d:%d:%d]: %v", pre, a, b, c, err)
						case !tamper && (!bytes.Equal(out[:len(prefix)], prefix) || !bytes.Equal(out[len(prefix):], pt)):
							t.Fatalf("stream at %d, dst [%d:%d:%d]: wrong output", pre, a, b, c)
						}
					}
				}
			}
		}
	}
}
