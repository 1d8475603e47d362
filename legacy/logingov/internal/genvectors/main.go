// Command genvectors writes testdata/logingov/vectors.json: Login.gov
// stored values in every supported layer under both secrets, and values
// that must be refused, each with its expected outcome. It builds them with
// package logingovtest (written from the format document, not from the
// reader) and a seeded ChaCha8 stream, so the output is reproducible.
//
// Run from the repository root: go run ./legacy/logingov/internal/genvectors
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
)

// File is the vectors file.
type File struct {
	Comment         string   `json:"comment"`
	KMSSeed         string   `json:"kms_seed"`
	Pepper          string   `json:"pepper"`
	FingerprintKeys []string `json:"fingerprint_keys"`
	Vectors         []Vector `json:"vectors"`
}

// Vector is one stored value and what opening it must give.
type Vector struct {
	Name       string `json:"name"`
	UUID       string `json:"uuid"`
	SecretKind string `json:"secret_kind"` // password | personal_key
	Secret     string `json:"secret"`      // as typed
	Layer      string `json:"layer,omitempty"`
	Cost       string `json:"cost,omitempty"`
	Stored     string `json:"stored,omitempty"`
	StoredB64  string `json:"stored_b64,omitempty"` // binary values
	Want       string `json:"want"`                 // ok or an error kind
	Plaintext  string `json:"plaintext,omitempty"`
}

const (
	kmsSeed  = "piivault logingov test vectors"
	uuidJane = "0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91"
	uuidJohn = "f3a1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	password = "correct horse battery staple"
)

