package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
)

// Stream format (FORMAT.md section 5): a header, then chunks of a fixed
// plaintext size, each sealed with AES-256-GCM under a per-stream key, its
// index and a last-chunk flag authenticated with it.
const (
	// StreamVersion1 is the stream format version this package writes
	// and reads.
	StreamVersion1 = 1
	// StreamHeaderSize is the length of a stream header: magic, version,
	// suite, key generation, log2 of the chunk size, salt, commitment.
	StreamHeaderSize = streamInfoSize + CommitmentSize
	// StreamChunkOverhead is the length of a sealed chunk minus its
	// plaintext: nonce and tag.
	StreamChunkOverhead = gcmNonceSize + gcmTagSize
	// DefaultStreamChunkSize is the plaintext chunk size NewStreamWriter
	// uses when asked for 0 (64 KiB, as age).
	DefaultStreamChunkSize = 1 << 16
	// MinStreamChunkSize and MaxStreamChunkSize bound the chunk size, a
	// power of two. A reader holds one chunk in memory.
	MinStreamChunkSize = 1 << minStreamChunkLog
	MaxStreamChunkSize = 1 << maxStreamChunkLog
)

const (
	streamMagic       = "PVES" // piivault envelope stream
	streamSaltSize    = 32
	streamInfoSize    = 4 + 1 + 1 + 4 + 1 + streamSaltSize // header bytes before the commitment
	minStreamChunkLog = 4
	maxStreamChunkLog = 24
	labelStreamSalt   = "piivault/envelope/v1/stream"
	// maxModuleNonceChunks bounds the chunks of one stream when the FIPS
	// module draws random nonces (NIST SP 800-38D section 8.3).
	maxModuleNonceChunks = 1 << 32
)

// Stream errors a caller can tell apart with errors.Is (besides the
// format's error classes).
var (
	// ErrChunkSize: a chunk size that is not a power of two from
	// MinStreamChunkSize to MaxStreamChunkSize (a caller's mistake).
	ErrChunkSize = errors.New("envelope: invalid stream chunk size")
	// ErrStreamClosed: a Write after Close.
	ErrStreamClosed = errors.New("envelope: stream closed")
)

// streamKeys derives the stream key and commitment from the stream
// header's first streamInfoSize bytes and b:
// HKDF-Expand(PRK, info = header[:43] || binding, 64).
func (k *RecordKey) streamKeys(info []byte, b Binding, encKey, commitment *[32]byte) error {
	in := appendBinding(append(make([]byte, 0, streamInfoSize+2+2*MaxBindingField), info...), b)
	if k.fips {
		okm, err := hkdf.Expand(sha256.New, k.streamPRK, string(in), KeySize+CommitmentSize)
		if err != nil {
			return fmt.Errorf("envelope: hkdf: %w", err)
		}
		copy(encKey[:], okm)
		copy(commitment[:], okm[KeySize:])
		clear(okm)
		return nil
	}
	s := newHashScratch()
	one, two := []byte{1}, []byte{2}
	k.stream.sum(&s, encKey, nil, in, one)
	k.stream.sum(&s, commitment, encKey[:], in, two)
	s.scrub()
	return nil
}

// streamAEAD returns AES-256-GCM under key: with caller-chosen nonces, or,
// in FIPS 140-3 mode, with nonces the module draws and writes in front of
// the ciphertext (which reads the same bytes).
func streamAEAD(key []byte, module bool) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: aes: %w", err)
	}
	var g cipher.AEAD
	if module {
		g, err = cipher.NewGCMWithRandomNonce(block)
	} else {
		g, err = cipher.NewGCM(block)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: gcm: %w", err)
	}
	return g, nil
}

// chunkAD is a chunk's associated data: its index (u64) and whether it is
// the last chunk (u8 1) or not (u8 0).
func chunkAD(ad *[9]byte, index uint64, last bool) []byte {
	binary.BigEndian.PutUint64(ad[:8], index)
	ad[8] = 0
	if last {
		ad[8] = 1
	}
	return ad[:]
}

