// Command genvectors writes testdata/serverkey/v3 (serverkey/FORMAT.md
// section 5) from fixed seeds: running it twice gives the same bytes. It
// never touches the version-1 files in testdata/serverkey. Run it with
// go generate ./serverkey, from the serverkey directory.
package main

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/serverkey"
)

const vecDir = "../testdata/serverkey/v3"

var vecOutcomes = []string{"success", "commitment_failure", "payload_failure", "malformed", "unsupported_version", "unknown_key"}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

type vecKey struct {
	ID           string `json:"id"`
	DataKey      string `json:"data_key"`
	AttributeKey string `json:"attribute_key"`
	FPKey        string `json:"fingerprint_key"`
}

type vecCipher struct {
	Name       string   `json:"name"`
	Comment    string   `json:"comment,omitempty"`
	Keys       []vecKey `json:"keys"`
	UserID     string   `json:"user_id"`
	Attribute  string   `json:"attribute"`
	Ciphertext string   `json:"ciphertext"`
	Plaintext  string   `json:"plaintext,omitempty"`
	Error      string   `json:"error,omitempty"`
	// UserKeys (version 3): the attribute key of each key of Keys for
	// UserID, for implementers.
	UserKeys []string `json:"user_attribute_keys,omitempty"`
}

type vecFile struct {
	Comment string      `json:"comment"`
	Expect  string      `json:"expect"`
	Vectors []vecCipher `json:"vectors"`
}

type vecFP struct {
	Name        string   `json:"name"`
	Keys        []vecKey `json:"keys"`
	Kind        string   `json:"kind"`
	CountryCode string   `json:"country_code,omitempty"`
	Input       string   `json:"input"`
	Normalized  string   `json:"normalized,omitempty"`
	// Fingerprints, one per key, current first; empty when Input does
	// not normalize (Error says so).
	Fingerprints []string `json:"fingerprints,omitempty"`
	Error        string   `json:"error,omitempty"`
}

type vecFPFile struct {
	Comment string  `json:"comment"`
	Vectors []vecFP `json:"vectors"`
}

type rawKEK struct{}

func (rawKEK) Encrypt(pt, _ []byte) ([]byte, error) { return bytes.Clone(pt), nil }
func (rawKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	if !bytes.HasPrefix(ct, ad) {
		return nil, errors.New("raw kek: associated data mismatch")
	}
	return bytes.Clone(ct), nil
}

func wrappedRaw(id string, dk []byte) serverkey.WrappedKey {
	w := append([]byte("piivault/serverkey/v1/data-key"), byte(len(id)))
	w = append(w, id...)
	return serverkey.WrappedKey{ID: id, Wrapped: append(w, dk...)}
}

func ringOf(keys []vecKey, cc string, r *rand.ChaCha8) *serverkey.Keyring {
	var wks []serverkey.WrappedKey
	for _, k := range keys {
		dk, err := hex.DecodeString(k.DataKey)
		must(err)
		wks = append(wks, wrappedRaw(k.ID, dk))
	}
	cfg := serverkey.Config{KEK: rawKEK{}, Current: wks[0], Older: wks[1:], PhoneCountryCode: cc}
	if r != nil {
		cfg.Rand = r
	}
	kr, err := serverkey.New(cfg)
	must(err)
	return kr
}

// derivedUser is FORMAT.md's version-3 attribute key of data key dk (id)
// for userID.
func derivedUser(dk []byte, id, userID string) string {
	prk, err := hkdf.Extract(sha256.New, dk, []byte("piivault/serverkey/v1"))
	if err != nil {
		panic(err)
	}
	info := append([]byte("attribute\x00"), byte(len(id)))
	info = append(append(info, id...), byte(len(userID)))
	info = append(info, userID...)
	k, err := hkdf.Expand(sha256.New, prk, string(info), 32)
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(k)
}

func derived(dk []byte, what, id string) string {
	k, err := hkdf.Key(sha256.New, dk, []byte("piivault/serverkey/v1"), what+"\x00"+id, 32)
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(k)
}

