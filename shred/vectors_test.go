package shred_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
// TestWriteVectors writes only with PIIVAULT_WRITE_VECTORS=1.

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
// envelope records), which TestWriteVectors writes.
var layerDirs = []string{"../testdata/shred", "../testdata/shred/v3"}

const layerDir = "../testdata/shred/v3"

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

func TestWriteVectors(t *testing.T) {
	if os.Getenv("PIIVAULT_WRITE_VECTORS") != "1" {
		t.Skip("set PIIVAULT_WRITE_VECTORS=1 (go generate ./shred) to rewrite testdata/shred")
	}
	seed := func(s string) *rand.ChaCha8 {
		var b [32]byte
		copy(b[:], s)
		return rand.NewChaCha8(b)
	}
	dk := make([]byte, 32)
	_, _ = seed("shred/data-key").Read(dk)
	const kid = "shred-2026-11"
	u, u2 := "user-900-00-0001", "user-900-00-0002"
	kr := rawRing(t, kid, dk, seed("shred/keyring"))
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: kr, Rand: seed("shred/layer")})
	require.NoError(t, err)
	account := []byte("PVEH\x01\x01 stands for an account record (any bytes are layered alike)")
	lay, err := l.Wrap(t.Context(), u, account)
	require.NoError(t, err)
	lay2, err := l.Wrap(t.Context(), u2, []byte("john's account record"))
	require.NoError(t, err)
	email, err := l.SealAttribute(t.Context(), u, "email", []byte("jane.sample@example.com"))
	require.NoError(t, err)
	empty, err := l.Wrap(t.Context(), u, nil)
	require.NoError(t, err)

	row := func(uid string) vecRow {
		w, err := keys.Get(t.Context(), uid)
		require.NoError(t, err)
		uk, err := kr.Open(t.Context(), uid, shred.KeyAttribute, w)
		require.NoError(t, err)
		return vecRow{UserID: uid, WrappedKey: hex.EncodeToString(w), UserKey: hex.EncodeToString(uk)}
	}
	both := []vecRow{row(u), row(u2)}
	files := map[string][]vecLayer{}
	add := func(o string, v vecLayer) {
		v.KeyID, v.DataKey = kid, hex.EncodeToString(dk)
		if v.Rows == nil {
			v.Rows = both
		}
		files[o] = append(files[o], v)
	}
	add("success", vecLayer{Name: "account", UserID: u, Layered: hex.EncodeToString(lay), Plaintext: hex.EncodeToString(account)})
	add("success", vecLayer{Name: "account-other-user", UserID: u2, Layered: hex.EncodeToString(lay2), Plaintext: hex.EncodeToString([]byte("john's account record"))})
	add("success", vecLayer{Name: "empty-account", UserID: u, Layered: hex.EncodeToString(empty)})
	add("success", vecLayer{Name: "attribute-email", UserID: u, Attribute: "email", Layered: hex.EncodeToString(email), Plaintext: hex.EncodeToString([]byte("jane.sample@example.com"))})

	add("shredded", vecLayer{Name: "row-deleted", Comment: "the key table no longer holds the user's row", Rows: []vecRow{row(u2)}, UserID: u, Layered: hex.EncodeToString(lay), Error: "ErrShredded"})
	add("shredded", vecLayer{Name: "attribute-row-deleted", Rows: []vecRow{row(u2)}, UserID: u, Attribute: "email", Layered: hex.EncodeToString(email), Error: "ErrShredded"})

	add("commitment_failure", vecLayer{Name: "other-users-record", UserID: u, Layered: hex.EncodeToString(lay2), Error: "envelope.ErrCommitment"})
	add("commitment_failure", vecLayer{Name: "attribute-as-account", UserID: u, Layered: hex.EncodeToString(email), Error: "envelope.ErrCommitment"})
	add("commitment_failure", vecLayer{Name: "account-as-attribute", UserID: u, Attribute: "email", Layered: hex.EncodeToString(lay), Error: "envelope.ErrCommitment"})
	add("commitment_failure", vecLayer{Name: "attribute-other-name", UserID: u, Attribute: "phone", Layered: hex.EncodeToString(email), Error: "envelope.ErrCommitment"})
	moved := row(u2)
	moved.UserID = u
	add("commitment_failure", vecLayer{Name: "key-row-moved", Comment: "john's wrapped key copied under jane's user id: the serverkey binding refuses it", Rows: []vecRow{}, UserID: u, Layered: hex.EncodeToString(lay), Error: "serverkey.ErrDecrypt"})
	files["commitment_failure"][len(files["commitment_failure"])-1].Rows = []vecRow{{UserID: u, WrappedKey: moved.WrappedKey}}

	flip := bytes.Clone(lay)
	flip[len(flip)-30] ^= 1
	add("payload_failure", vecLayer{Name: "account-byte-flipped", UserID: u, Layered: hex.EncodeToString(flip), Error: "envelope.ErrPayloadAuth"})
	add("payload_failure", vecLayer{Name: "trailing-byte", UserID: u, Layered: hex.EncodeToString(append(bytes.Clone(lay), 0)), Error: "envelope.ErrPayloadAuth"})

	add("malformed", vecLayer{Name: "not-layered", Comment: "an envelope header without the layer", UserID: u, Layered: hex.EncodeToString(account), Error: "ErrNotLayered"})
	add("malformed", vecLayer{Name: "too-short", UserID: u, Layered: hex.EncodeToString(lay[:5+69]), Error: "ErrMalformed"})
	v2 := bytes.Clone(lay)
	v2[4] = 2
	add("malformed", vecLayer{Name: "version-2", UserID: u, Layered: hex.EncodeToString(v2), Error: "ErrMalformed"})
	rec := bytes.Clone(lay)
	rec[5+3] = 'X'
	add("malformed", vecLayer{Name: "record-magic", UserID: u, Layered: hex.EncodeToString(rec), Error: "envelope.ErrMalformed"})

	require.NoError(t, os.MkdirAll(layerDir, 0o755))
	for _, o := range layerOutcomes {
		for i := range files[o] {
			if files[o][i].Rows == nil {
				files[o][i].Rows = both
			}
		}
		b, err := json.MarshalIndent(vecLayerFile{Comment: "shred layer version 3 vectors (shred/FORMAT.md); key_table rows as stored, user_key = K_u for implementers; hex throughout", Expect: o, Vectors: files[o]}, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(layerDir, o+".json"), append(b, '\n'), 0o644))
		fmt.Println("wrote", o)
	}
}
