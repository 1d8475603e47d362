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
)

type headerV3File struct {
	Vectors []struct {
		Name          string `json:"name"`
		UserID        string `json:"user_id"`
		Label         string `json:"label"`
		RecoveryKey   string `json:"recovery_key"`
		Header        string `json:"header"`
		FileKey       string `json:"file_key"`
		Generation    uint64 `json:"generation"`
		KeyGeneration uint32 `json:"key_generation"`
		OlderKeys     []struct {
			Generation uint32 `json:"generation"`
			Key        string `json:"key"`
		} `json:"older_keys"`
		Error string `json:"error"`
	} `json:"vectors"`
}

// TestHeaderV3Vectors checks testdata/envelope/header_v3.json: success
// vectors unwrap to their file key with their generations and older keys
// and re-encode byte for byte; failing vectors fail with the error named,
// at parse, unwrap or older-key time.
func TestHeaderV3Vectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "envelope", "header_v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f headerV3File
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 10 {
		t.Fatalf("%d vectors", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			b := Binding{UserID: v.UserID, Label: v.Label}
			id, err := NewRecoveryIdentity(mustHex(t, v.RecoveryKey))
			if err != nil {
				t.Fatal(err)
			}
			raw := mustHex(t, v.Header)
			err = func() error {
				h, err := ParseHeader(raw)
				if err != nil {
					return err
				}
				key, err := UnwrapKey(context.Background(), h, b, id)
				if err != nil {
					return err
				}
				older, err := h.OlderKeys(key, b)
				if err != nil {
					return err
				}
				if v.Error != "" {
					return nil
				}
				if again, _ := h.MarshalBinary(); !bytes.Equal(again, raw) {
					t.Fatal("re-encoding changed the bytes")
				}
				if hex.EncodeToString(key) != v.FileKey || h.Generation() != v.Generation || h.KeyGeneration() != v.KeyGeneration || h.Version() != Version3 {
					t.Fatalf("key %x generation %d key generation %d", key, h.Generation(), h.KeyGeneration())
				}
				if len(older) != len(v.OlderKeys) {
					t.Fatalf("%d older keys, want %d", len(older), len(v.OlderKeys))
				}
				for i, o := range older {
					if o.Generation != v.OlderKeys[i].Generation || hex.EncodeToString(o.Key) != v.OlderKeys[i].Key {
						t.Fatalf("older key %d: generation %d", i, o.Generation)
					}
				}
				return nil
			}()
			if v.Error == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := vectorErrors[v.Error]
			if !ok {
				t.Fatalf("unknown error name %q", v.Error)
			}
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
		})
	}
}
