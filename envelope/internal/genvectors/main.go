// Command genvectors writes the envelope test vectors of
// testdata/envelope/*.json from fixed seeds: run it with go generate in
// ../.. (envelope). Every random byte comes from a SHA-256 counter-mode
// stream over a named seed, so the output is the same on every run.
//
// Envelopes are produced with the envelope package's exported API; vectors
// that need a header the API refuses to write (tampered, inconsistent,
// hostile parameters) are assembled here byte by byte from FORMAT.md, with
// this program's own implementation of the header commitment and MAC, which
// doubles as a check that FORMAT.md is enough to write an encoder.
package main

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// File is one testdata/envelope/<expect>.json file.
type File struct {
	Comment   string   `json:"comment"`
	Expect    string   `json:"expect"`
	KDFPolicy string   `json:"kdf_policy"`
	Vectors   []Vector `json:"vectors"`
}

// Vector is one envelope and what opening it must give.
type Vector struct {
	Name    string `json:"name"`
	Comment string `json:"comment"`
	UserID  string `json:"user_id"`
	Label   string `json:"label"`
	// Identities, tried in order: passwords (UTF-8) then recovery keys (hex).
	Passwords    []string `json:"passwords,omitempty"`
	RecoveryKeys []string `json:"recovery_keys,omitempty"`
	Header       string   `json:"header"` // hex
	Record       string   `json:"record"` // hex; the envelope is header || record
	// FileKey, when set, is the key of the envelope the record comes from
	// (the RecordKey entry point opens Record with it directly).
	FileKey string `json:"file_key,omitempty"`
	// Plaintext (hex) is what the envelope opens to (success), or, in a
	// failing vector, what Record alone opens to under FileKey.
	Plaintext string `json:"plaintext,omitempty"`
	// Error names the sentinel every failing entry point must wrap.
	Error string `json:"error,omitempty"`
	// RecordError names the sentinel RecordKey.Open of Record under
	// FileKey must wrap, when the record alone fails.
	RecordError string `json:"record_error,omitempty"`
}

type detReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newDetReader(seed string) *detReader { return &detReader{seed: []byte(seed)} }

func (r *detReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.ctr))
			r.ctr++
			r.buf = h.Sum(nil)
		}
		m := copy(p[n:], r.buf)
		r.buf = r.buf[m:]
		n += m
	}
	return n, nil
}

func (r *detReader) bytes(n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

var (
	argon2Params = kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	scryptParams = kdf.Params{Algorithm: kdf.Scrypt, LogN: 4, BlockSize: 1, Parallelism: 1}
	pbkdf2Params = kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
)

// TestPolicy is the kdf policy the vectors are made and read under: tiny
// floors so they run fast, kdf.DefaultCaps as caps.
func TestPolicy() kdf.Policy {
	pol := kdf.Policy{
		New:           argon2Params,
		FloorArgon2id: argon2Params,
		FloorScrypt:   scryptParams,
		FloorPBKDF2:   kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1},
		Caps:          kdf.DefaultCaps(),
	}
	// The floors are tiny (pbkdf2 i=1) and the vectors go up to i=1000: a
	// work cap relative to them would refuse the vectors' own stanzas (the
	// readers in envelope's tests use the same multiple).
	pol.Caps.MaxWorkMultiple = 1 << 20
	return pol
}

const policyText = "floors: argon2id m=64 t=1 p=1, scrypt ln=4 r=1 p=1, pbkdf2-sha256 i=1; caps: kdf.DefaultCaps (argon2id m<=2097152 KiB t<=16 p<=16, scrypt N*r<=2^24 p<=16, pbkdf2 i<=10000000); no pepper"

