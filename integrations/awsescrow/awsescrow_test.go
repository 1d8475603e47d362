package awsescrow

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/vault"
)

// setup returns a KMS client on the moto endpoint, a fresh symmetric key's
// ARN, and the counter every KMS call goes through.
func setup(t *testing.T) (*kms.Client, string, *CallCounter) {
	t.Helper()
	endpoint := itest.Env(t, "PIIVAULT_KMS_ENDPOINT")
	cc := &CallCounter{}
	c := NewKMSClient(endpoint, "us-east-1", "testing", "testing", &http.Client{Transport: cc})
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Description: ptr("piivault escrow integration test"),
	})
	require.NoError(t, err)
	return c, *out.KeyMetadata.Arn, cc
}

func ptr[T any](v T) *T { return &v }

func TestKMSAEADBindsEncryptionContext(t *testing.T) {
	c, arn, _ := setup(t)
	a, err := NewAEAD(t.Context(), c, arn)
	require.NoError(t, err)
	ct, err := a.Encrypt([]byte("payload"), []byte("context-a"))
	require.NoError(t, err)
	pt, err := a.Decrypt(ct, []byte("context-a"))
	require.NoError(t, err)
	require.Equal(t, "payload", string(pt))
	_, err = a.Decrypt(ct, []byte("context-b"))
	require.Error(t, err, "KMS refuses another encryption context")
}

func TestAEADEscrowThroughKMS(t *testing.T) {
	c, arn, cc := setup(t)
	a, err := NewAEAD(t.Context(), c, arn)
	require.NoError(t, err)
	r, err := escrow.NewAEADRecipient(a, arn, "account-recovery")
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: r})
	require.NoError(t, err)
	before := cc.Snapshot()["Encrypt"]
	acct, _, err := v.Enroll(t.Context(), "user-jane-q-sample", []byte("pw"))
	require.NoError(t, err)
	require.Equal(t, 1, cc.Snapshot()["Encrypt"]-before, "an AEAD escrow wrap is one KMS Encrypt")
	h, err := envelope.ParseHeader(acct)
	require.NoError(t, err)
	b := envelope.Binding{UserID: "user-jane-q-sample", Label: vault.AccountLabel}
	_, err = envelope.UnwrapKey(t.Context(), h, b, r)
	require.NoError(t, err)
	// The stanza moved to another user does not open.
	_, err = r.Unwrap(t.Context(), h.Stanzas, envelope.Binding{UserID: "user-john-sample", Label: vault.AccountLabel})
	require.ErrorIs(t, err, envelope.ErrNoMatch)
	acct2, _, err := v.RecoverWithEscrow(t.Context(), "user-jane-q-sample", acct, r, []byte("pw2"), "agent-7", "ticket-44")
	require.NoError(t, err)
	u, _, err := v.Unlock(t.Context(), "user-jane-q-sample", acct2, []byte("pw2"))
	require.NoError(t, err)
	u.Close()
}

func TestKMSBoundPepperUnwrappedOnceAndNoKMSCallPerLogin(t *testing.T) {
	c, arn, cc := setup(t)
	a, err := NewAEAD(t.Context(), c, arn)
	require.NoError(t, err)
	pepper := bytes.Repeat([]byte{7}, 32)
	wrapped, err := escrow.WrapPepper(t.Context(), a, pepper, []byte("deployment-test"))
	require.NoError(t, err)

	start := cc.Total()
	got, err := escrow.UnwrapPepper(t.Context(), a, wrapped, []byte("deployment-test"))
	require.NoError(t, err)
	require.Equal(t, pepper, got)
	require.Equal(t, 1, cc.Total()-start, "start-up: one KMS call")

	v, err := vault.New(vault.Config{Policy: itest.Policy(), Pepper: got})
	require.NoError(t, err)
	start = cc.Total()
	acct, _, err := v.Enroll(t.Context(), "user-jane-q-sample", []byte("pw"))
	require.NoError(t, err)
	for range 3 {
		u, _, err := v.Unlock(t.Context(), "user-jane-q-sample", acct, []byte("pw"))
		require.NoError(t, err)
		u.Close()
		_, _, err = v.Unlock(t.Context(), "user-jane-q-sample", acct, []byte("wrong"))
		require.ErrorIs(t, err, vault.ErrWrongSecret)
	}
	require.Zero(t, cc.Total()-start, "logins, failed ones included, make no KMS call")
	// Without the pepper the account does not open: offline guessing needs KMS.
	noPepper, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	_, _, err = noPepper.Unlock(t.Context(), "user-jane-q-sample", acct, []byte("pw"))
	require.Error(t, err)
	_, err = escrow.UnwrapPepper(t.Context(), a, wrapped, []byte("deployment-other"))
	require.Error(t, err)
}

func TestHPKEEscrowMakesNoKMSCallOnEnrollUnlockSeal(t *testing.T) {
	_, _, cc := setup(t)
	priv, err := escrow.GenerateKey(escrow.SuiteMLKEM768X25519)
	require.NoError(t, err)
	fp, err := escrow.FingerprintOf(priv.PublicKey())
	require.NoError(t, err)
	r, err := escrow.NewRecipient(priv.PublicKey(), fp, "account-recovery")
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: r})
	require.NoError(t, err)
	ctx := context.Background()
	counts := map[string]int{}
	cur := cc
	measure := func(op string, f func()) {
		before := cur.Total()
		f()
		counts[op] = cur.Total() - before
	}
	var acct []byte
	measure("enroll", func() {
		acct, _, err = v.Enroll(ctx, "user-jane-q-sample", []byte("pw"))
		require.NoError(t, err)
	})
	var u *vault.Unlocked
	measure("unlock", func() {
		u, _, err = v.Unlock(ctx, "user-jane-q-sample", acct, []byte("pw"))
		require.NoError(t, err)
	})
	defer u.Close()
	measure("seal", func() {
		_, err = u.Seal("pii", []byte("Jane Q. Sample"))
		require.NoError(t, err)
	})
	require.Equal(t, map[string]int{"enroll": 0, "unlock": 0, "seal": 0}, counts)
	require.True(t, v.EscrowEnabled())

	// The same counter sees the KMS call an AEAD escrow makes at enrollment
	// (and none at unlock or seal): it would have caught one above.
	c, arn, cc2 := setup(t)
	cur = cc2
	a, err := NewAEAD(ctx, c, arn)
	require.NoError(t, err)
	ar, err := escrow.NewAEADRecipient(a, arn, "account-recovery")
	require.NoError(t, err)
	v = must(vault.New(vault.Config{Policy: itest.Policy(), Escrow: ar}))
	measure("enroll", func() {
		acct, _, err = v.Enroll(ctx, "user-jane-q-sample", []byte("pw"))
		require.NoError(t, err)
	})
	measure("unlock", func() {
		u2, _, err := v.Unlock(ctx, "user-jane-q-sample", acct, []byte("pw"))
		require.NoError(t, err)
		u2.Close()
	})
	require.Greater(t, counts["enroll"], 0)
	require.Zero(t, counts["unlock"])
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
