package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/envelope"
)

// KeyedVector is a version-3 record or a stream, and what opening it with
// Key (a RecordKey of generation Generation) and the binding must give.
type KeyedVector struct {
	Name       string `json:"name"`
	Comment    string `json:"comment"`
	Key        string `json:"key"` // hex, the file (account) key
	Generation uint32 `json:"generation"`
	UserID     string `json:"user_id"`
	Label      string `json:"label"`
	Record     string `json:"record,omitempty"` // hex
	Stream     string `json:"stream,omitempty"` // hex
	ChunkSize  int    `json:"chunk_size,omitempty"`
	Plaintext  string `json:"plaintext,omitempty"` // hex, success
	Error      string `json:"error,omitempty"`     // sentinel name, failure
	// Released (hex) is the plaintext a stream reader has returned
	// before the failure: the verified chunks before the first bad one.
	Released string `json:"released,omitempty"`
}

// KeyedFile is one testdata/envelope/{record_v3,stream}_<outcome>.json.
type KeyedFile struct {
	Comment string        `json:"comment"`
	Expect  string        `json:"expect"`
	Vectors []KeyedVector `json:"vectors"`
}

func writeKeyedFiles(dir string, files map[string]*KeyedFile) {
	for name, f := range files {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			log.Fatal(err)
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d vectors\n", path, len(f.Vectors))
	}
}

var keyedErrors = map[string]error{
	"ErrMalformed": envelope.ErrMalformed, "ErrVersion": envelope.ErrVersion, "ErrTooLarge": envelope.ErrTooLarge,
	"ErrGeneration": envelope.ErrGeneration, "ErrCommitment": envelope.ErrCommitment, "ErrPayloadAuth": envelope.ErrPayloadAuth,
}

func errName(err error) string {
	for name, e := range keyedErrors {
		if err != nil && errors.Is(err, e) {
			return name
		}
	}
	log.Fatalf("unexpected error %v", err)
	return ""
}

// genRecordV3 writes record_v3_success.json and record_v3_failure.json:
// version-3 records (FORMAT.md 4.1) made by RecordKey.Seal from fixed seeds,
// and altered copies, each checked against the package before it is
// written.
func genRecordV3(dir string) {
	files := map[string]*KeyedFile{
		"record_v3_success": {Expect: "success", Comment: "Each version-3 record opens under key (a RecordKey of the generation given) and the binding, to plaintext."},
		"record_v3_failure": {Expect: "failure", Comment: "Each version-3 record (or record-like input) fails under key, generation and binding with the error named, and gives no plaintext."},
	}
	jane := envelope.Binding{UserID: "user-900-00-0001", Label: "ssn"}
	r := newDetReader("record-v3")
	key := r.bytes(32)
	add := func(file, name, comment string, gen uint32, b envelope.Binding, rec, pt []byte) {
		k := must(envelope.NewRecordKeyForGeneration(key, gen, nil))
		got, err := k.Open(nil, b, rec)
		v := KeyedVector{Name: name, Comment: comment, Key: hex.EncodeToString(key), Generation: gen,
			UserID: b.UserID, Label: b.Label, Record: hex.EncodeToString(rec)}
		if file == "record_v3_success" {
			if err != nil || !bytes.Equal(got, pt) {
				log.Fatalf("%s: %v", name, err)
			}
			v.Plaintext = hex.EncodeToString(pt)
		} else {
			if err == nil {
				log.Fatalf("%s: opened", name)
			}
			v.Error = errName(err)
		}
		files[file].Vectors = append(files[file].Vectors, v)
	}
	seal := func(gen uint32, b envelope.Binding, pt []byte) []byte {
		return must(must(envelope.NewRecordKeyForGeneration(key, gen, r)).Seal(nil, b, pt))
	}
	ssn := []byte("900-12-3456")
	g0 := seal(0, jane, ssn)
	add("record_v3_success", "generation-0", "generation 0, an 11-byte plaintext", 0, jane, g0, ssn)
	g7 := seal(7, jane, ssn)
	add("record_v3_success", "generation-7", "generation 7", 7, jane, g7, ssn)
	add("record_v3_success", "generation-max", "generation 2^32-1, empty plaintext", 0xffffffff, jane, seal(0xffffffff, jane, nil), nil)
	long := envelope.Binding{UserID: string(bytes.Repeat([]byte("u"), 255)), Label: string(bytes.Repeat([]byte("l"), 255))}
	pt1k := bytes.Repeat([]byte("PII "), 256)
	add("record_v3_success", "255-byte-binding", "binding fields of 255 bytes (the commitment HMAC spans several blocks), 1 KiB plaintext", 3, long, seal(3, long, pt1k), pt1k)

	fail := func(name, comment string, gen uint32, b envelope.Binding, rec []byte) {
		add("record_v3_failure", name, comment, gen, b, rec, nil)
	}
	fail("other-generation", "a generation-7 record under the same key bytes as generation 8: refused before any cryptography", 8, jane, g7)
	fail("generation-rewritten", "the generation field rewritten from 7 to 8 and opened with generation 8: the commitment covers it", 8, jane, setBytes(g7, 6, 0, 0, 0, 8))
	fail("other-label", "opened under label \"pii\"", 7, envelope.Binding{UserID: jane.UserID, Label: "pii"}, g7)
	fail("other-user", "opened for user-900-00-0002", 7, envelope.Binding{UserID: "user-900-00-0002", Label: jane.Label}, g7)
	fail("commitment-flipped", "a commitment bit flipped", 7, jane, flip(g7, 20, 0x04))
	fail("nonce-flipped", "a nonce bit flipped: the nonce is inside the commitment", 7, jane, flip(g7, 42, 0x01))
	fail("ciphertext-flipped", "a ciphertext bit flipped", 7, jane, flip(g7, 54, 0x80))
	fail("tag-flipped", "a tag bit flipped", 7, jane, flip(g7, len(g7)-1, 0x01))
	fail("tag-truncated", "the last byte missing", 7, jane, g7[:len(g7)-1])
	fail("version-2", "version byte 2 (reserved)", 7, jane, setBytes(g7, 4, 2))
	fail("version-4", "version byte 4", 7, jane, setBytes(g7, 4, 4))
	fail("suite-2", "suite byte 2", 7, jane, setBytes(g7, 5, 2))
	fail("bad-magic", "magic PVES (a stream header)", 7, jane, setBytes(g7, 3, 'S'))
	fail("short", "69 bytes, one less than the overhead", 7, jane, g7[:69])
	fail("as-version-1", "version byte 1 on a version-3 record of 81 bytes: shorter than version 1's 98", 0, jane, setBytes(g0, 4, 1))
	writeKeyedFiles(dir, files)
}

