package awsescrow_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/awsescrow"
)

// A KMS-bound pepper, unwrapped once at start-up, and an AEAD escrow through
// AWS KMS (here a local moto server). Compiled, not run: it needs a KMS.
func Example() {
	ctx := context.Background()
	counter := &awsescrow.CallCounter{}
	client := awsescrow.NewKMSClient("http://127.0.0.1:5000", "us-east-1", "testing", "testing", &http.Client{Transport: counter})
	const keyARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	a, err := awsescrow.NewAEAD(ctx, client, keyARN)
	if err != nil {
		fmt.Println(err)
		return
	}
	var wrappedPepper []byte // from the deployment's configuration (escrow.WrapPepper)
	pepper, err := escrow.UnwrapPepper(ctx, a, wrappedPepper, []byte("deployment-name"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = pepper // vault.Config.Pepper
	rcpt, _ := escrow.NewAEADRecipient(a, keyARN, "account-recovery")
	_ = rcpt // vault.Config.Escrow: one KMS call per enrollment
	fmt.Println("KMS calls:", counter.Snapshot())
}