// StreamWriter seals a stream of any length in fixed-size chunks; see
// RecordKey.NewStreamWriter. It is not safe for concurrent use.
type StreamWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	module bool // aead draws the nonce (FIPS 140-3 mode)
	chunk  int
	buf    []byte // nonce (12) || chunk || tag (16)
	po     int    // where pending plaintext starts in buf
	n      int    // pending plaintext bytes
	index  uint64 // of the next chunk
	ad     [9]byte
	err    error // sticky
	closed bool
}

// NewStreamWriter writes a stream header to w and returns a writer that
// seals what is written to it, bound to b, in chunks of chunkSize bytes of
// plaintext (a power of two from MinStreamChunkSize to MaxStreamChunkSize;
// 0 means DefaultStreamChunkSize). Close must be called to seal the last
// chunk: a stream without its last chunk does not open. Close does not
// close w.
//
// The stream key is derived from the key, a fresh random 256-bit salt, the
// generation and b; memory use is one chunk whatever the stream's length.
// Each chunk is written to w as soon as it is sealed, except the pending
// last one, which waits for more data or Close.
func (k *RecordKey) NewStreamWriter(w io.Writer, b Binding, chunkSize int) (*StreamWriter, error) {
	if err := k.usable(); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if chunkSize == 0 {
		chunkSize = DefaultStreamChunkSize
	}
	if chunkSize < MinStreamChunkSize || chunkSize > MaxStreamChunkSize || chunkSize&(chunkSize-1) != 0 {
		return nil, fmt.Errorf("envelope: stream chunk size %d is not a power of two from %d to %d: %w", chunkSize, MinStreamChunkSize, MaxStreamChunkSize, ErrChunkSize)
	}
	var hdr [StreamHeaderSize]byte
	copy(hdr[:], streamMagic)
	hdr[4], hdr[5] = StreamVersion1, SuiteAES256GCM
	binary.BigEndian.PutUint32(hdr[6:10], k.gen)
	hdr[10] = byte(bits.TrailingZeros(uint(chunkSize)))
	r := k.rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, hdr[11:streamInfoSize]); err != nil {
		return nil, fmt.Errorf("envelope: reading stream salt: %w", err)
	}
	var encKey, commitment [32]byte
	defer clear(encKey[:])
	if err := k.streamKeys(hdr[:streamInfoSize], b, &encKey, &commitment); err != nil {
		return nil, err
	}
	copy(hdr[streamInfoSize:], commitment[:])
	aead, err := streamAEAD(encKey[:], k.fips)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("envelope: writing stream header: %w", err)
	}
	sw := &StreamWriter{w: w, aead: aead, module: k.fips, chunk: chunkSize,
		buf: make([]byte, chunkSize+StreamChunkOverhead), po: gcmNonceSize}
	if sw.module {
		// The module writes nonce || ciphertext and accepts plaintext only
		// where its output starts.
		sw.po = 0
	}
	return sw, nil
}

// seal seals pt (pending plaintext in sw.buf, or a chunk of the caller's
// buffer) as the next chunk and writes nonce || ciphertext || tag to w.
func (sw *StreamWriter) seal(pt []byte, last bool) error {
	if sw.module && sw.index >= maxModuleNonceChunks || sw.index == 1<<64-1 {
		return fmt.Errorf("envelope: stream of more than %d chunks: %w", sw.index, ErrTooLarge)
	}
	ad := chunkAD(&sw.ad, sw.index, last)
	var out []byte
	if sw.module {
		out = sw.aead.Seal(sw.buf[:0], nil, pt, ad)
	} else {
		// A unique nonce per chunk: the chunk index (the stream key is
		// used by this stream only). Readers take the nonce as stored.
		nonce := sw.buf[:gcmNonceSize]
		clear(nonce[:4])
		binary.BigEndian.PutUint64(nonce[4:], sw.index)
		out = sw.aead.Seal(sw.buf[gcmNonceSize:gcmNonceSize], nonce, pt, ad)
		out = sw.buf[:gcmNonceSize+len(out)]
	}
	sw.index++
	if _, err := sw.w.Write(out); err != nil {
		return fmt.Errorf("envelope: writing stream chunk: %w", err)
	}
	return nil
}

