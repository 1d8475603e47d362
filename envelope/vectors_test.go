package envelope

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/piivault/piivault/kdf"
)

type vectorFile struct {
	Expect  string         `json:"expect"`
	Vectors []vectorRecord `json:"vectors"`
}

type vectorRecord struct {
	Name         string   `json:"name"`
	UserID       string   `json:"user_id"`
	Label        string   `json:"label"`
	Passwords    []string `json:"passwords"`
	RecoveryKeys []string `json:"recovery_keys"`
	Header       string   `json:"header"`
	Record       string   `json:"record"`
	FileKey      string   `json:"file_key"`
	Plaintext    string   `json:"plaintext"`
	Error        string   `json:"error"`
	RecordError  string   `json:"record_error"`
}

var vectorErrors = map[string]error{
	"ErrNoMatch":             ErrNoMatch,
	"ErrMalformed":           ErrMalformed,
	"ErrTooLarge":            ErrTooLarge,
	"ErrHeaderAuth":          ErrHeaderAuth,
	"ErrCommitment":          ErrCommitment,
	"ErrPayloadAuth":         ErrPayloadAuth,
	"ErrVersion":             ErrVersion,
	"kdf.ErrParamsTooCostly": kdf.ErrParamsTooCostly,
}

var vectorOutcomes = []string{"success", "no_match", "header_failure", "payload_failure", "commitment_failure", "params_refused"}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (v *vectorRecord) identities(t *testing.T, d *kdf.Deriver) []Identity {
	var ids []Identity
	for _, pw := range v.Passwords {
		id, err := NewPasswordIdentity(d, []byte(pw))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, rk := range v.RecoveryKeys {
		id, err := NewRecoveryIdentity(mustHex(t, rk))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestVectors runs every vector of testdata/envelope through every entry
// point: ParseHeader + UnwrapKey + RecordKey.Open, the single-shot Open,
// and RecordKey.Open of the record alone under file_key. These files are
// the version-1 golden files: they must keep opening, byte for byte, in
// every later release.
func TestVectors(t *testing.T) {
	d := testDeriver(t)
	ctx := context.Background()
	total := 0
	for _, outcome := range vectorOutcomes {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "envelope", outcome+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f.Expect != outcome || len(f.Vectors) == 0 {
			t.Fatalf("%s.json: expect %q, %d vectors", outcome, f.Expect, len(f.Vectors))
		}
		for _, v := range f.Vectors {
			total++
			t.Run(outcome+"/"+v.Name, func(t *testing.T) {
				b := Binding{UserID: v.UserID, Label: v.Label}
				header, record := mustHex(t, v.Header), mustHex(t, v.Record)
				want := vectorErrors[v.Error]
				switch outcome {
				case "success":
					if v.Error != "" {
						t.Fatal("success vector with an error")
					}
				case "no_match":
					want = ErrNoMatch
				case "commitment_failure":
					want = ErrCommitment
				case "params_refused":
					want = kdf.ErrParamsTooCostly
				}
				if outcome != "success" && (want == nil || (v.Error != "" && vectorErrors[v.Error] != want)) {
					t.Fatalf("vector names error %q, outcome %s", v.Error, outcome)
				}
				check := func(entry string, pt []byte, err error) {
					t.Helper()
					if outcome == "success" {
						if err != nil {
							t.Fatalf("%s: %v", entry, err)
						}
						if !bytes.Equal(pt, mustHex(t, v.Plaintext)) {
							t.Fatalf("%s: wrong plaintext", entry)
						}
						return
					}
					if pt != nil {
						t.Fatalf("%s: returned plaintext with a failure", entry)
					}
					if !errors.Is(err, want) {
						t.Fatalf("%s: got %v, want %v", entry, err, want)
					}
				}

				// Entry point 1: ParseHeader, UnwrapKey, RecordKey.Open.
				pt, err := func() ([]byte, error) {
					h, err := ParseHeader(header)
					if err != nil {
						return nil, err
					}
					key, err := UnwrapKey(ctx, h, b, v.identities(t, d)...)
					if err != nil {
						return nil, err
					}
					if outcome == "success" && !bytes.Equal(key, mustHex(t, v.FileKey)) {
						t.Fatal("unwrapped the wrong key")
					}
					rk, err := NewRecordKey(key, nil)
					if err != nil {
						return nil, err
					}
					return rk.Open(nil, b, record)
				}()
				check("ParseHeader+UnwrapKey+RecordKey.Open", pt, err)

				// Entry point 2: single-shot Open of header || record.
				pt, err = Open(ctx, b, append(bytes.Clone(header), record...), v.identities(t, d)...)
				check("Open", pt, err)

				// Entry point 3: RecordKey.Open of the record alone.
				if v.FileKey != "" {
					rk, err := NewRecordKey(mustHex(t, v.FileKey), nil)
					if err != nil {
						t.Fatal(err)
					}
					pt, err := rk.Open(nil, b, record)
					if v.RecordError != "" {
						if pt != nil || !errors.Is(err, vectorErrors[v.RecordError]) {
							t.Fatalf("RecordKey.Open: got %v, want %s", err, v.RecordError)
						}
					} else if err != nil || !bytes.Equal(pt, mustHex(t, v.Plaintext)) {
						t.Fatalf("RecordKey.Open: %v", err)
					}
				}
			})
		}
	}
	t.Logf("%d vectors, each through 2 or 3 entry points", total)
}
