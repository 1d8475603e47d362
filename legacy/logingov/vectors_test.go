package logingov

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/internal/fipstest"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
)

type vectorFile struct {
	KMSSeed         string   `json:"kms_seed"`
	Pepper          string   `json:"pepper"`
	FingerprintKeys []string `json:"fingerprint_keys"`
	Vectors         []struct {
		Name, UUID, Layer, Cost, Stored, Want, Plaintext string
		SecretKind                                       string `json:"secret_kind"`
		Secret                                           string
		StoredB64                                        string `json:"stored_b64"`
	}
}

// TestGeneratedVectorsOpenOrFailAsLabelled runs every vector of
// testdata/logingov/vectors.json (every KMS layer under both secrets,
// chunked values, salts whose digest starts with zero bytes, three cost
// strings, the null copy, and refused shapes) through the reader, and
// checks the outcome, the exact plaintext, one scrypt run at most, and a
// KMS call per chunk at most.
func TestGeneratedVectorsOpenOrFailAsLabelled(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	var f vectorFile
	readJSON(t, "vectors.json", &f)
	require.GreaterOrEqual(t, len(f.Vectors), 38)
	kms := &countingKMS{KMS: logingovtest.NewMemKMS([]byte(f.KMSSeed))}
	var fps [][]byte
	for _, k := range f.FingerprintKeys {
		fps = append(fps, []byte(k))
	}
	r, err := NewReader(Config{KMS: kms, Local: &LocalKeys{Pepper: []byte(f.Pepper), FingerprintKeys: fps}})
	require.NoError(t, err)
	seen := map[string]int{}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			stored := []byte(v.Stored)
			if v.StoredB64 != "" {
				stored, err = base64.StdEncoding.DecodeString(v.StoredB64)
				require.NoError(t, err)
			}
			runs, calls := r.scryptRuns.Load(), kms.n.Load()
			var pii *PII
			var err error
			if v.SecretKind == "personal_key" {
				pii, err = r.OpenPersonalKey(context.Background(), v.UUID, stored, v.Secret)
			} else {
				pii, err = r.OpenPassword(context.Background(), v.UUID, stored, []byte(v.Secret))
			}
			require.LessOrEqual(t, r.scryptRuns.Load()-runs, int64(1), "at most one scrypt run")
			if v.Want != "ok" {
				require.Nil(t, pii)
				requireKind(t, err, kindOf[v.Want])
				seen[v.Want]++
				return
			}
			require.NoError(t, err)
			require.Equal(t, v.Plaintext, string(pii.JSON()))
			require.Equal(t, int64(1), r.scryptRuns.Load()-runs, "exactly one scrypt run")
			info, err := Inspect(stored)
			require.NoError(t, err)
			if info.Layer == LayerKMSc || info.Layer == LayerKMSx {
				require.Equal(t, int64(info.Chunks), kms.n.Load()-calls, "one KMS call per chunk")
			} else {
				require.Zero(t, kms.n.Load()-calls, "local layers call no KMS")
			}
			seen[string(info.Layer)+" "+v.SecretKind]++
		})
	}
	for _, k := range []string{"KMSc password", "KMSc personal_key", "LOCc password", "LOCc personal_key", "KMSx password", "KMSx personal_key", "local password", "local personal_key", "auth", "kms", "no_pii", "unsupported", "params", "base64", "json", "blob", "invalid_personal_key"} {
		require.Positive(t, seen[k], "no vector covers %s", k)
	}
}

// TestScryptKnownAnswersFromTheFormatDocument checks the salt
// construction (SHA-256 of the salt text, leading zero bytes removed) and
// K for the four rows of the document's table, one of them at production
// cost (N = 2^16).
func TestScryptKnownAnswersFromTheFormatDocument(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	var f struct {
		Vectors []struct {
			Secret, Salt, Cost, Key string
			ScryptSalt              string `json:"scrypt_salt"`
		}
	}
	readJSON(t, "scrypt-kat.json", &f)
	require.Len(t, f.Vectors, 4)
	for _, v := range f.Vectors {
		require.Equal(t, v.ScryptSalt, hex.EncodeToString(ScryptSalt(v.Salt)))
		c, err := ParseCost(v.Cost)
		require.NoError(t, err)
		k, err := DeriveKey([]byte(v.Secret), v.Salt, c)
		require.NoError(t, err)
		require.Equal(t, v.Key, hex.EncodeToString(k), "salt %s cost %s", v.Salt, v.Cost)
		// The independent generator agrees.
		k2, err := logingovtest.Key([]byte(v.Secret), v.Salt, v.Cost)
		require.NoError(t, err)
		require.Equal(t, v.Key, hex.EncodeToString(k2))
	}
}

