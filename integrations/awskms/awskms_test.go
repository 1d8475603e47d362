package awskms

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/awsescrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/legacy/logingov"
	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

const (
	uuidJane = "0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91"
	uuidJohn = "f3a1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	password = "correct horse battery staple"
)

// encrypter is KMS Encrypt through the SDK, for writing test values the
// way Login.gov does.
type encrypter struct {
	c     *kms.Client
	keyID string
}

func (e encrypter) Encrypt(ctx context.Context, pt []byte, ec map[string]string) ([]byte, error) {
	out, err := e.c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(e.keyID), Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

func setup(t *testing.T) (*kms.Client, *awsescrow.CallCounter, func() string) { return setupB(t) }

func setupB(t testing.TB) (*kms.Client, *awsescrow.CallCounter, func() string) {
	t.Helper()
	endpoint := itest.Env(t, "PIIVAULT_KMS_ENDPOINT")
	cc := &awsescrow.CallCounter{}
	c := awsescrow.NewKMSClient(endpoint, "us-west-2", "testing", "testing", &http.Client{Transport: cc})
	newKey := func() string {
		out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{
			KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt,
			Description: aws.String("login-dot-gov-keymaker-multi-region (test)"),
		})
		require.NoError(t, err)
		return *out.KeyMetadata.Arn
	}
	return c, cc, newKey
}

func janePII() []byte {
	return logingovtest.PIIJSON(logingovtest.Members, map[string]any{
		"first_name": "Jane", "last_name": "Sample", "dob": "1980-02-29", "ssn": "900123456",
		"address1": "123 Example St", "city": "Springfield", "state": "VA", "zipcode": "22150",
		"identity_doc_address1": "99 Former Rd", "issuing_country_code": "US",
	})
}

// TestKMScValuesOpenThroughAWSKMSWithTheExactContext: a KMSc value
// written with KMS Encrypt under {"context":"pii-encryption",
// "user_uuid":uuid} opens through Decrypter with one Decrypt call; KMS
// refuses it under another uuid, with an extra pair, or with no context.
func TestKMScValuesOpenThroughAWSKMSWithTheExactContext(t *testing.T) {
	c, cc, newKey := setup(t)
	key := newKey()
	ctx := t.Context()
	v, err := logingovtest.Seal(ctx, uuidJane, []byte(password), janePII(), logingovtest.Options{KMS: encrypter{c, key}})
	require.NoError(t, err)
	d, err := New(c)
	require.NoError(t, err)
	r, err := logingov.NewReader(logingov.Config{KMS: d})
	require.NoError(t, err)

	before := cc.Snapshot()["Decrypt"]
	pii, err := r.OpenPassword(ctx, uuidJane, v, []byte(password))
	require.NoError(t, err)
	require.Equal(t, string(janePII()), string(pii.JSON()))
	require.Equal(t, 1, cc.Snapshot()["Decrypt"]-before, "one KMS Decrypt call")

	_, err = r.OpenPassword(ctx, uuidJohn, v, []byte(password))
	require.ErrorIs(t, err, logingov.ErrKMS)

	// The raw blob under other contexts.
	info, err := logingov.Inspect(v)
	require.NoError(t, err)
	require.Equal(t, logingov.LayerKMSc, info.Layer)
	blob := kmscBlob(t, v)
	for _, ec := range []map[string]string{
		nil,
		{"context": "pii-encryption"},
		{"context": "pii-encryption", "user_uuid": uuidJane, "extra": "x"},
		{"context": "password-digest", "user_uuid": uuidJane},
		{"context": "pii-encryption", "user_uuid": uuidJane + " "},
	} {
		_, err := d.Decrypt(ctx, blob, ec)
		require.Error(t, err, "context %v", ec)
	}
	pt, err := d.Decrypt(ctx, blob, map[string]string{"user_uuid": uuidJane, "context": "pii-encryption"})
	require.NoError(t, err)
	require.NotEmpty(t, pt)
}

// kmscBlob returns the first KMS blob of a KMSc value.
func kmscBlob(t testing.TB, v []byte) []byte {
	t.Helper()
	var outer struct {
		EncryptedData []byte `json:"encrypted_data"`
	}
	require.NoError(t, jsonUnmarshal(v, &outer))
	var arr [][]byte
	require.NoError(t, jsonUnmarshal(outer.EncryptedData[4:], &arr))
	return arr[0]
}