func main() {
	seed := func(s string) *rand.ChaCha8 {
		var b [32]byte
		copy(b[:], s)
		return rand.NewChaCha8(b)
	}
	key := func(id, s string) vecKey {
		dk := make([]byte, 32)
		_, _ = seed("data-key/" + s).Read(dk)
		return vecKey{ID: id, DataKey: hex.EncodeToString(dk), AttributeKey: derived(dk, "attribute", id), FPKey: derived(dk, "fingerprint", id)}
	}
	k1, k2, k2b := key("2026-05", "a"), key("2026-11", "b"), key("2026-11", "c")
	seal := func(name string, keys []vecKey, uid, attr, pt string) []byte {
		kr := ringOf(keys, "", seed("seal/"+name))
		ct, err := kr.Seal(context.Background(), uid, attr, []byte(pt))
		must(err)
		return ct
	}
	u, u2 := "user-900-00-0001", "user-900-00-0002"
	files := map[string][]vecCipher{}
	add := func(outcome string, v vecCipher) {
		if v.Error == "" && outcome != "success" {
			panic(v.Name)
		}
		for _, k := range v.Keys {
			dk, _ := hex.DecodeString(k.DataKey)
			v.UserKeys = append(v.UserKeys, derivedUser(dk, k.ID, v.UserID))
		}
		files[outcome] = append(files[outcome], v)
	}
	q := []vecKey{k2, k1}
	email := seal("email", q, u, "email", "jane.sample@example.com")
	add("success", vecCipher{Name: "email-current-key", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(email), Plaintext: hex.EncodeToString([]byte("jane.sample@example.com"))})
	old := seal("old", []vecKey{k1}, u, "phone", "+12025550100")
	add("success", vecCipher{Name: "phone-older-key", Comment: "sealed under the older key of the queue", Keys: q, UserID: u, Attribute: "phone", Ciphertext: hex.EncodeToString(old), Plaintext: hex.EncodeToString([]byte("+12025550100"))})
	empty := seal("empty", q, u, "backup_codes", "")
	add("success", vecCipher{Name: "empty-plaintext", Keys: q, UserID: u, Attribute: "backup_codes", Ciphertext: hex.EncodeToString(empty)})
	seedCT := seal("totp", q, u, "totp_seed", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13")
	add("success", vecCipher{Name: "totp-seed-binary", Keys: q, UserID: u, Attribute: "totp_seed", Ciphertext: hex.EncodeToString(seedCT), Plaintext: "000102030405060708090a0b0c0d0e0f10111213"})

	add("commitment_failure", vecCipher{Name: "other-user", Keys: q, UserID: u2, Attribute: "email", Ciphertext: hex.EncodeToString(email), Error: "ErrCommitment"})
	add("commitment_failure", vecCipher{Name: "other-attribute", Keys: q, UserID: u, Attribute: "phone", Ciphertext: hex.EncodeToString(email), Error: "ErrCommitment"})
	add("commitment_failure", vecCipher{Name: "other-data-key-same-id", Comment: "keyring holds another data key under the same id", Keys: []vecKey{k2b, k1}, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(email), Error: "ErrCommitment"})
	relabel := bytes.Clone(email)
	copy(relabel[6:6+7], "2026-05")
	add("commitment_failure", vecCipher{Name: "key-id-relabelled", Comment: "the id byte string of the older key, same length", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(relabel), Error: "ErrCommitment"})
	flipCommit := bytes.Clone(email)
	flipCommit[6+7+10] ^= 1
	add("commitment_failure", vecCipher{Name: "record-commitment-flipped", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(flipCommit), Error: "ErrCommitment"})
	flipNonce := bytes.Clone(email)
	flipNonce[6+7+42] ^= 1
	add("commitment_failure", vecCipher{Name: "record-nonce-flipped", Comment: "the nonce is inside the version-3 record commitment", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(flipNonce), Error: "ErrCommitment"})
	gen := bytes.Clone(email)
	gen[6+7+9] = 1
	add("malformed", vecCipher{Name: "record-generation-1", Comment: "a serverkey record is always of key generation 0: envelope.ErrGeneration inside ErrDecrypt", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(gen), Error: "envelope.ErrGeneration"})

	flipCT := bytes.Clone(email)
	flipCT[len(flipCT)-20] ^= 1
	add("payload_failure", vecCipher{Name: "ciphertext-byte-flipped", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(flipCT), Error: "ErrPayloadAuth"})
	flipTag := bytes.Clone(email)
	flipTag[len(flipTag)-1] ^= 0x80
	add("payload_failure", vecCipher{Name: "tag-flipped", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(flipTag), Error: "ErrPayloadAuth"})
	add("payload_failure", vecCipher{Name: "trailing-byte", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(append(bytes.Clone(email), 0)), Error: "ErrPayloadAuth"})
	add("payload_failure", vecCipher{Name: "truncated-tag", Keys: q, UserID: u, Attribute: "totp_seed", Ciphertext: hex.EncodeToString(seedCT[:len(seedCT)-1]), Error: "ErrPayloadAuth"})

	mal := func(name, comment string, ct []byte) {
		add("malformed", vecCipher{Name: name, Comment: comment, Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(ct), Error: "ErrMalformed"})
	}
	mal("empty", "", nil)
	mal("magic", "PVSJ", append([]byte("PVSJ"), email[4:]...))
	mal("envelope-record-alone", "a PVER record without the serverkey prefix", email[6+7:])
	zero := append([]byte("PVSK\x03\x00"), email[6+7:]...)
	mal("key-id-length-zero", "", zero)
	mal("key-id-length-65", "", append([]byte("PVSK\x03\x41"), bytes.Repeat([]byte("k"), 65)...))
	mal("key-id-past-end", "", []byte("PVSK\x03\x07"+"2026"))
	colon := bytes.Clone(email)
	colon[6+4] = ':'
	mal("key-id-colon", "':' is not allowed in a key id", colon)
	mal("record-too-short", "69 bytes of record", email[:6+7+69])
	add("malformed", vecCipher{Name: "too-large", Comment: "65,705 bytes: refused before parsing", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(append(bytes.Clone(email), make([]byte, serverkey.MaxCiphertext+1-len(email))...)), Error: "ErrTooLarge"})
	badRec := bytes.Clone(email)
	badRec[6+7+4] = 2
	add("unsupported_version", vecCipher{Name: "version-2", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(append([]byte("PVSK\x02"), email[5:]...)), Error: "ErrVersion"})
	add("unsupported_version", vecCipher{Name: "record-version-2", Comment: "the envelope record's own version byte: envelope.ErrVersion inside ErrDecrypt", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(badRec), Error: "envelope.ErrVersion"})
	badMagic := bytes.Clone(email)
	badMagic[6+7+3] = 'X'
	add("malformed", vecCipher{Name: "record-magic", Comment: "PVEX instead of PVER: envelope.ErrMalformed inside ErrDecrypt", Keys: q, UserID: u, Attribute: "email", Ciphertext: hex.EncodeToString(badMagic), Error: "envelope.ErrMalformed"})
	add("unknown_key", vecCipher{Name: "key-dropped-from-queue", Keys: []vecKey{k2}, UserID: u, Attribute: "phone", Ciphertext: hex.EncodeToString(old), Error: "ErrUnknownKey"})

	for _, o := range vecOutcomes {
		f := vecFile{Expect: o, Vectors: files[o], Comment: "serverkey version 3 vectors (serverkey/FORMAT.md); keys: current first, data_key in hex, attribute_key = K_attr of version 1 (version 3 derives one per user from the same PRK), fingerprint_key = K_fp; plaintext in hex"}
		writeJSON(o+".json", f)
	}

	// Fingerprints.
	var fps []vecFP
	fpv := func(name string, keys []vecKey, kind, cc, in string) {
		v := vecFP{Name: name, Keys: keys, Kind: kind, CountryCode: cc, Input: in}
		kr := ringOf(keys, cc, nil)
		n, err := kr.Normalize(serverkey.Kind(kind), in)
		if err != nil {
			v.Error = "ErrInvalidValue"
			fps = append(fps, v)
			return
		}
		v.Normalized = n
		all, err := kr.Fingerprints(context.Background(), serverkey.Kind(kind), in)
		must(err)
		for _, fp := range all {
			v.Fingerprints = append(v.Fingerprints, fp.String())
		}
		fps = append(fps, v)
	}
	fpv("email-plain", q, "email", "", "jane.sample@example.com")
	fpv("email-trim-and-domain-case", q, "email", "", "  jane.sample@EXAMPLE.Com. ")
	fpv("email-local-case-kept", q, "email", "", "Jane.Sample@example.com")
	fpv("email-unicode-domain", q, "email", "", "jos\u0065\u0301@B\u00dcCHER.example")
	fpv("email-no-at", q, "email", "", "jane.example.com")
	fpv("email-space-inside", q, "email", "", "jane sample@example.com")
	fpv("phone-nanp-national", q, "phone", "", "(202) 555-0100")
	fpv("phone-nanp-trunk-1", q, "phone", "", "1 202 555 0100")
	fpv("phone-international", q, "phone", "", "+44 20 7946 0958")
	fpv("phone-france-national", q, "phone", "33", "06 12 34 56 78")
	fpv("phone-italy-keeps-0", q, "phone", "39", "06 1234 5678")
	fpv("phone-extension", q, "phone", "", "202-555-0100 x12")
	fpv("phone-nanp-short", q, "phone", "", "555-0100")
	writeJSON("fingerprints.json", vecFPFile{Comment: "look-up fingerprints (serverkey/FORMAT.md section 3): one per key, current first; fingerprint_key = K_fp", Vectors: fps})
}

func writeJSON(name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	must(err)
	must(os.MkdirAll(vecDir, 0o755))
	must(os.WriteFile(filepath.Join(vecDir, name), append(b, '\n'), 0o644))
	fmt.Println("wrote", name)
}
