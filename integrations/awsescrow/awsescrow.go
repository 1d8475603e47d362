// Package awsescrow reaches AWS KMS (or an API-compatible server such as
// moto in tests) for piivault's AEAD escrow and KMS-bound pepper, through
// github.com/tink-crypto/tink-go-awskms/v3 and aws-sdk-go-v2.
//
// The associated data of every call (for an escrow stanza: version, suite,
// stanza type, key id, user id, label and purpose) travels to KMS as the
// encryption context {"associatedData": ...}, so it appears in CloudTrail
// and a KMS key policy can condition on it.
package awsescrow

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// NewAEAD returns a tink.AEAD for the KMS symmetric key keyARN
// ("arn:aws:kms:REGION:ACCOUNT:key/ID") through client, with associated
// data sent as the encryption context.
func NewAEAD(ctx context.Context, client awskms.KMSAPI, keyARN string) (tink.AEAD, error) {
	if !strings.HasPrefix(keyARN, "arn:") {
		return nil, fmt.Errorf("awsescrow: key %q is not an ARN", keyARN)
	}
	c, err := awskms.NewClientWithOptions(ctx, "aws-kms://", awskms.WithKMS(client), awskms.WithEncryptionContextName(awskms.AssociatedData))
	if err != nil {
		return nil, fmt.Errorf("awsescrow: %w", err)
	}
	a, err := c.GetAEAD("aws-kms://" + keyARN)
	if err != nil {
		return nil, fmt.Errorf("awsescrow: %w", err)
	}
	return a, nil
}

// NewKMSClient returns a KMS client for region whose requests go to
// endpoint (e.g. "http://127.0.0.1:5000" for moto; "" for AWS itself) with
// static credentials, through httpClient (nil: http.DefaultClient).
func NewKMSClient(endpoint, region, accessKey, secretKey string, httpClient *http.Client) *kms.Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	o := kms.Options{
		Region:     region,
		HTTPClient: httpClient,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "awsescrow static"}, nil
		}),
	}
	if endpoint != "" {
		o.BaseEndpoint = aws.String(endpoint)
	}
	return kms.New(o)
}

// CallCounter is an http.RoundTripper that counts KMS API calls by
// operation (the X-Amz-Target header, e.g. "TrentService.Encrypt"). An
// SDK retry of one call (same Amz-Sdk-Invocation-Id header) is counted
// once: what is counted is the calls the code under test makes, not the
// attempts a slow server provokes. It is safe for concurrent use.
type CallCounter struct {
	Base http.RoundTripper // nil: http.DefaultTransport

	mu     sync.Mutex
	counts map[string]int
	seen   map[string]bool // invocation ids
}

// RoundTrip implements http.RoundTripper.
func (c *CallCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	c.mu.Lock()
	if c.counts == nil {
		c.counts = make(map[string]int)
		c.seen = make(map[string]bool)
	}
	id := r.Header.Get("Amz-Sdk-Invocation-Id")
	if id == "" || !c.seen[id] {
		c.counts[op]++
	}
	if id != "" {
		c.seen[id] = true
	}
	c.mu.Unlock()
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Snapshot returns a copy of the counts so far.
func (c *CallCounter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of calls so far.
func (c *CallCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}