type gen struct {
	ctx   context.Context
	d     *kdf.Deriver
	files map[string]*File
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func (g *gen) add(expect string, v Vector) {
	f := g.files[expect]
	if f == nil {
		f = &File{Expect: expect, KDFPolicy: policyText, Comment: comments[expect]}
		g.files[expect] = f
	}
	f.Vectors = append(f.Vectors, v)
}

var comments = map[string]string{
	"success":            "Each envelope opens with the identities given (tried in order) and gives plaintext; file_key is the unwrapped key.",
	"no_match":           "No identity unwraps a stanza: every entry point fails with an error wrapping envelope.ErrNoMatch.",
	"header_failure":     "The header is malformed, of an unknown version or suite, over the limits, or fails authentication: the error named.",
	"payload_failure":    "The header opens but the record does not: the error named. The RecordKey entry point opens record with file_key.",
	"commitment_failure": "A key commitment does not match (header or record): envelope.ErrCommitment from every entry point.",
	"params_refused":     "A password stanza asks for KDF parameters above the caps: refused before any derivation (kdf.ErrParamsTooCostly).",
}

// base is a well-formed envelope: its key, header, record and binding.
type base struct {
	b         envelope.Binding
	key       []byte
	header    []byte
	record    []byte
	plaintext []byte
}

func (g *gen) passwordRecipient(pw string, p kdf.Params, r *detReader) envelope.Recipient {
	return must(envelope.NewPasswordRecipient(g.d, []byte(pw), p, r))
}

func (g *gen) make(seed string, b envelope.Binding, plaintext []byte, recipients func(r *detReader) []envelope.Recipient) base {
	r := newDetReader(seed)
	key := must(envelope.NewKey(r))
	h := must(envelope.WrapKey(g.ctx, key, b, recipients(r)...))
	hb := must(h.MarshalBinary())
	rec := sealRecordV1(key, r, b, plaintext)
	return base{b: b, key: key, header: hb, record: rec, plaintext: plaintext}
}

func (x base) vector(name, comment string) Vector {
	return Vector{Name: name, Comment: comment, UserID: x.b.UserID, Label: x.b.Label,
		Header: hex.EncodeToString(x.header), Record: hex.EncodeToString(x.record), FileKey: hex.EncodeToString(x.key)}
}

func (x base) success(name, comment string) Vector {
	v := x.vector(name, comment)
	v.Plaintext = hex.EncodeToString(x.plaintext)
	return v
}

// --- an independent encoder of FORMAT.md, for headers the API won't write ---

type stanza struct {
	typ   string
	keyID []byte
	body  []byte
}

func parseStanzas(header []byte) []stanza {
	h := must(envelope.ParseHeader(header))
	var out []stanza
	for _, s := range h.Stanzas {
		out = append(out, stanza{s.Type, s.KeyID, s.Body})
	}
	return out
}

func headerBody(version, suite byte, ss []stanza) []byte {
	b := []byte("PVEH")
	b = append(b, version, suite, byte(len(ss)))
	for _, s := range ss {
		b = append(b, byte(len(s.typ)))
		b = append(b, s.typ...)
		b = append(b, byte(len(s.keyID)))
		b = append(b, s.keyID...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s.body)))
		b = append(b, s.body...)
	}
	return b
}

func bindingBytes(b envelope.Binding) []byte {
	out := []byte{byte(len(b.UserID))}
	out = append(out, b.UserID...)
	out = append(out, byte(len(b.Label)))
	return append(out, b.Label...)
}

// sealHeader appends commitment and MAC under key and b (FORMAT.md, "Header
// commitment and MAC").
func sealHeader(body, key []byte, b envelope.Binding) []byte {
	prk := must(hkdf.Extract(sha256.New, key, nil))
	commitment := must(hkdf.Expand(sha256.New, prk, "piivault/envelope/v1/header-commitment", 32))
	macKey := must(hkdf.Expand(sha256.New, prk, "piivault/envelope/v1/header-mac", 32))
	out := append(append([]byte(nil), body...), commitment...)
	m := hmac.New(sha256.New, macKey)
	m.Write(bindingBytes(b))
	m.Write(out)
	return m.Sum(out)
}

func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}

// fillRecordOutcome opens v.Record under v.FileKey alone and records the
// outcome, so the RecordKey entry point has an expectation in every vector.
func fillRecordOutcome(expect string, v *Vector) {
	if v.FileKey == "" {
		return
	}
	rk := must(envelope.NewRecordKey(must(hex.DecodeString(v.FileKey)), nil))
	pt, err := rk.Open(nil, envelope.Binding{UserID: v.UserID, Label: v.Label}, must(hex.DecodeString(v.Record)))
	switch {
	case err == nil && expect == "success" && hex.EncodeToString(pt) != v.Plaintext:
		log.Fatalf("%s: record opens to the wrong plaintext", v.Name)
	case err == nil:
		v.Plaintext = hex.EncodeToString(pt)
	case expect == "success":
		log.Fatalf("%s: record does not open: %v", v.Name, err)
	default:
		for name, sentinel := range map[string]error{"ErrMalformed": envelope.ErrMalformed, "ErrVersion": envelope.ErrVersion,
			"ErrCommitment": envelope.ErrCommitment, "ErrPayloadAuth": envelope.ErrPayloadAuth, "ErrTooLarge": envelope.ErrTooLarge} {
			if errors.Is(err, sentinel) {
				v.RecordError = name
			}
		}
		if v.RecordError == "" {
			log.Fatalf("%s: unexpected record error %v", v.Name, err)
		}
	}
}

