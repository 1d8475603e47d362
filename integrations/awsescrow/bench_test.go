package awsescrow

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
)

// BenchmarkEscrowWrap compares what an escrow adds to each enrollment:
// HPKE (local, public key only) against an AEAD escrow through the KMS API
// (here moto on loopback: a lower bound for a real KMS round trip).
func BenchmarkEscrowWrap(b *testing.B) {
	endpoint := itest.Env(b, "PIIVAULT_KMS_ENDPOINT")
	key := make([]byte, envelope.KeySize)
	bind := envelope.Binding{UserID: "user-jane-q-sample", Label: "account"}
	priv, err := escrow.GenerateKey(escrow.SuiteMLKEM768X25519)
	if err != nil {
		b.Fatal(err)
	}
	fp, _ := escrow.FingerprintOf(priv.PublicKey())
	hr, err := escrow.NewRecipient(priv.PublicKey(), fp, "account-recovery")
	if err != nil {
		b.Fatal(err)
	}
	c := NewKMSClient(endpoint, "us-east-1", "testing", "testing", &http.Client{})
	out, err := c.CreateKey(b.Context(), &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAEAD(b.Context(), c, *out.KeyMetadata.Arn)
	if err != nil {
		b.Fatal(err)
	}
	ar, err := escrow.NewAEADRecipient(a, *out.KeyMetadata.Arn, "account-recovery")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		r    envelope.Recipient
	}{{"hpke-mlkem768x25519", hr}, {"kms-aead-moto-loopback", ar}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.r.Wrap(b.Context(), key, bind); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
