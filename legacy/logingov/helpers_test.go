package logingov

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

// Synthetic test users.
const (
	uuidJane = "0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91"
	uuidJohn = "f3a1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	testPW   = "correct horse battery staple"
	// tinyCost is the smallest valid scrypt cost: fast tests of layers
	// whose key derivation is covered by the known answers.
	tinyCost = "2$1$1$"
)

var (
	testPepper = []byte(strings.Repeat("a", 32))
	testFPKey  = []byte(strings.Repeat("a", 128))
)

// janeAttrs is a synthetic person with every current member set.
func janeAttrs() map[string]any {
	return map[string]any{
		"first_name": "Jane", "middle_name": "Q", "last_name": "Sample",
		"address1": "123 Example St", "address2": "Apt 4", "city": "Springfield",
		"state": "VA", "zipcode": "22150",
		"ipp_current_address_matches_id": true,
		"identity_doc_address1":          "99 Former Rd", "identity_doc_city": "Fairfax",
		"identity_doc_zipcode": "22030", "state_id_jurisdiction": "VA",
		"identity_doc_address_state": "VA",
		"ssn":                        "900123456", "dob": "1980-02-29", "phone": "+1 202-555-0143",
		"issuing_country_code": "US",
	}
}

func janeJSON() []byte { return logingovtest.PIIJSON(logingovtest.Members, janeAttrs()) }

// countingKMS counts Decrypt calls of any KMS.
type countingKMS struct {
	KMS
	n atomic.Int64
}

func (c *countingKMS) Decrypt(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error) {
	c.n.Add(1)
	return c.KMS.Decrypt(ctx, blob, ec)
}

// fixture is a MemKMS, a Reader on it with local keys, and a sealer.
type fixture struct {
	t   testing.TB
	kms *logingovtest.MemKMS
	r   *Reader
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	kms := logingovtest.NewMemKMS([]byte("piivault logingov test vectors"))
	r, err := NewReader(Config{KMS: kms, Local: &LocalKeys{Pepper: testPepper, FingerprintKeys: [][]byte{testFPKey}}})
	require.NoError(t, err)
	return &fixture{t: t, kms: kms, r: r}
}

// seal writes a value with logingovtest (tinyCost unless o.Cost is set).
func (f *fixture) seal(uuid, secret string, pt []byte, o logingovtest.Options) []byte {
	f.t.Helper()
	if o.Cost == "" {
		o.Cost = tinyCost
	}
	o.KMS = f.kms
	if o.Pepper == nil {
		o.Pepper = testPepper
	}
	if o.FingerprintKey == nil {
		o.FingerprintKey = testFPKey
	}
	v, err := logingovtest.Seal(context.Background(), uuid, []byte(secret), pt, o)
	require.NoError(f.t, err)
	return v
}

// testVault is a vault with a tiny Argon2id policy, counting enrollments
// through the audit log.
func testVault(t testing.TB) (*vault.Vault, *atomic.Int64) {
	t.Helper()
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	enrolls := &atomic.Int64{}
	v, err := vault.New(vault.Config{
		Policy: kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()},
		Audit:  auditCounter(enrolls),
	})
	require.NoError(t, err)
	return v, enrolls
}

// kindOf maps the vectors file's error names to the sentinels.
var kindOf = map[string]error{
	"auth": ErrAuth, "kms": ErrKMS, "no_pii": ErrNoPII, "unsupported": ErrUnsupported,
	"params": ErrParams, "base64": ErrBase64, "json": ErrJSON, "blob": ErrBlob,
	"invalid_personal_key": ErrInvalidPersonalKey,
}

// allKinds are the error kinds that must be told apart.
var allKinds = []error{ErrJSON, ErrBase64, ErrBlob, ErrTooLarge, ErrParams, ErrUnsupported, ErrNoKey, ErrKMS, ErrAuth, ErrNoPII, ErrInvalidPersonalKey, ErrInvalidInput}

// requireKind checks err is kind and no other kind (ErrMalformed aside).
func requireKind(t testing.TB, err, kind error) {
	t.Helper()
	require.ErrorIs(t, err, kind)
	for _, k := range allKinds {
		if k != kind {
			require.False(t, errors.Is(err, k), "error %q is also %v", err, k)
		}
	}
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "logingov", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}