// TestPersonalKeyNormalizationMatchesTheDocument runs the document's
// examples and the rules' edge cases (non-ASCII deleted, U and _ refused,
// wrong counts refused).
func TestPersonalKeyNormalizationMatchesTheDocument(t *testing.T) {
	var f struct {
		PersonalKeys struct {
			Cases []struct {
				Typed, Normalized string
				Invalid           bool
			}
		} `json:"personal_keys"`
	}
	readJSON(t, "scrypt-kat.json", &f)
	require.NotEmpty(t, f.PersonalKeys.Cases)
	for _, c := range f.PersonalKeys.Cases {
		got, err := NormalizePersonalKey(c.Typed)
		if c.Invalid {
			requireKind(t, err, ErrInvalidPersonalKey)
			require.Nil(t, got, c.Typed)
			continue
		}
		require.NoError(t, err, c.Typed)
		require.Equal(t, c.Normalized, string(got), c.Typed)
	}
	// Every generated key, shown or typed in lower case, normalizes to
	// the generator's normalized form.
	for range 200 {
		shown, norm, err := logingovtest.PersonalKey(nil)
		require.NoError(t, err)
		for _, typed := range []string{shown, norm, toLower(shown)} {
			got, err := NormalizePersonalKey(typed)
			require.NoError(t, err)
			require.Equal(t, norm, string(got))
		}
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// TestGeneratorChunksAsTheDocumentSays: the generator's chunk_plaintext
// matches the document's examples (section 5.6), so the multi-chunk
// vectors have Login.gov's piece sizes.
func TestGeneratorChunksAsTheDocumentSays(t *testing.T) {
	for n, want := range map[int][]int{
		1000: {1000}, 4095: {4095}, 4096: {2048, 2048}, 4097: {2048, 2048, 1},
		8192: {2730, 2730, 2730, 2}, 9000: {3000, 3000, 3000},
	} {
		var got []int
		for _, c := range logingovtest.Chunks(make([]byte, n)) {
			got = append(got, len(c))
		}
		require.Equal(t, want, got, "n = %d", n)
	}
}

// TestRubyWrittenValuesOpen opens values written by Ruby's OpenSSL, JSON
// and Base64, the libraries of Login.gov's own code
// (testdata/logingov/ruby_crosscheck.rb, run by hand; it also opens the Go
// generator's local-mode vectors): LOCc under uuids that sort either way,
// unprefixed local values, both secrets, one and several chunks, and a null
// copy.
func TestRubyWrittenValuesOpen(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	var f vectorFile
	if path := os.Getenv("PIIVAULT_RUBY_VALUES"); path != "" {
		// CI: values Ruby has just written (.ci/run), not the committed ones.
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &f))
	} else {
		readJSON(t, "ruby-values.json", &f)
	}
	require.Len(t, f.Vectors, 13)
	var fps [][]byte
	for _, k := range f.FingerprintKeys {
		fps = append(fps, []byte(k))
	}
	r, err := NewReader(Config{Local: &LocalKeys{Pepper: []byte(f.Pepper), FingerprintKeys: fps}})
	require.NoError(t, err)
	multi := 0
	for _, v := range f.Vectors {
		var pii *PII
		if v.SecretKind == "personal_key" {
			pii, err = r.OpenPersonalKey(context.Background(), v.UUID, []byte(v.Stored), v.Secret)
		} else {
			pii, err = r.OpenPassword(context.Background(), v.UUID, []byte(v.Stored), []byte(v.Secret))
		}
		if v.Want != "ok" {
			requireKind(t, err, kindOf[v.Want])
			continue
		}
		require.NoError(t, err, v.Name)
		require.Equal(t, v.Plaintext, string(pii.JSON()), v.Name)
		if info, _ := Inspect([]byte(v.Stored)); info.Chunks > 1 {
			multi++
		}
	}
	require.Equal(t, 4, multi, "the LOCc values over 8 KiB are chunked")
}
