package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/envelope"
)

// HeaderV3File is testdata/envelope/header_v3.json: version-3 headers
// (FORMAT.md section 2.9) and what unwrapping them must give.
type HeaderV3File struct {
	Comment string           `json:"comment"`
	Vectors []HeaderV3Vector `json:"vectors"`
}

// HeaderV3Vector is one version-3 header. On success, unwrapping Header
// with RecoveryKey under the binding gives FileKey, and the header states
// Generation and KeyGeneration and carries OlderKeys (newest first);
// otherwise ParseHeader or unwrapping fails with Error.
type HeaderV3Vector struct {
	Name          string       `json:"name"`
	Comment       string       `json:"comment"`
	UserID        string       `json:"user_id"`
	Label         string       `json:"label"`
	RecoveryKey   string       `json:"recovery_key"` // hex
	Header        string       `json:"header"`       // hex
	FileKey       string       `json:"file_key,omitempty"`
	Generation    uint64       `json:"generation,omitempty"`
	KeyGeneration uint32       `json:"key_generation,omitempty"`
	OlderKeys     []OlderKeyJS `json:"older_keys,omitempty"`
	Error         string       `json:"error,omitempty"`
}

// OlderKeyJS is an older key a header carries.
type OlderKeyJS struct {
	Generation uint32 `json:"generation"`
	Key        string `json:"key"` // hex
}

