package envelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type keyedVector struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Generation uint32 `json:"generation"`
	UserID     string `json:"user_id"`
	Label      string `json:"label"`
	Record     string `json:"record"`
	Stream     string `json:"stream"`
	ChunkSize  int    `json:"chunk_size"`
	Plaintext  string `json:"plaintext"`
	Error      string `json:"error"`
	Released   string `json:"released"`
}

func loadKeyedVectors(t *testing.T, name, expect string) []keyedVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "envelope", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Expect  string        `json:"expect"`
		Vectors []keyedVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.Expect != expect || len(f.Vectors) == 0 {
		t.Fatalf("%s: expect %q, %d vectors", name, f.Expect, len(f.Vectors))
	}
	return f.Vectors
}

var keyedVectorErrors = map[string]error{
	"ErrMalformed": ErrMalformed, "ErrVersion": ErrVersion, "ErrTooLarge": ErrTooLarge,
	"ErrGeneration": ErrGeneration, "ErrCommitment": ErrCommitment, "ErrPayloadAuth": ErrPayloadAuth,
}

// TestRecordV3Vectors opens every version-3 record vector with a RecordKey
// of the vector's generation: plaintext or the named error, and
// RecordGeneration agrees with the record's field.
func TestRecordV3Vectors(t *testing.T) {
	for _, file := range []struct{ name, expect string }{{"record_v3_success", "success"}, {"record_v3_failure", "failure"}} {
		for _, v := range loadKeyedVectors(t, file.name, file.expect) {
			t.Run(file.name+"/"+v.Name, func(t *testing.T) {
				k, err := NewRecordKeyForGeneration(mustHex(t, v.Key), v.Generation, nil)
				if err != nil {
					t.Fatal(err)
				}
				rec := mustHex(t, v.Record)
				got, err := k.Open(nil, Binding{UserID: v.UserID, Label: v.Label}, rec)
				if file.expect == "success" {
					if err != nil || !bytes.Equal(got, mustHex(t, v.Plaintext)) {
						t.Fatalf("%v", err)
					}
					if g, err := RecordGeneration(rec); err != nil || g != binary.BigEndian.Uint32(rec[6:10]) {
						t.Fatalf("RecordGeneration %d, %v", g, err)
					}
					return
				}
				want := keyedVectorErrors[v.Error]
				if want == nil || !errors.Is(err, want) || got != nil {
					t.Fatalf("got %v, want %s", err, v.Error)
				}
			})
		}
	}
}

// TestStreamVectors opens every stream vector, read whole (WriteTo) and a
// byte at a time: plaintext, or the named error after exactly the released
// plaintext.
func TestStreamVectors(t *testing.T) {
	n := 0
	for _, file := range []struct{ name, expect string }{
		{"stream_success", "success"}, {"stream_header_failure", "header_failure"},
		{"stream_commitment_failure", "commitment_failure"}, {"stream_payload_failure", "payload_failure"},
	} {
		for _, v := range loadKeyedVectors(t, file.name, file.expect) {
			n++
			t.Run(file.name+"/"+v.Name, func(t *testing.T) {
				k, err := NewRecordKeyForGeneration(mustHex(t, v.Key), v.Generation, nil)
				if err != nil {
					t.Fatal(err)
				}
				b := Binding{UserID: v.UserID, Label: v.Label}
				for _, read := range []func() int{nil, func() int { return 1 }} {
					got, err := openStream(k, b, mustHex(t, v.Stream), read)
					if file.expect == "success" {
						if err != nil || !bytes.Equal(got, mustHex(t, v.Plaintext)) {
							t.Fatalf("%v", err)
						}
						continue
					}
					want := keyedVectorErrors[v.Error]
					if want == nil || !errors.Is(err, want) {
						t.Fatalf("got %v, want %s", err, v.Error)
					}
					if !bytes.Equal(got, mustHex(t, v.Released)) {
						t.Fatalf("released %x, want %s", got, v.Released)
					}
					if file.expect == "commitment_failure" && !errors.Is(err, ErrCommitment) {
						t.Fatalf("commitment_failure vector gives %v", err)
					}
				}
			})
		}
	}
	if n < 20 {
		t.Fatalf("only %d stream vectors", n)
	}
}