// Write seals p's bytes into the stream. It returns len(p) or an error;
// after an error the stream is broken and every later call fails.
func (sw *StreamWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if sw.closed {
		return 0, ErrStreamClosed
	}
	total := len(p)
	for len(p) > 0 {
		if sw.n == sw.chunk {
			// A full chunk is pending and more data follows: it is not
			// the last one.
			if err := sw.seal(sw.buf[sw.po:sw.po+sw.n], false); err != nil {
				return sw.fail(total-len(p), err)
			}
			sw.n = 0
		}
		if sw.n == 0 && len(p) > sw.chunk {
			// Seal straight from p: more data follows this chunk.
			if err := sw.seal(p[:sw.chunk], false); err != nil {
				return sw.fail(total-len(p), err)
			}
			p = p[sw.chunk:]
			continue
		}
		c := copy(sw.buf[sw.po+sw.n:sw.po+sw.chunk], p)
		sw.n += c
		p = p[c:]
	}
	return total, nil
}

func (sw *StreamWriter) fail(n int, err error) (int, error) {
	sw.err = err
	clear(sw.buf)
	return n, err
}

// Close seals and writes the last chunk (possibly short; empty only when
// nothing was written). It does not close the underlying writer. Calling
// Close again returns the first call's result.
func (sw *StreamWriter) Close() error {
	if sw.err != nil || sw.closed {
		return sw.err
	}
	sw.closed = true
	if err := sw.seal(sw.buf[sw.po:sw.po+sw.n], true); err != nil {
		sw.err = err
	}
	clear(sw.buf)
	return sw.err
}

// StreamReader opens a stream sealed by a StreamWriter; see
// RecordKey.NewStreamReader. It is not safe for concurrent use.
type StreamReader struct {
	streamOpener
	r     io.Reader
	buf   []byte // one sealed chunk and one byte of look-ahead
	have  int    // bytes in buf
	pt    []byte // verified plaintext not yet returned (inside buf)
	index uint64
	ad    [9]byte
	err   error // sticky; io.EOF after the last chunk
}

// NewStreamReader reads and checks a stream header from r (magic, version,
// suite: ErrMalformed, ErrVersion; chunk size: ErrMalformed, ErrTooLarge;
// generation: ErrGeneration; key commitment: ErrCommitment, for another
// key, generation or binding) before it returns, and returns a reader of
// the stream's plaintext.
//
// Plaintext is released one chunk at a time, only after that chunk's tag
// has verified, its index is the next one and its last-chunk flag is
// right. A stream altered, truncated, reordered or extended fails with an
// error wrapping ErrPayloadAuth at the first chunk that does not verify;
// every chunk before it has already been returned. So only a Read that
// returned io.EOF proves the whole stream authentic: a caller must not act
// on, or keep, what it read from a stream that then failed (write it to a
// temporary place and commit it on io.EOF), as with age.
func (k *RecordKey) NewStreamReader(r io.Reader, b Binding) (*StreamReader, error) {
	return NewStreamReaderWithKeys(r, b, k)
}