// writeHeaderV3Vectors writes header_v3.json into dir.
func writeHeaderV3Vectors(dir string) {
	ctx := context.Background()
	b := envelope.Binding{UserID: "user-900-00-0001", Label: "account"}
	r := newDetReader("header-v3")
	f := HeaderV3File{Comment: "Version-3 account headers (FORMAT.md section 2.9): generation counter, key generation, older keys wrapped under the current key. Recovery stanzas only (no KDF). Success vectors give the file key, the generations and the older keys; failing ones the error every reader must wrap."}
	rk := [][]byte{r.bytes(20), r.bytes(20), r.bytes(20)}
	keys := [][]byte{r.bytes(32), r.bytes(32), r.bytes(32)}
	rr := func(i int) envelope.Recipient { return must(envelope.NewRecoveryRecipient(rk[i], r)) }

	h0 := must(envelope.WrapKeyV3(ctx, keys[0], b, rr(0)))
	h1 := must(h0.Rotate(ctx, keys[0], keys[1], b, r, rr(1)))
	h2 := must(h1.Rotate(ctx, keys[1], keys[2], b, r, rr(2)))
	h2b := must(h2.RewrapWith(ctx, keys[2], b, envelope.RewrapOptions{}))
	v1 := must(envelope.WrapKey(ctx, keys[0], b, rr(0)))
	up := must(v1.RewrapWith(ctx, keys[0], b, envelope.RewrapOptions{}))
	pruned := must(h2b.RewrapWith(ctx, keys[2], b, envelope.RewrapOptions{KeepOlder: func(g uint32) bool { return g == 1 }}))

	ok := func(name, comment string, h *envelope.Header, rkI, keyI int, older ...int) {
		v := HeaderV3Vector{Name: name, Comment: comment, UserID: b.UserID, Label: b.Label,
			RecoveryKey: hex.EncodeToString(rk[rkI]), Header: hex.EncodeToString(must(h.MarshalBinary())),
			FileKey: hex.EncodeToString(keys[keyI]), Generation: h.Generation(), KeyGeneration: h.KeyGeneration()}
		for _, o := range older {
			v.OlderKeys = append(v.OlderKeys, OlderKeyJS{Generation: uint32(o), Key: hex.EncodeToString(keys[o])})
		}
		f.Vectors = append(f.Vectors, v)
	}
	ok("success/fresh", "WrapKeyV3: generation 1, key generation 0, no older keys", h0, 0, 0)
	ok("success/rotated-once", "one rotation: generation 2, key generation 1, older key 0", h1, 1, 1, 0)
	ok("success/rotated-twice", "two rotations: generation 3, key generation 2, older keys 1 and 0", h2, 2, 2, 1, 0)
	ok("success/rotated-twice-rewrapped", "a rewrap keeps the key generation and the older keys, generation 4", h2b, 2, 2, 1, 0)
	ok("success/upgraded-from-version-1", "a version-1 header rewrapped to version 3: generation 1", up, 0, 0)
	ok("success/older-key-dropped", "older key 0 dropped after its records were resealed: generation 5", pruned, 2, 2, 1)

	fail := func(name, comment string, header []byte, rkI int, errName string) {
		f.Vectors = append(f.Vectors, HeaderV3Vector{Name: name, Comment: comment, UserID: b.UserID, Label: b.Label,
			RecoveryKey: hex.EncodeToString(rk[rkI]), Header: hex.EncodeToString(header), Error: errName})
	}
	good := must(h2.MarshalBinary())
	// byte 13 is the low byte of the generation; 17 the low byte of the key generation.
	fail("header_failure/generation-raised", "generation changed in the bytes: the MAC covers it", flip(good, 13, 0x04), 2, "ErrHeaderAuth")
	fail("header_failure/key-generation-changed", "key generation changed: the MAC covers it", flip(good, 17, 0x01), 2, "ErrHeaderAuth")
	fail("no_match/old-secret", "the recovery key of generation 0 does not open a header of generation 2", good, 0, "ErrNoMatch")
	ss := parseStanzas(must(h0.MarshalBinary()))
	stz := ss[0]
	older := func(gens ...uint32) []byte {
		out := []byte{byte(len(gens))}
		for _, g := range gens {
			out = binary.BigEndian.AppendUint32(out, g)
			out = append(out, bytes.Repeat([]byte{0xab}, 92)...)
		}
		return out
	}
	pre := func(gen uint64, keyGen uint32, ss []stanza) []byte {
		p := []byte("PVEH\x03\x01")
		p = binary.BigEndian.AppendUint64(p, gen)
		p = binary.BigEndian.AppendUint32(p, keyGen)
		return append(p, headerBody(3, 1, ss)[6:]...)
	}
	pwStanza := stanza{"password", nil, []byte{1}}
	fail("header_failure/generation-0", "a version-3 header of generation 0 (valid MAC)", sealHeader(append(pre(0, 0, []stanza{stz}), older()...), keys[0], b), 0, "ErrMalformed")
	fail("header_failure/two-password-stanzas", "version 3 allows one password stanza (valid MAC)", sealHeader(append(pre(1, 0, []stanza{pwStanza, stz, pwStanza}), older()...), keys[0], b), 0, "ErrMalformed")
	fail("header_failure/older-key-not-below", "an older key of the current key generation (valid MAC)", sealHeader(append(pre(1, 1, []stanza{stz}), older(1)...), keys[0], b), 0, "ErrMalformed")
	fail("header_failure/older-keys-not-decreasing", "older key generations 0 then 1 (valid MAC)", sealHeader(append(pre(1, 5, []stanza{stz}), older(0, 1)...), keys[0], b), 0, "ErrMalformed")
	over := append(pre(1, 40, []stanza{stz}), older()...)
	over[len(over)-1] = envelope.MaxOlderKeys + 1
	fail("header_failure/too-many-older-keys", "an older-key count over 32, refused before reading them", sealHeader(over, keys[0], b), 0, "ErrTooLarge")
	fail("header_failure/truncated-in-older-keys", "the header ends inside an older key", append(pre(1, 5, []stanza{stz}), older(1)[:50]...), 0, "ErrMalformed")
	fail("header_failure/version-2", "header version byte 2 is never used", flip(good, 4, 0x01), 2, "ErrVersion")
	// A wrap of an older key altered under a valid MAC (only a key holder
	// can write this): unwrapping the current key works, the older key fails.
	body := good[:len(good)-64]
	alt := bytes.Clone(body)
	alt[len(alt)-1] ^= 1 // last byte of the last older key's tag
	fail("header_failure/older-key-wrap-altered", "the last older key's GCM tag altered, header re-sealed under the key: OlderKeys fails", sealHeader(alt, keys[2], b), 2, "ErrHeaderAuth")

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&f); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "header_v3.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d vectors\n", path, len(f.Vectors))
}