func main() {
	out := "testdata/logingov/vectors.json"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := run(out); err != nil {
		fmt.Fprintln(os.Stderr, "genvectors:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	ctx := context.Background()
	rng := rand.NewChaCha8([32]byte([]byte("piivault-logingov-vectors-seed-1")))
	kms := logingovtest.NewMemKMS([]byte(kmsSeed))
	pepper := []byte(strings.Repeat("a", 32))
	fpKey := []byte(strings.Repeat("a", 128))
	shown, normalized, err := logingovtest.PersonalKey(rng)
	if err != nil {
		return err
	}
	// A user types it in lower case with spaces and an O for a 0.
	typed := strings.ToLower(shown)

	jane := map[string]any{
		"first_name": "Jane", "middle_name": "Q", "last_name": "Sample",
		"address1": "123 Example St", "address2": "Apt 4", "city": "Springfield",
		"state": "VA", "zipcode": "22150",
		"ipp_current_address_matches_id": true,
		"identity_doc_address1":          "99 Former Rd", "identity_doc_city": "Fairfax",
		"identity_doc_zipcode": "22030", "state_id_jurisdiction": "VA",
		"identity_doc_address_state": "VA",
		"ssn":                        "900123456", "dob": "1980-02-29", "phone": "+1 202-555-0143",
		"issuing_country_code": "US",
	}
	current := logingovtest.PIIJSON(logingovtest.Members, jane)
	old2016 := logingovtest.PIIJSON([]string{"first_name", "middle_name", "last_name", "address1", "address2", "city", "state", "zipcode", "ssn", "dob", "phone"},
		map[string]any{"first_name": "John", "last_name": "Sample", "address1": "1 Test Ave", "city": "Testville", "state": "MD", "zipcode": "20910", "ssn": "900-12-3457", "dob": "07/04/1976", "phone": "(301) 555-0199"})
	big := map[string]any{}
	for k, v := range jane {
		big[k] = v
	}
	big["x_synthetic_padding"] = strings.Repeat("padding ", 800) // pushes the AES layer over 8192 bytes: 3 or 4 chunks

	f := File{
		Comment: "Login.gov encrypted-PII values made by legacy/logingov/internal/genvectors (package logingovtest, " +
			"written from shared/context/logingov-pii-format.md). Synthetic identities only. KMS blobs are logingovtest.MemKMS " +
			"blobs under SHA-256(kms_seed); local-mode values use pepper and the first fingerprint key (Login.gov's development defaults).",
		KMSSeed:         kmsSeed,
		Pepper:          string(pepper),
		FingerprintKeys: []string{string(fpKey), "11111111111111111111111111111111"},
	}
	add := func(name, uuid, kind, secret string, o logingovtest.Options, pt []byte, want string) error {
		s := password
		if kind == "personal_key" {
			s = normalized
		}
		o.Rand, o.KMS, o.FingerprintKey = rng, kms, fpKey
		if o.Pepper == nil {
			o.Pepper = pepper
		}
		v, err := logingovtest.Seal(ctx, uuid, []byte(s), pt, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		vec := Vector{Name: name, UUID: uuid, SecretKind: kind, Secret: secret, Layer: o.Layer, Cost: o.Cost, Stored: string(v), Want: want}
		if want == "ok" {
			vec.Plaintext = string(pt)
		}
		f.Vectors = append(f.Vectors, vec)
		return nil
	}
	secretFor := func(kind string) string {
		if kind == "personal_key" {
			return typed
		}
		return password
	}
	for _, layer := range []string{logingovtest.KMSc, logingovtest.LOCc, logingovtest.KMSx, logingovtest.Local} {
		for _, kind := range []string{"password", "personal_key"} {
			if err := add(layer+" "+kind+" copy", uuidJane, kind, secretFor(kind), logingovtest.Options{Layer: layer}, current, "ok"); err != nil {
				return err
			}
		}
	}
	steps := []struct {
		name, uuid, kind, secret string
		o                        logingovtest.Options
		pt                       []byte
		want                     string
	}{
		{"KMSc multi-chunk (AES layer over 8192 bytes)", uuidJane, "password", password, logingovtest.Options{}, logingovtest.PIIJSON(logingovtest.Members, big), "ok"},
		{"LOCc multi-chunk", uuidJane, "password", password, logingovtest.Options{Layer: logingovtest.LOCc}, logingovtest.PIIJSON(logingovtest.Members, big), "ok"},
		{"KMSx JSON array form, one chunk", uuidJane, "password", password, logingovtest.Options{Layer: logingovtest.KMSx, KMSxArray: true}, current, "ok"},
		{"KMSx JSON array form, multi-chunk", uuidJane, "password", password, logingovtest.Options{Layer: logingovtest.KMSx}, logingovtest.PIIJSON(logingovtest.Members, big), "ok"},
		{"LOCc uuid starting with f (sorts between context and pii-encryption)", uuidJohn, "password", password, logingovtest.Options{Layer: logingovtest.LOCc}, current, "ok"},
		{"salt whose SHA-256 begins 00 (31-byte scrypt salt)", uuidJane, "password", password, logingovtest.Options{Salt: "a6d68dda8f2d6ebb9aa6b05921d98cbff268c74695d48bd3a287b144874e6969"}, current, "ok"},
		{"salt whose SHA-256 begins 0000 (30-byte scrypt salt)", uuidJane, "personal_key", typed, logingovtest.Options{Salt: "7f6506ba672fa1771c2c18f46e4204aab351c8e81cd6dae670e764586d0c354c"}, current, "ok"},
		{"production cost 10000$8$1$", uuidJane, "password", password, logingovtest.Options{Cost: "10000$8$1$"}, current, "ok"},
		{"pre-2018-07 default cost 4000$8$4$", uuidJane, "personal_key", typed, logingovtest.Options{Cost: "4000$8$4$"}, current, "ok"},
		{"2016 member set, MM/DD/YYYY dob, dashed ssn", uuidJane, "password", password, logingovtest.Options{}, old2016, "ok"},
		{"non-ASCII password and names", uuidJane, "password", "pässwörd ✓", logingovtest.Options{}, logingovtest.PIIJSON(logingovtest.Members, map[string]any{"first_name": "Zoë", "last_name": "Ñandú-Sample"}), "ok"},
		{"null personal-key copy (2021 bug)", uuidJane, "personal_key", typed, logingovtest.Options{}, []byte("null"), "no_pii"},
		{"wrong password", uuidJane, "password", password + "!", logingovtest.Options{}, current, "auth"},
		{"wrong personal key", uuidJane, "personal_key", "0000-0000-0000-0000", logingovtest.Options{}, current, "auth"},
		{"KMSc under another user's uuid", uuidJohn, "password", password, logingovtest.Options{}, current, "kms_wrong_uuid"},
		{"LOCc under another user's uuid", uuidJohn, "password", password, logingovtest.Options{Layer: logingovtest.LOCc}, current, "kms_wrong_uuid"},
		{"invalid personal key (U is not Crockford)", uuidJane, "personal_key", "ABCD-EFGH-JKMN-PQRU", logingovtest.Options{}, current, "invalid_personal_key"},
	}
	for _, s := range steps {
		secret := s.secret
		if s.name == "non-ASCII password and names" {
			o := s.o
			o.Rand, o.KMS = rng, kms
			v, err := logingovtest.Seal(ctx, s.uuid, []byte(secret), s.pt, o)
			if err != nil {
				return err
			}
			f.Vectors = append(f.Vectors, Vector{Name: s.name, UUID: s.uuid, SecretKind: s.kind, Secret: secret, Layer: "KMSc", Stored: string(v), Want: "ok", Plaintext: string(s.pt)})
			continue
		}
		if err := add(s.name, s.uuid, s.kind, secret, s.o, s.pt, s.want); err != nil {
			return err
		}
	}
	// The uuid of a wrong-uuid vector is the one the value was made for;
	// the test opens it under uuidJane.
	for i := range f.Vectors {
		if strings.HasPrefix(f.Vectors[i].Want, "kms_wrong_uuid") {
			f.Vectors[i].UUID = uuidJane
			f.Vectors[i].Want = "kms"
		}
	}

	// Values that must be refused without any key.
	b64 := base64.StdEncoding.EncodeToString
	refused := []Vector{
		{Name: "2016-2018 UAK value", Stored: b64([]byte("masked-key-bytes-000")) + "." + b64([]byte("payload")), Want: "unsupported"},
		{Name: "June 2018 bare base64 KMSx value", Stored: b64([]byte("KMSx\x01\x02\x03raw-kms-blob")), Want: "unsupported"},
		{Name: "2018 20-character salt", Stored: `{"encrypted_data":"` + b64([]byte(`KMSc["AAAA"]`)) + `","salt":"Ab3_d-F6h8J0kLmNoPqR","cost":"10000$8$1$"}`, Want: "unsupported"},
		{Name: "regions KMS blob", Stored: `{"encrypted_data":"` + b64([]byte(`{"regions":{"us-west-2":"AAAA"}}`)) + `","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`, Want: "unsupported"},
		{Name: "MessagePack v2 draft", StoredB64: b64(append([]byte{0x85, 0xa1, 't', 0xc4, 4}, []byte("KMSc")...)), Want: "unsupported"},
		{Name: "cost asking for N = 2^62", Stored: `{"encrypted_data":"` + b64([]byte(`KMSc["AAAA"]`)) + `","salt":"` + strings.Repeat("0", 64) + `","cost":"4000000000000000$8$1$"}`, Want: "params"},
		{Name: "cost with r*p = 2^40", Stored: `{"encrypted_data":"` + b64([]byte(`KMSc["AAAA"]`)) + `","salt":"` + strings.Repeat("0", 64) + `","cost":"800$100000$100000$"}`, Want: "params"},
		{Name: "encrypted_data not base64", Stored: `{"encrypted_data":"KMSc[]","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`, Want: "base64"},
		{Name: "encrypted_data with a line break", Stored: `{"encrypted_data":"S01T\nYw==","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`, Want: "base64"},
		{Name: "stored value not JSON", Stored: `{"encrypted_data":`, Want: "json"},
		{Name: "cost missing", Stored: `{"encrypted_data":"","salt":"` + strings.Repeat("0", 64) + `"}`, Want: "json"},
		{Name: "KMSc chunk list not JSON", Stored: `{"encrypted_data":"` + b64([]byte(`KMSc{nope`)) + `","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`, Want: "json"},
		{Name: "KMSc chunk list empty", Stored: `{"encrypted_data":"` + b64([]byte(`KMSc[]`)) + `","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`, Want: "blob"},
	}
	for _, v := range refused {
		v.UUID, v.SecretKind, v.Secret = uuidJane, "password", password
		f.Vectors = append(f.Vectors, v)
	}

	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
