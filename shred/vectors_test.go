package shred_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
)

// Vector files (FORMAT.md section 5): TestVectors reads, never writes;
// internal/genvectors writes (go generate ./shred).

type vecRow struct {
	UserID     string `json:"user_id"`
	WrappedKey string `json:"wrapped_key"`
	UserKey    string `json:"user_key"`
}

type vecLayer struct {
	Name      string   `json:"name"`
	Comment   string   `json:"comment,omitempty"`
	KeyID     string   `json:"data_key_id"`
	DataKey   string   `json:"data_key"`
	Rows      []vecRow `json:"key_table"`
	UserID    string   `json:"user_id"`
	Attribute string   `json:"attribute,omitempty"` // set: a layered attribute of that name
	Layered   string   `json:"layered"`
	Plaintext string   `json:"plaintext,omitempty"`
	Error     string   `json:"error,omitempty"`
}

type vecLayerFile struct {
	Comment string     `json:"comment"`
	Expect  string     `json:"expect"`
	Vectors []vecLayer `json:"vectors"`
}

var layerOutcomes = []string{"success", "shredded", "commitment_failure", "payload_failure", "malformed"}

var layerErrors = map[string]error{
	"ErrShredded":               shred.ErrShredded,
	"ErrMalformed":              shred.ErrMalformed,
	"ErrNotLayered":             shred.ErrNotLayered,
	"envelope.ErrCommitment":    envelope.ErrCommitment,
	"envelope.ErrPayloadAuth":   envelope.ErrPayloadAuth,
	"serverkey.ErrDecrypt":      serverkey.ErrDecrypt,
	"serverkey.ErrUnknownKey":   serverkey.ErrUnknownKey,
	"serverkey.ErrMalformed":    serverkey.ErrMalformed,
	"envelope.ErrMalformed":     envelope.ErrMalformed,
	"envelope.ErrVersion":       envelope.ErrVersion,
	"serverkey.ErrInvalidInput": serverkey.ErrInvalidInput,
}

// layerDirs: the files of layer version 1 (frozen: nothing writes them any
// more) and of what Wrap writes now (layer version 3 holding version-3
// envelope records), which internal/genvectors writes.
var layerDirs = []string{"../testdata/shred", "../testdata/shred/v3"}

type rawKEK struct{}

func (rawKEK) Encrypt(pt, _ []byte) ([]byte, error) { return bytes.Clone(pt), nil }
func (rawKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	if !bytes.HasPrefix(ct, ad) {
		return nil, errors.New("raw kek: associated data mismatch")
	}
	return bytes.Clone(ct), nil
}

func rawRing(t testing.TB, id string, dk []byte, r *rand.ChaCha8) *serverkey.Keyring {
	w := append([]byte("piivault/serverkey/v1/data-key"), byte(len(id)))
	w = append(append(w, id...), dk...)
	cfg := serverkey.Config{KEK: rawKEK{}, Current: serverkey.WrappedKey{ID: id, Wrapped: w}}
	if r != nil {
		cfg.Rand = r
	}
	kr, err := serverkey.New(cfg)
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return kr
}

func hexb(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestVectors(t *testing.T) {
	for _, dir := range layerDirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkLayerDir(t, dir) })
	}
}

func checkLayerDir(t *testing.T, layerDir string) {
	n := 0
	for _, outcome := range layerOutcomes {
		raw, err := os.ReadFile(filepath.Join(layerDir, outcome+".json"))
		require.NoError(t, err)
		var f vecLayerFile
		require.NoError(t, json.Unmarshal(raw, &f))
		require.Equal(t, outcome, f.Expect)
		require.NotEmpty(t, f.Vectors)
		for _, v := range f.Vectors {
			t.Run(outcome+"/"+v.Name, func(t *testing.T) {
				n++
				kr := rawRing(t, v.KeyID, hexb(t, v.DataKey), nil)
				keys := shred.NewMemKeyStore()
				for _, r := range v.Rows {
					require.NoError(t, keys.Put(t.Context(), r.UserID, hexb(t, r.WrappedKey)))
					if r.UserKey == "" {
						continue // a row that is not meant to open (moved)
					}
					uk, err := kr.Open(t.Context(), r.UserID, shred.KeyAttribute, hexb(t, r.WrappedKey))
					require.NoError(t, err)
					require.Equal(t, r.UserKey, hex.EncodeToString(uk))
				}
				l, err := shred.New(shred.Config{Keys: keys, Keyring: kr})
				require.NoError(t, err)
				var pt []byte
				if v.Attribute != "" {
					pt, err = l.OpenAttribute(t.Context(), v.UserID, v.Attribute, hexb(t, v.Layered))
				} else {
					pt, err = l.Unwrap(t.Context(), v.UserID, hexb(t, v.Layered))
				}
				if outcome == "success" {
					require.NoError(t, err)
					require.Equal(t, v.Plaintext, hex.EncodeToString(pt))
					return
				}
				want, ok := layerErrors[v.Error]
				require.True(t, ok, "unknown error %q", v.Error)
				require.ErrorIs(t, err, want)
				require.Nil(t, pt)
			})
		}
	}
	require.GreaterOrEqual(t, n, 10)
}