// TestChunkedKMScAndLegacyKMSxOpenThroughAWSKMS: a value over 4096 bytes
// is three KMS chunks (three Decrypt calls); a KMSx value (no context, raw
// blob) opens too.
func TestChunkedKMScAndLegacyKMSxOpenThroughAWSKMS(t *testing.T) {
	c, cc, newKey := setup(t)
	key := newKey()
	ctx := t.Context()
	big := logingovtest.PIIJSON(logingovtest.Members, map[string]any{"first_name": "Jane", "x_synthetic_padding": strings.Repeat("padding ", 800)})
	d, _ := New(c)
	r, _ := logingov.NewReader(logingov.Config{KMS: d})
	for _, o := range []logingovtest.Options{{Layer: logingovtest.KMSc}, {Layer: logingovtest.KMSx}, {Layer: logingovtest.KMSx, KMSxArray: true}} {
		o.KMS = encrypter{c, key}
		for _, pt := range [][]byte{janePII(), big} {
			v, err := logingovtest.Seal(ctx, uuidJane, []byte(password), pt, o)
			require.NoError(t, err)
			info, err := logingov.Inspect(v)
			require.NoError(t, err)
			before := cc.Snapshot()["Decrypt"]
			got, err := r.OpenPassword(ctx, uuidJane, v, []byte(password))
			require.NoError(t, err)
			require.Equal(t, string(pt), string(got.JSON()))
			require.Equal(t, info.Chunks, cc.Snapshot()["Decrypt"]-before)
			if len(pt) > 6000 {
				require.GreaterOrEqual(t, info.Chunks, 3, "%s", o.Layer)
			}
		}
	}
}

// TestWithKeyIDRefusesBlobsOfAnotherKey.
func TestWithKeyIDRefusesBlobsOfAnotherKey(t *testing.T) {
	c, _, newKey := setup(t)
	k1, k2 := newKey(), newKey()
	ctx := t.Context()
	v, err := logingovtest.Seal(ctx, uuidJane, []byte(password), janePII(), logingovtest.Options{KMS: encrypter{c, k1}})
	require.NoError(t, err)
	for key, ok := range map[string]bool{k1: true, k2: false} {
		d, _ := New(c, WithKeyID(key))
		r, _ := logingov.NewReader(logingov.Config{KMS: d})
		_, err := r.OpenPassword(ctx, uuidJane, v, []byte(password))
		if ok {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, logingov.ErrKMS)
		}
	}
}

// TestMigrationThroughAWSKMSMakesOneDecryptCall: both migrations (password,
// personal key) make exactly one KMS call and give an account that opens.
func TestMigrationThroughAWSKMSMakesOneDecryptCall(t *testing.T) {
	c, cc, newKey := setup(t)
	key := newKey()
	ctx := t.Context()
	shown, norm, err := logingovtest.PersonalKey(nil)
	require.NoError(t, err)
	pw, err := logingovtest.Seal(ctx, uuidJane, []byte(password), janePII(), logingovtest.Options{KMS: encrypter{c, key}})
	require.NoError(t, err)
	rec, err := logingovtest.Seal(ctx, uuidJane, []byte(norm), janePII(), logingovtest.Options{KMS: encrypter{c, key}})
	require.NoError(t, err)
	cols := logingov.Columns{UUID: uuidJane, EncryptedPII: pw, EncryptedPIIRecovery: rec}
	d, _ := New(c)
	r, _ := logingov.NewReader(logingov.Config{KMS: d})
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	m, err := logingov.NewMigrator(v, r)
	require.NoError(t, err)

	start := cc.Total()
	mig, err := m.MigrateWithPassword(ctx, "user-jane", cols, []byte(password))
	require.NoError(t, err)
	require.Equal(t, 1, cc.Total()-start, "one KMS call, and no other AWS call")
	u, _, err := v.Unlock(ctx, "user-jane", mig.Account, []byte(password))
	require.NoError(t, err)
	id, err := u.OpenIdentity(logingov.LabelIdentity, mig.Records[logingov.LabelIdentity])
	require.NoError(t, err)
	require.Equal(t, "Sample", id.FamilyName)
	u.Close()

	start = cc.Total()
	mig, err = m.MigrateWithPersonalKey(ctx, "user-jane", cols, shown, []byte("new password"))
	require.NoError(t, err)
	require.Equal(t, 1, cc.Total()-start)
	u, _, err = v.Unlock(ctx, "user-jane", mig.Account, []byte("new password"))
	require.NoError(t, err)
	pt, err := u.Open(logingov.LabelExtras, mig.Records[logingov.LabelExtras])
	require.NoError(t, err)
	ex, err := logingov.OpenExtras(pt)
	require.NoError(t, err)
	require.Contains(t, ex, "identity_doc_address1")
	u.Close()
}
