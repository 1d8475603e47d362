// Package awskms is the AWS KMS implementation of logingov.KMS: Decrypt
// with an encryption context, as Login.gov's KMSc values need.
//
// It calls the AWS SDK (aws-sdk-go-v2) directly. Tink's AWS KMS AEAD
// (github.com/tink-crypto/tink-go-awskms) cannot be used: it turns its
// associated data into an encryption context of exactly one pair, {name:
// hex(associatedData)} (aws_kms_aead.go, WithEncryptionContextName), so it
// can never send Login.gov's two plain-text pairs {"context":
// "pii-encryption", "user_uuid": uuid}, and it always names the key, while
// a Login.gov blob names its own.
package awskms

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// API is the one KMS call Decrypter makes; *kms.Client satisfies it.
type API interface {
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Decrypter implements logingov.KMS over AWS KMS. It is safe for
// concurrent use if the API is (a *kms.Client is).
type Decrypter struct {
	api   API
	keyID string
}

// Option configures a Decrypter.
type Option func(*Decrypter)

// WithKeyID pins the KMS key: KMS refuses a blob made under any other key
// (the KeyId parameter of Decrypt). Login.gov used one key per column
// (aws_kms_multi_region_key_id for the _multi_region columns,
// aws_kms_key_id for the legacy ones), so a migration can pin it; without
// it the key named inside the blob is used, as Login.gov does.
func WithKeyID(keyID string) Option { return func(d *Decrypter) { d.keyID = keyID } }

// New returns a Decrypter calling api.
func New(api API, opts ...Option) (*Decrypter, error) {
	if api == nil {
		return nil, errors.New("awskms: nil KMS API")
	}
	d := &Decrypter{api: api}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Decrypt is one KMS Decrypt call (SYMMETRIC_DEFAULT) of blob under
// exactly encryptionContext (nil or empty: none, for Login.gov's KMSx
// values). KMS refuses a context that differs in any pair. The returned
// plaintext belongs to the caller.
func (d *Decrypter) Decrypt(ctx context.Context, blob []byte, encryptionContext map[string]string) ([]byte, error) {
	in := &kms.DecryptInput{
		CiphertextBlob:      blob,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}
	if len(encryptionContext) > 0 {
		in.EncryptionContext = maps.Clone(encryptionContext)
	}
	if d.keyID != "" {
		in.KeyId = aws.String(d.keyID)
	}
	out, err := d.api.Decrypt(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("awskms: decrypt: %w", err)
	}
	if out.Plaintext == nil {
		return nil, errors.New("awskms: decrypt returned no plaintext")
	}
	return out.Plaintext, nil
}
