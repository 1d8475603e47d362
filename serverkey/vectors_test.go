package serverkey_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
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
)

// Vector files (FORMAT.md section 5). TestVectors reads them and never
// writes; internal/genvectors writes them (go generate ./serverkey).

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

var vecErrors = map[string]error{
	"ErrMalformed":           serverkey.ErrMalformed,
	"ErrVersion":             serverkey.ErrVersion,
	"ErrUnknownKey":          serverkey.ErrUnknownKey,
	"ErrCommitment":          envelope.ErrCommitment,
	"ErrPayloadAuth":         envelope.ErrPayloadAuth,
	"ErrTooLarge":            serverkey.ErrTooLarge,
	"ErrInvalidValue":        serverkey.ErrInvalidValue,
	"envelope.ErrVersion":    envelope.ErrVersion,
	"envelope.ErrMalformed":  envelope.ErrMalformed,
	"envelope.ErrGeneration": envelope.ErrGeneration,
}

var vecOutcomes = []string{"success", "commitment_failure", "payload_failure", "malformed", "unsupported_version", "unknown_key"}

// vecDirs: the version-1 files (frozen: nothing writes them any more) and
// the files of what Seal writes now (version 3), which internal/genvectors
// writes.
var vecDirs = []string{"../testdata/serverkey", "../testdata/serverkey/v3"}

// rawKEK is a "KMS" whose wrapped bytes are the plaintext itself: vectors
// give data keys in clear, and the KEK's bytes are out of the format.
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

func ringOf(t testing.TB, keys []vecKey, cc string, r *rand.ChaCha8) *serverkey.Keyring {
	t.Helper()
	var wks []serverkey.WrappedKey
	for _, k := range keys {
		dk, err := hex.DecodeString(k.DataKey)
		require.NoError(t, err)
		wks = append(wks, wrappedRaw(k.ID, dk))
	}
	cfg := serverkey.Config{KEK: rawKEK{}, Current: wks[0], Older: wks[1:], PhoneCountryCode: cc}
	if r != nil {
		cfg.Rand = r
	}
	kr, err := serverkey.New(cfg)
	require.NoError(t, err)
	t.Cleanup(kr.Close)
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

func TestVectors(t *testing.T) {
	for _, dir := range vecDirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkVectorDir(t, dir) })
	}
}

func checkVectorDir(t *testing.T, vecDir string) {
	total := 0
	for _, outcome := range vecOutcomes {
		raw, err := os.ReadFile(filepath.Join(vecDir, outcome+".json"))
		require.NoError(t, err)
		var f vecFile
		require.NoError(t, json.Unmarshal(raw, &f))
		require.Equal(t, outcome, f.Expect)
		require.NotEmpty(t, f.Vectors)
		for _, v := range f.Vectors {
			t.Run(outcome+"/"+v.Name, func(t *testing.T) {
				total++
				for i, k := range v.Keys {
					dk, _ := hex.DecodeString(k.DataKey)
					require.Equal(t, derived(dk, "attribute", k.ID), k.AttributeKey, "attribute key derivation")
					require.Equal(t, derived(dk, "fingerprint", k.ID), k.FPKey, "fingerprint key derivation")
					if v.UserKeys != nil {
						require.Equal(t, derivedUser(dk, k.ID, v.UserID), v.UserKeys[i], "per-user attribute key derivation")
					}
				}
				kr := ringOf(t, v.Keys, "", nil)
				ct, err := hex.DecodeString(v.Ciphertext)
				require.NoError(t, err)
				pt, err := kr.Open(t.Context(), v.UserID, v.Attribute, ct)
				if outcome == "success" {
					require.NoError(t, err)
					require.Equal(t, v.Plaintext, hex.EncodeToString(pt))
					return
				}
				want, ok := vecErrors[v.Error]
				require.True(t, ok, "unknown error name %q", v.Error)
				require.ErrorIs(t, err, want)
				require.Nil(t, pt)
				// KeyIDOf agrees on what parses: errors of the serverkey
				// prefix are its own, errors of the record are not.
				_, perr := serverkey.KeyIDOf(ct)
				if want == serverkey.ErrMalformed || want == serverkey.ErrVersion || want == serverkey.ErrTooLarge {
					require.ErrorIs(t, perr, want)
				} else {
					require.NoError(t, perr)
					if want != serverkey.ErrUnknownKey {
						require.ErrorIs(t, err, serverkey.ErrDecrypt, "record failures are decryption failures")
					}
				}
			})
		}
	}
	require.GreaterOrEqual(t, total, 15)

	raw, err := os.ReadFile(filepath.Join(vecDir, "fingerprints.json"))
	require.NoError(t, err)
	var ff vecFPFile
	require.NoError(t, json.Unmarshal(raw, &ff))
	require.NotEmpty(t, ff.Vectors)
	for _, v := range ff.Vectors {
		t.Run("fingerprint/"+v.Name, func(t *testing.T) {
			kr := ringOf(t, v.Keys, v.CountryCode, nil)
			fps, err := kr.Fingerprints(t.Context(), serverkey.Kind(v.Kind), v.Input)
			if v.Error != "" {
				require.ErrorIs(t, err, vecErrors[v.Error])
				return
			}
			require.NoError(t, err)
			n, err := kr.Normalize(serverkey.Kind(v.Kind), v.Input)
			require.NoError(t, err)
			require.Equal(t, v.Normalized, n)
			require.Len(t, fps, len(v.Fingerprints))
			for i, fp := range fps {
				require.Equal(t, v.Fingerprints[i], fp.String())
				parsed, err := serverkey.ParseFingerprint(v.Fingerprints[i])
				require.NoError(t, err)
				ok, err := kr.Verify(t.Context(), parsed, serverkey.Kind(v.Kind), v.Input)
				require.NoError(t, err)
				require.True(t, ok)
			}
		})
	}
}