// NewStreamReaderWithKeys is NewStreamReader for a caller that holds the
// keys of several generations (after rotations): it reads the header once
// and uses the first key whose generation is the stream's and whose
// commitment matches. It fails with ErrGeneration when no key is of the
// stream's generation, with ErrCommitment when none of those matches.
func NewStreamReaderWithKeys(r io.Reader, b Binding, keys ...*RecordKey) (*StreamReader, error) {
	if err := checkStreamKeys(b, keys); err != nil {
		return nil, err
	}
	var hdr [StreamHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("envelope: stream shorter than its header: %w", ErrMalformed)
		}
		return nil, fmt.Errorf("envelope: reading stream header: %w", err)
	}
	o, err := openStreamHeader(hdr[:], b, keys)
	if err != nil {
		return nil, err
	}
	// Allocated only now: after the commitment proved the header was
	// written with this key, so a forged header cannot make us allocate.
	return &StreamReader{streamOpener: o, r: r,
		buf: make([]byte, StreamChunkOverhead+o.chunk+1)}, nil
}

// streamOpener is what a checked stream header gives: the stream's AEAD
// and chunk size.
type streamOpener struct {
	aead   cipher.AEAD
	module bool // aead takes nonce || ciphertext || tag (FIPS 140-3 mode)
	chunk  int
}

// checkStreamKeys checks an opener's keys and binding, before it reads
// anything.
func checkStreamKeys(b Binding, keys []*RecordKey) error {
	for _, k := range keys {
		if err := k.usable(); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("envelope: no key to open a stream: %w", ErrInvalidKey)
	}
	return checkBinding(b)
}

// openStreamHeader checks a stream header (StreamHeaderSize bytes) against
// keys and b, in the order NewStreamReaderWithKeys documents, and returns
// the stream's AEAD.
func openStreamHeader(hdr []byte, b Binding, keys []*RecordKey) (streamOpener, error) {
	gen, chunk, err := parseStreamHeader(hdr)
	if err != nil {
		return streamOpener{}, err
	}
	var encKey, commitment [32]byte
	defer clear(encKey[:])
	var key *RecordKey
	sawGen := false
	for _, k := range keys {
		if k.gen != gen {
			continue
		}
		sawGen = true
		if err := k.streamKeys(hdr[:streamInfoSize], b, &encKey, &commitment); err != nil {
			return streamOpener{}, err
		}
		if subtle.ConstantTimeCompare(commitment[:], hdr[streamInfoSize:StreamHeaderSize]) == 1 {
			key = k
			break
		}
	}
	switch {
	case !sawGen:
		return streamOpener{}, fmt.Errorf("envelope: stream of key generation %d, no key of that generation: %w", gen, ErrGeneration)
	case key == nil:
		return streamOpener{}, fmt.Errorf("envelope: stream commitment does not match this key and binding: %w", ErrCommitment)
	}
	aead, err := streamAEAD(encKey[:], key.fips)
	if err != nil {
		return streamOpener{}, err
	}
	return streamOpener{aead: aead, module: key.fips, chunk: chunk}, nil
}

// openChunk verifies and decrypts one sealed chunk (nonce || ciphertext ||
// tag) of index i, appending its plaintext to dst. Go's GCM clears what it
// wrote to dst when the tag does not verify.
func (o *streamOpener) openChunk(dst, sealed []byte, ad *[9]byte, i uint64, last bool) ([]byte, error) {
	a := chunkAD(ad, i, last)
	var pt []byte
	var err error
	if o.module {
		// The module's random-nonce GCM takes nonce || ciphertext || tag.
		pt, err = o.aead.Open(dst, nil, sealed, a)
	} else {
		pt, err = o.aead.Open(dst, sealed[:gcmNonceSize], sealed[gcmNonceSize:], a)
	}
	if err != nil {
		what := "altered, reordered, dropped or from another stream"
		if last {
			what = "altered, truncated or extended"
		}
		return nil, fmt.Errorf("envelope: stream chunk %d %s: %w", i, what, ErrPayloadAuth)
	}
	if last && len(pt) == len(dst) && i > 0 {
		// Writers never end on an empty chunk after data.
		return nil, fmt.Errorf("envelope: stream ends on an empty chunk: %w", ErrMalformed)
	}
	return pt, nil
}

