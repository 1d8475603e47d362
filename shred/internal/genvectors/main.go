// Command genvectors writes testdata/shred/v3 (shred/FORMAT.md section 5)
// from fixed seeds: running it twice gives the same bytes. It never
// touches the layer-version-1 files in testdata/shred. Run it with
// go generate ./shred, from the shred directory.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
)

const layerDir = "../testdata/shred/v3"

var layerOutcomes = []string{"success", "shredded", "commitment_failure", "payload_failure", "malformed"}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

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

type rawKEK struct{}

func (rawKEK) Encrypt(pt, _ []byte) ([]byte, error) { return bytes.Clone(pt), nil }
func (rawKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	if !bytes.HasPrefix(ct, ad) {
		return nil, errors.New("raw kek: associated data mismatch")
	}
	return bytes.Clone(ct), nil
}

func rawRing(id string, dk []byte, r *rand.ChaCha8) *serverkey.Keyring {
	w := append([]byte("piivault/serverkey/v1/data-key"), byte(len(id)))
	w = append(append(w, id...), dk...)
	cfg := serverkey.Config{KEK: rawKEK{}, Current: serverkey.WrappedKey{ID: id, Wrapped: w}}
	if r != nil {
		cfg.Rand = r
	}
	kr, err := serverkey.New(cfg)
	must(err)
	return kr
}

func main() {
	ctx := context.Background()
	seed := func(s string) *rand.ChaCha8 {
		var b [32]byte
		copy(b[:], s)
		return rand.NewChaCha8(b)
	}
	dk := make([]byte, 32)
	_, _ = seed("shred/data-key").Read(dk)
	const kid = "shred-2026-11"
	u, u2 := "user-900-00-0001", "user-900-00-0002"
	kr := rawRing(kid, dk, seed("shred/keyring"))
	keys := shred.NewMemKeyStore()
	l, err := shred.New(shred.Config{Keys: keys, Keyring: kr, Rand: seed("shred/layer")})
	must(err)
	account := []byte("PVEH\x01\x01 stands for an account record (any bytes are layered alike)")
	lay, err := l.Wrap(ctx, u, account)
	must(err)
	lay2, err := l.Wrap(ctx, u2, []byte("john's account record"))
	must(err)
	email, err := l.SealAttribute(ctx, u, "email", []byte("jane.sample@example.com"))
	must(err)
	empty, err := l.Wrap(ctx, u, nil)
	must(err)

	row := func(uid string) vecRow {
		w, err := keys.Get(ctx, uid)
		must(err)
		uk, err := kr.Open(ctx, uid, shred.KeyAttribute, w)
		must(err)
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

	must(os.MkdirAll(layerDir, 0o755))
	for _, o := range layerOutcomes {
		for i := range files[o] {
			if files[o][i].Rows == nil {
				files[o][i].Rows = both
			}
		}
		b, err := json.MarshalIndent(vecLayerFile{Comment: "shred layer version 3 vectors (shred/FORMAT.md); key_table rows as stored, user_key = K_u for implementers; hex throughout", Expect: o, Vectors: files[o]}, "", "  ")
		must(err)
		must(os.WriteFile(filepath.Join(layerDir, o+".json"), append(b, '\n'), 0o644))
		fmt.Println("wrote", o)
	}
}
