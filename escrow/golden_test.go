package escrow

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
)

type goldenCase struct {
	Suite       string `json:"suite"`
	PrivateKey  string `json:"private_key_pem"` // test key, synthetic, published on purpose
	Fingerprint string `json:"fingerprint"`
	UserID      string `json:"user_id"`
	Label       string `json:"label"`
	Purpose     string `json:"purpose"`
	Header      string `json:"header_hex"` // envelope header with one hpke stanza
	Key         string `json:"key_hex"`    // the account key it wraps
}

// TestGoldenV1StanzasOpenForever: escrow stanzas written by version 1 (all
// three suites) open with their key file, give the recorded key, and refuse
// another user id or purpose (envelope.UnwrapKey reports those as
// ErrNoMatch). Regenerating the file is a format change.
func TestGoldenV1StanzasOpenForever(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden-v1.json")
	require.NoError(t, err)
	var cases []goldenCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.Len(t, cases, len(suites))
	for _, c := range cases {
		t.Run(c.Suite, func(t *testing.T) {
			if c.Suite == SuiteX25519.String() {
				skipUnavailable(t, SuiteX25519)
			}
			priv, err := ParsePrivateKey([]byte(c.PrivateKey))
			require.NoError(t, err)
			fp, err := FingerprintOf(priv.PublicKey())
			require.NoError(t, err)
			require.Equal(t, c.Fingerprint, fp.String())
			id, err := NewIdentity(priv, c.Purpose)
			require.NoError(t, err)
			hb, err := hex.DecodeString(c.Header)
			require.NoError(t, err)
			h, err := envelope.ParseHeader(hb)
			require.NoError(t, err)
			b := envelope.Binding{UserID: c.UserID, Label: c.Label}
			key, err := envelope.UnwrapKey(t.Context(), h, b, id)
			require.NoError(t, err)
			require.Equal(t, c.Key, hex.EncodeToString(key))
			_, err = envelope.UnwrapKey(t.Context(), h, envelope.Binding{UserID: "user-john-sample", Label: c.Label}, id)
			require.ErrorIs(t, err, envelope.ErrNoMatch)
			other, err := NewIdentity(priv, "another-purpose")
			require.NoError(t, err)
			_, err = envelope.UnwrapKey(t.Context(), h, b, other)
			require.ErrorIs(t, err, envelope.ErrNoMatch)
		})
	}
}
