package escrow

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// TestGenerateGolden writes testdata/golden-v1.json when
// PIIVAULT_WRITE_GOLDEN=1 (run once per format version; never overwritten
// by CI).
func TestGenerateGolden(t *testing.T) {
	if os.Getenv("PIIVAULT_WRITE_GOLDEN") != "1" {
		t.Skip("set PIIVAULT_WRITE_GOLDEN=1 to regenerate testdata/golden-v1.json")
	}
	var out []goldenCase
	for _, s := range suites {
		priv, err := GenerateKey(s)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := MarshalPrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		fp, _ := FingerprintOf(priv.PublicKey())
		r, err := NewRecipient(priv.PublicKey(), fp, purpose)
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t)
		h, err := envelope.WrapKey(t.Context(), key, janeB, r)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := h.MarshalBinary()
		out = append(out, goldenCase{Suite: s.String(), PrivateKey: string(pf), Fingerprint: fp.String(),
			UserID: janeB.UserID, Label: janeB.Label, Purpose: purpose, Header: hex.EncodeToString(hb), Key: hex.EncodeToString(key)})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile("testdata/golden-v1.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