func main() {
	out := flag.String("out", "../testdata/envelope", "output directory")
	keyedOnly := flag.Bool("keyed-only", false, "write only the version-3 record and stream vectors (records.go, streams.go)")
	flag.Parse()
	genRecordV3(*out) // records.go
	genStreams(*out)  // streams.go
	if *keyedOnly {
		return
	}
	d := must(kdf.New(kdf.Config{Policy: TestPolicy(), MemoryBudget: 64 << 20}))
	g := &gen{ctx: context.Background(), d: d, files: map[string]*File{}}
	jane := envelope.Binding{UserID: "user-900-00-0001", Label: "account"}
	pii := []byte(`{"name":"Jane Q. Sample","dob":"1970-01-01","ssn":"900-12-3456"}`)
	const pw = "correct horse battery staple"

	// --- success ---
	pwArgon := g.make("password-argon2id", jane, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{g.passwordRecipient(pw, argon2Params, r)}
	})
	v := pwArgon.success("password-argon2id", "one password stanza, Argon2id m=64 KiB t=1 p=1")
	v.Passwords = []string{pw}
	g.add("success", v)

	for _, c := range []struct {
		name string
		p    kdf.Params
	}{{"password-scrypt", scryptParams}, {"password-pbkdf2", pbkdf2Params}} {
		x := g.make(c.name, jane, pii, func(r *detReader) []envelope.Recipient {
			return []envelope.Recipient{g.passwordRecipient(pw, c.p, r)}
		})
		v := x.success(c.name, "one password stanza, "+c.p.String())
		v.Passwords = []string{pw}
		g.add("success", v)
	}

	rkr := newDetReader("recovery-keys")
	recovery1 := rkr.bytes(20) // 160 bits, like a printed personal key
	recovery2 := rkr.bytes(16)
	both := g.make("password-and-recovery", jane, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{g.passwordRecipient(pw, argon2Params, r), must(envelope.NewRecoveryRecipient(recovery1, r))}
	})
	v = both.success("password-and-recovery/recovery", "password and recovery stanzas, opened with the recovery key")
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	g.add("success", v)
	v = both.success("password-and-recovery/password", "password and recovery stanzas, opened with the password")
	v.Passwords = []string{pw}
	g.add("success", v)

	empty := g.make("empty-plaintext", envelope.Binding{UserID: "u", Label: "l"}, nil, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{must(envelope.NewRecoveryRecipient(recovery2, r))}
	})
	v = empty.success("recovery/empty-plaintext", "a 128-bit recovery key, one-byte binding fields, empty plaintext")
	v.RecoveryKeys = []string{hex.EncodeToString(recovery2)}
	g.add("success", v)

	long := envelope.Binding{UserID: string(bytes.Repeat([]byte("u"), 255)), Label: string(bytes.Repeat([]byte("l"), 255))}
	longX := g.make("long-binding", long, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{must(envelope.NewRecoveryRecipient(recovery1, r))}
	})
	v = longX.success("recovery/255-byte-binding", "binding fields of the maximum 255 bytes")
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	g.add("success", v)

	nfkc := g.make("password-nfkc", jane, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{g.passwordRecipient("\u00e9l\u00e8ve", argon2Params, r)}
	})
	v = nfkc.success("password/nfkc", "stanza made with precomposed U+00E9; the identity types e + U+0301: NFKC makes them equal")
	v.Passwords = []string{"e\u0301l\u0065\u0300ve"}
	g.add("success", v)

	twoPw := g.make("two-passwords", jane, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{g.passwordRecipient("first password", argon2Params, r), g.passwordRecipient(pw, argon2Params, r)}
	})
	v = twoPw.success("password/second-of-two-stanzas", "two password stanzas; the second matches (two KDF runs)")
	v.Passwords = []string{pw}
	g.add("success", v)

	// --- no_match ---
	v = pwArgon.vector("password/wrong", "wrong password")
	v.Passwords = []string{"correct horse battery stapler"}
	g.add("no_match", v)
	v = both.vector("recovery/wrong", "wrong recovery key")
	v.RecoveryKeys = []string{hex.EncodeToString(recovery2)}
	g.add("no_match", v)
	v = pwArgon.vector("recovery/no-recovery-stanza", "a recovery key against a header with only a password stanza")
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	g.add("no_match", v)
	v = pwArgon.vector("password/moved-to-another-user", "the header of user-900-00-0001 presented as user-900-00-0002's: the stanza commitment covers the binding")
	v.UserID = "user-900-00-0002"
	v.Passwords = []string{pw}
	g.add("no_match", v)
	v = both.vector("recovery/moved-to-another-label", "the header presented under label \"pii\"")
	v.Label = "pii"
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	g.add("no_match", v)

	// --- header_failure ---
	hf := func(name, comment, errName string, header []byte) {
		v := both.vector(name, comment)
		v.Header = hex.EncodeToString(header)
		v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
		v.Error = errName
		g.add("header_failure", v)
	}
	hb := both.header
	hf("mac-flipped", "last bit of the MAC flipped", "ErrHeaderAuth", flip(hb, len(hb)-1, 0x01))
	ss := parseStanzas(hb)
	hf("grease-stanza-appended", "a third stanza appended after sealing (count and stanzas changed, MAC not)", "ErrHeaderAuth",
		append(headerBody(1, 1, append(ss, stanza{"x-grease", []byte("x"), []byte{1, 2, 3}})), hb[len(hb)-64:]...))
	hf("stanzas-reordered", "recovery stanza before the password stanza", "ErrHeaderAuth",
		append(headerBody(1, 1, []stanza{ss[1], ss[0]}), hb[len(hb)-64:]...))
	wrappedTagged := bytes.Clone(ss[1].body)
	wrappedTagged[len(wrappedTagged)-1] ^= 0x80
	hf("recovery-wrap-tag-flipped", "the recovery stanza's GCM tag altered: its commitment still matches", "ErrHeaderAuth",
		sealHeader(headerBody(1, 1, []stanza{ss[0], {ss[1].typ, nil, wrappedTagged}}), both.key, both.b))
	hf("bad-magic", "magic PVEX", "ErrMalformed", append([]byte("PVEX"), hb[4:]...))
	hf("version-2", "version byte 2", "ErrVersion", flip(hb, 4, 0x03))
	hf("suite-2", "suite byte 2", "ErrVersion", flip(hb, 5, 0x03))
	hf("no-stanzas", "stanza count 0", "ErrMalformed", append(headerBody(1, 1, nil), make([]byte, 64)...))
	hf("17-stanzas", "stanza count 17, over the limit of 16: refused before reading any stanza", "ErrTooLarge",
		append([]byte{'P', 'V', 'E', 'H', 1, 1, 17}, make([]byte, 64)...))
	hf("body-4097", "a stanza body length of 4097, over the limit: refused before reading it", "ErrTooLarge",
		append(append([]byte{'P', 'V', 'E', 'H', 1, 1, 1, 1, 'x', 0, 0x10, 0x01}, make([]byte, 4097)...), make([]byte, 64)...))
	hf("uppercase-type", "stanza type \"Recovery\": outside [a-z0-9._-]", "ErrMalformed",
		append(headerBody(1, 1, []stanza{ss[0], {"Recovery", nil, ss[1].body}}), hb[len(hb)-64:]...))
	hf("empty-body", "a stanza with an empty body", "ErrMalformed",
		append(headerBody(1, 1, []stanza{ss[0], {"x", nil, nil}}), hb[len(hb)-64:]...))
	hf("truncated-mac", "the last byte of the MAC missing", "ErrMalformed", hb[:len(hb)-1])
	pwWithKeyID := sealHeader(headerBody(1, 1, []stanza{{ss[0].typ, []byte{1}, ss[0].body}, ss[1]}), both.key, both.b)
	v = both.vector("password-stanza-with-key-id", "a password stanza must have an empty key id (MAC valid)")
	v.Header, v.Passwords, v.Error = hex.EncodeToString(pwWithKeyID), []string{pw}, "ErrMalformed"
	g.add("header_failure", v)
	badParams := bytes.Clone(ss[0].body)
	badParams[1] = 9 // unknown algorithm
	v = both.vector("password-params-unknown-algorithm", "KDF algorithm byte 9 (MAC valid)")
	v.Header = hex.EncodeToString(sealHeader(headerBody(1, 1, []stanza{{ss[0].typ, nil, badParams}, ss[1]}), both.key, both.b))
	v.Passwords, v.Error = []string{pw}, "ErrMalformed"
	g.add("header_failure", v)

	// --- commitment_failure ---
	cf := func(v Vector) {
		v.Error = "ErrCommitment"
		g.add("commitment_failure", v)
	}
	v = both.vector("header-commitment-flipped", "first bit of the header commitment flipped: checked before the MAC")
	v.Header = hex.EncodeToString(flip(hb, len(hb)-64, 0x80))
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	cf(v)
	// Invisible salamander: two recipients, two different keys, one header
	// committed to the first. The second recipient must refuse.
	r := newDetReader("salamander")
	k1, k2 := must(envelope.NewKey(r)), must(envelope.NewKey(r))
	s1 := must(must(envelope.NewRecoveryRecipient(recovery1, r)).Wrap(g.ctx, k1, jane))[0]
	s2 := must(must(envelope.NewRecoveryRecipient(recovery2, r)).Wrap(g.ctx, k2, jane))[0]
	salamander := sealHeader(headerBody(1, 1, []stanza{{s1.Type, nil, s1.Body}, {s2.Type, nil, s2.Body}}), k1, jane)
	rec1 := sealRecordV1(k1, r, jane, pii)
	v = Vector{Name: "salamander/second-recipient", UserID: jane.UserID, Label: jane.Label,
		Comment:      "stanza 2 wraps another key than stanza 1; the header commits to stanza 1's key, so recipient 2 refuses (invisible salamanders)",
		Header:       hex.EncodeToString(salamander),
		Record:       hex.EncodeToString(rec1),
		RecoveryKeys: []string{hex.EncodeToString(recovery2)}}
	cf(v)
	v = both.vector("record-commitment-flipped", "a bit of the record commitment flipped")
	v.Record = hex.EncodeToString(flip(both.record, 6+32+5, 0x10))
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	cf(v)
	other := g.make("other-key", jane, pii, func(r *detReader) []envelope.Recipient {
		return []envelope.Recipient{must(envelope.NewRecoveryRecipient(recovery1, r))}
	})
	v = both.vector("record-under-another-key", "the record of another envelope (another file key) after this header")
	v.Record = hex.EncodeToString(other.record)
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	cf(v)
	v = both.vector("record-of-another-label", "a record sealed under the same key for label \"ssn\", presented under \"account\"")
	v.Record = hex.EncodeToString(sealRecordV1(both.key, newDetReader("other-label"), envelope.Binding{UserID: jane.UserID, Label: "ssn"}, pii))
	v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
	cf(v)

	// --- payload_failure ---
	pf := func(name, comment, errName string, rec []byte) {
		v := both.vector(name, comment)
		v.Record = hex.EncodeToString(rec)
		v.RecoveryKeys = []string{hex.EncodeToString(recovery1)}
		v.Error = errName
		g.add("payload_failure", v)
	}
	rb := both.record
	pf("tag-flipped", "last bit of the GCM tag flipped", "ErrPayloadAuth", flip(rb, len(rb)-1, 0x01))
	pf("ciphertext-flipped", "first ciphertext bit flipped", "ErrPayloadAuth", flip(rb, envelope.RecordHeaderSize+12, 0x80))
	pf("nonce-flipped", "a nonce bit flipped", "ErrPayloadAuth", flip(rb, envelope.RecordHeaderSize, 0x01))
	pf("truncated", "one byte shorter than the overhead", "ErrMalformed", rb[:envelope.RecordOverheadV1-1])
	pf("tag-truncated", "the last tag byte missing", "ErrPayloadAuth", rb[:len(rb)-1])
	pf("record-version-2", "record version byte 2", "ErrVersion", flip(rb, 4, 0x03))
	pf("record-bad-magic", "record magic PVEX", "ErrMalformed", append([]byte("PVEX"), rb[4:]...))

	// --- params_refused ---
	for _, c := range []struct {
		name string
		p    kdf.Params
	}{
		{"argon2id-4GiB", kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 4 << 20, Passes: 1, Threads: 1}},
		{"argon2id-t1000", kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1000, Threads: 1}},
		{"scrypt-ln30-r8", kdf.Params{Algorithm: kdf.Scrypt, LogN: 30, BlockSize: 8, Parallelism: 1}},
		{"pbkdf2-2e9", kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 2_000_000_000}},
	} {
		pb := must(c.p.AppendBinary(nil))
		body := append([]byte{byte(len(pb))}, pb...)
		body = append(body, ss[0].body[1+len(must(argon2Params.AppendBinary(nil))):]...) // salt and wrap of the real stanza
		v := both.vector("password/"+c.name, c.p.String()+" is over kdf.DefaultCaps; header MAC valid")
		v.Header = hex.EncodeToString(sealHeader(headerBody(1, 1, []stanza{{"password", nil, body}, ss[1]}), both.key, both.b))
		v.Passwords, v.Error = []string{pw}, "kdf.ErrParamsTooCostly"
		g.add("params_refused", v)
	}

	for expect, f := range g.files {
		for i := range f.Vectors {
			fillRecordOutcome(expect, &f.Vectors[i])
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			log.Fatal(err)
		}
		path := filepath.Join(*out, expect+".json")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d vectors\n", path, len(f.Vectors))
	}
	writeHeaderV3Vectors(*out)
}