func setBytes(b []byte, at int, v ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[at:], v)
	return c
}

// genStreams writes stream_{success,header_failure,commitment_failure,
// payload_failure}.json (FORMAT.md section 11).
func genStreams(dir string) {
	files := map[string]*KeyedFile{
		"stream_success":            {Expect: "success", Comment: "Each stream opens under key (a RecordKey of the generation given) and the binding, to plaintext."},
		"stream_header_failure":     {Expect: "header_failure", Comment: "The stream header is refused before any chunk is read: the error named."},
		"stream_commitment_failure": {Expect: "commitment_failure", Comment: "The stream header's commitment does not match this key, generation and binding: ErrCommitment before any chunk is read."},
		"stream_payload_failure":    {Expect: "payload_failure", Comment: "The header checks out but a chunk does not: the error named, after the reader released exactly the plaintext in released (the verified chunks before the bad one)."},
	}
	b := envelope.Binding{UserID: "user-900-00-0001", Label: "id-document"}
	r := newDetReader("streams")
	key := r.bytes(32)
	seal := func(gen uint32, b envelope.Binding, chunk int, pt []byte) []byte {
		var out bytes.Buffer
		w := must(must(envelope.NewRecordKeyForGeneration(key, gen, r)).NewStreamWriter(&out, b, chunk))
		must(w.Write(pt))
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		return out.Bytes()
	}
	add := func(file, name, comment string, gen uint32, b envelope.Binding, chunk int, s, pt []byte) {
		k := must(envelope.NewRecordKeyForGeneration(key, gen, nil))
		v := KeyedVector{Name: name, Comment: comment, Key: hex.EncodeToString(key), Generation: gen,
			UserID: b.UserID, Label: b.Label, Stream: hex.EncodeToString(s), ChunkSize: chunk}
		sr, err := k.NewStreamReader(bytes.NewReader(s), b)
		var got bytes.Buffer
		if err == nil {
			_, err = sr.WriteTo(&got)
		}
		switch {
		case file == "stream_success":
			if err != nil || !bytes.Equal(got.Bytes(), pt) {
				log.Fatalf("%s: %v", name, err)
			}
			v.Plaintext = hex.EncodeToString(pt)
		case err == nil:
			log.Fatalf("%s: opened", name)
		default:
			v.Error = errName(err)
			if file != "stream_payload_failure" && got.Len() > 0 {
				log.Fatalf("%s: released plaintext before a header failure", name)
			}
			v.Released = hex.EncodeToString(got.Bytes())
		}
		files[file].Vectors = append(files[file].Vectors, v)
	}
	pt := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte('a' + i%26)
		}
		return p
	}
	const c = 16
	add("stream_success", "empty", "empty plaintext: one empty last chunk", 0, b, c, seal(0, b, c, nil), nil)
	add("stream_success", "one-byte", "one byte", 0, b, c, seal(0, b, c, pt(1)), pt(1))
	add("stream_success", "exactly-one-chunk", "16 bytes in 16-byte chunks: one full last chunk", 0, b, c, seal(0, b, c, pt(16)), pt(16))
	add("stream_success", "chunk-plus-one", "17 bytes: a full chunk and a 1-byte last chunk", 0, b, c, seal(0, b, c, pt(17)), pt(17))
	three := seal(5, b, c, pt(48))
	add("stream_success", "three-full-chunks-generation-5", "48 bytes, generation 5: the last chunk is full", 5, b, c, three, pt(48))
	add("stream_success", "default-chunk-size", "70,000 bytes in 64 KiB chunks (log2 16)", 0, b, 0, seal(0, b, 0, pt(70000)), pt(70000))

	hdr := envelope.StreamHeaderSize
	hf := func(name, comment string, gen uint32, s []byte) {
		add("stream_header_failure", name, comment, gen, b, c, s, nil)
	}
	hf("short-header", "74 bytes", 5, three[:hdr-1])
	hf("bad-magic", "magic PVER (a record)", 5, setBytes(three, 3, 'R'))
	hf("version-2", "stream version 2", 5, setBytes(three, 4, 2))
	hf("suite-2", "suite 2", 5, setBytes(three, 5, 2))
	hf("chunk-log-25", "chunk size 2^25, over the 2^24 limit: refused before allocating", 5, setBytes(three, 10, 25))
	hf("chunk-log-3", "chunk size 2^3, under the 2^4 minimum", 5, setBytes(three, 10, 3))
	hf("other-generation", "a generation-5 stream opened with generation 6", 6, three)

	cf := func(name, comment string, gen uint32, bb envelope.Binding, s []byte) {
		add("stream_commitment_failure", name, comment, gen, bb, c, s, nil)
	}
	cf("other-label", "opened under label \"selfie\"", 5, envelope.Binding{UserID: b.UserID, Label: "selfie"}, three)
	cf("salt-flipped", "a salt bit flipped", 5, b, flip(three, 20, 0x01))
	cf("chunk-size-changed", "chunk size rewritten to 2^5: it is inside the commitment", 5, b, setBytes(three, 10, 5))
	cf("generation-rewritten", "generation rewritten from 5 to 6 and opened with generation 6", 6, b, setBytes(three, 6, 0, 0, 0, 6))
	cf("commitment-flipped", "a commitment bit flipped", 5, b, flip(three, hdr-1, 0x80))

	pf := func(name, comment string, s []byte) {
		add("stream_payload_failure", name, comment, 5, b, c, s, nil)
	}
	ch := func(s []byte, i int) []byte { // chunk i of a 16-byte-chunk stream
		start := hdr + i*(c+envelope.StreamChunkOverhead)
		return s[start:min(len(s), start+c+envelope.StreamChunkOverhead)]
	}
	head := three[:hdr]
	join := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{head}, parts...), nil) }
	c0, c1, c2 := ch(three, 0), ch(three, 1), ch(three, 2)
	other := seal(5, b, c, pt(48)) // same key, generation, binding and plaintext; another salt
	pf("truncated-at-boundary", "the last chunk dropped: chunk 1 is now at the end and is not a last chunk", join(c0, c1))
	pf("only-header", "no chunk at all", head)
	pf("chunk-dropped", "chunk 1 dropped", join(c0, c2))
	pf("chunk-duplicated", "chunk 0 twice", join(c0, c0, c1, c2))
	pf("chunks-reordered", "chunks 1 and 2 swapped", join(c0, c2, c1))
	pf("trailing-byte", "a zero byte after the last chunk: the last chunk is no longer at the end", append(bytes.Clone(three), 0))
	pf("trailing-chunk", "the last chunk repeated after itself", join(c0, c1, c2, c2))
	pf("chunk-of-another-stream", "chunk 1 of another stream of the same key, generation, binding and plaintext", join(c0, ch(other, 1), c2))
	pf("chunk-flipped", "a ciphertext bit of chunk 2 flipped", join(c0, c1, flip(c2, 14, 0x02)))
	pf("nonce-flipped", "a nonce bit of chunk 0 flipped", join(flip(c0, 0, 0x01), c1, c2))
	pf("truncated-mid-chunk", "the stream cut 3 bytes into chunk 2's tag", three[:len(three)-13])
	writeKeyedFiles(dir, files)
}