// OpenStreamBytes opens a whole stream held in memory, sealed by a
// StreamWriter under k for b, and appends its plaintext to dst. It makes
// the checks of NewStreamReader and StreamReader.Read, in the same order
// and with the same errors, but releases nothing unless the whole stream
// is authentic: on any error it returns nil, and what it wrote into dst's
// spare capacity is cleared. Chunks are decrypted straight from stream
// into dst, with no copy in between; if dst's spare capacity overlaps
// stream, a new buffer is used instead. It needs memory for the whole
// plaintext (at most len(stream)); for a stream of unknown or unbounded
// size use NewStreamReader.
func (k *RecordKey) OpenStreamBytes(dst, stream []byte, b Binding) ([]byte, error) {
	return OpenStreamBytesWithKeys(dst, stream, b, k)
}

// OpenStreamBytesWithKeys is OpenStreamBytes for a caller that holds the
// keys of several generations, as NewStreamReaderWithKeys.
func OpenStreamBytesWithKeys(dst, stream []byte, b Binding, keys ...*RecordKey) ([]byte, error) {
	if err := checkStreamKeys(b, keys); err != nil {
		return nil, err
	}
	if len(stream) < StreamHeaderSize {
		return nil, fmt.Errorf("envelope: stream shorter than its header: %w", ErrMalformed)
	}
	o, err := openStreamHeader(stream[:StreamHeaderSize], b, keys)
	if err != nil {
		return nil, err
	}
	body := stream[StreamHeaderSize:]
	full := StreamChunkOverhead + o.chunk
	// The plaintext is body less each chunk's overhead: shorter than the
	// stream the caller already holds, so no length read from the stream
	// decides an allocation.
	ptLen := streamPlaintextLen(len(body), full)
	start := len(dst)
	out := slices.Grow(dst, ptLen)
	if anyOverlap(out[start:cap(out)], stream) {
		// Any of dst's spare capacity, not only ptLen bytes of it: a
		// malformed tail makes ptLen an underestimate, and a chunk's
		// plaintext must never land on the stream.
		out = append(make([]byte, 0, start+ptLen), dst...)
	}
	var ad [9]byte
	for i := uint64(0); ; i++ {
		// Every chunk but the last is full, and a full chunk followed by
		// more bytes is not the last (as StreamReader decides).
		last := len(body) <= full
		n := min(len(body), full)
		if n < StreamChunkOverhead {
			clear(out[start:])
			return nil, fmt.Errorf("envelope: stream truncated (chunk %d incomplete or missing): %w", i, ErrPayloadAuth)
		}
		next, err := o.openChunk(out, body[:n], &ad, i, last)
		if err != nil {
			clear(out[start:]) // the chunks before; GCM cleared its own
			return nil, err
		}
		out = next
		if last {
			return out, nil
		}
		body = body[n:]
	}
}

// streamPlaintextLen is the plaintext length of a stream body of n bytes
// in chunks of full sealed bytes (each but the last full): n less one
// overhead per chunk, or 0. It cannot overflow, whatever n: the chunk
// count is rounded up without adding to n.
func streamPlaintextLen(n, full int) int {
	chunks := n / full
	if n%full != 0 {
		chunks++
	}
	return max(n-chunks*StreamChunkOverhead, 0)
}

// StreamGeneration reads the key generation named by a stream header (its
// first StreamHeaderSize bytes), without a key: the generation is not
// authenticated until the header's commitment is checked.
func StreamGeneration(header []byte) (uint32, error) {
	if len(header) < StreamHeaderSize {
		return 0, fmt.Errorf("envelope: stream header of %d bytes, want %d: %w", len(header), StreamHeaderSize, ErrMalformed)
	}
	gen, _, err := parseStreamHeader(header[:StreamHeaderSize])
	return gen, err
}

func parseStreamHeader(hdr []byte) (gen uint32, chunk int, err error) {
	if string(hdr[:4]) != streamMagic {
		return 0, 0, fmt.Errorf("envelope: not a stream (bad magic): %w", ErrMalformed)
	}
	if hdr[4] != StreamVersion1 || hdr[5] != SuiteAES256GCM {
		return 0, 0, fmt.Errorf("envelope: stream version %d suite %d: %w", hdr[4], hdr[5], ErrVersion)
	}
	switch l := hdr[10]; {
	case l > maxStreamChunkLog:
		return 0, 0, fmt.Errorf("envelope: stream chunk size 2^%d, limit 2^%d: %w", l, maxStreamChunkLog, ErrTooLarge)
	case l < minStreamChunkLog:
		return 0, 0, fmt.Errorf("envelope: stream chunk size 2^%d, minimum 2^%d: %w", l, minStreamChunkLog, ErrMalformed)
	}
	return binary.BigEndian.Uint32(hdr[6:10]), 1 << hdr[10], nil
}

// next reads, verifies and decrypts the next chunk into sr.pt.
func (sr *StreamReader) next() error {
	full := StreamChunkOverhead + sr.chunk
	for empty := 0; sr.have < full+1; {
		m, err := sr.r.Read(sr.buf[sr.have : full+1])
		sr.have += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("envelope: reading stream: %w", err)
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty >= 100 {
			// As bufio: a reader that keeps returning nothing and no
			// error would make us spin.
			return fmt.Errorf("envelope: reading stream: %w", io.ErrNoProgress)
		}
	}
	// A full chunk followed by at least one more byte is not the last;
	// anything else ends at the end of the stream and must be the last.
	last := sr.have <= full
	n := min(sr.have, full)
	if n < StreamChunkOverhead {
		return fmt.Errorf("envelope: stream truncated (chunk %d incomplete or missing): %w", sr.index, ErrPayloadAuth)
	}
	// Opened in place: the plaintext starts where the module's nonce or
	// our ciphertext does (an exact overlap).
	dst := sr.buf[gcmNonceSize:gcmNonceSize]
	if sr.module {
		dst = sr.buf[:0]
	}
	pt, err := sr.openChunk(dst, sr.buf[:n], &sr.ad, sr.index, last)
	if err != nil {
		return err
	}
	sr.index++
	sr.pt = pt
	if last {
		sr.have = 0
		sr.err = io.EOF
	} else {
		// Keep the look-ahead byte for the next chunk; it lies past the
		// plaintext, which stays where it is until read.
		sr.have = 1
	}
	return nil
}

// Read reads verified plaintext. It returns io.EOF only after the last
// chunk verified; any other error means the stream is not authentic from
// the failing chunk on (see NewStreamReader). Errors are sticky.
func (sr *StreamReader) Read(p []byte) (int, error) {
	for len(sr.pt) == 0 {
		if sr.err != nil {
			return 0, sr.err
		}
		if err := sr.prepare(); err != nil {
			return 0, err
		}
	}
	c := copy(p, sr.pt)
	sr.pt = sr.pt[c:]
	return c, nil
}

// prepare moves the look-ahead byte to the front and reads the next chunk.
func (sr *StreamReader) prepare() error {
	if sr.have == 1 {
		sr.buf[0] = sr.buf[StreamChunkOverhead+sr.chunk]
	}
	if err := sr.next(); err != nil {
		sr.err = err
		clear(sr.buf)
		return err
	}
	return nil
}

// WriteTo writes the verified plaintext to w, a chunk at a time, until the
// end of the stream (io.Copy uses it, saving a copy). It returns the
// bytes written and nil at the end of an authentic stream, or the first
// error.
func (sr *StreamReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(sr.pt) > 0 {
			m, err := w.Write(sr.pt)
			total += int64(m)
			sr.pt = sr.pt[m:]
			if err != nil {
				return total, err
			}
			continue
		}
		if sr.err == io.EOF {
			return total, nil
		}
		if sr.err != nil {
			return total, sr.err
		}
		if err := sr.prepare(); err != nil {
			return total, err
		}
	}
}
