package serverkey_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/piivault/piivault/serverkey"
)

// exampleKMS stands in for a KMS key (in production: a tink.AEAD from
// Tink's AWS, GCP or Vault KMS client, or integrations/pkcs11hsm).
type exampleKMS struct{ cipher.AEAD }

func (k exampleKMS) Encrypt(pt, ad []byte) ([]byte, error) { return k.Seal(nil, nil, pt, ad), nil }
func (k exampleKMS) Decrypt(ct, ad []byte) ([]byte, error) { return k.Open(nil, nil, ct, ad) }

func newExampleKMS() exampleKMS {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCMWithRandomNonce(b)
	return exampleKMS{g}
}

func Example() {
	ctx := context.Background()
	kms := newExampleKMS()

	// Once, by the operator: a data key wrapped by the KMS, kept in config.
	wk, err := serverkey.GenerateDataKey(ctx, kms, "2026-11", nil)
	if err != nil {
		log.Fatal(err)
	}

	// At start-up: one KMS call per data key, then none.
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: wk})
	if err != nil {
		log.Fatal(err)
	}
	defer kr.Close()
	if err := kr.Warm(ctx); err != nil {
		log.Fatal(err)
	}

	// Enrollment: store the ciphertext and the fingerprint.
	ct, err := kr.Seal(ctx, "user-0001", "email", []byte("jane.sample@example.com"))
	if err != nil {
		log.Fatal(err)
	}
	fp, err := kr.Fingerprint(ctx, serverkey.KindEmail, "jane.sample@example.com")
	if err != nil {
		log.Fatal(err)
	}

	// Sign-in: look the account up by what the user typed.
	typed, _ := kr.Fingerprints(ctx, serverkey.KindEmail, "  jane.sample@EXAMPLE.com")
	pt, err := kr.Open(ctx, "user-0001", "email", ct)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(typed[0].Equal(fp), string(pt), kr.Unwraps())
	// Output: true jane.sample@example.com 1
}

func ExampleRotate() {
	ctx := context.Background()
	kms := newExampleKMS()
	oldKey, _ := serverkey.GenerateDataKey(ctx, kms, "2026-05", nil)
	newKey, _ := serverkey.GenerateDataKey(ctx, kms, "2026-11", nil)

	before, _ := serverkey.New(serverkey.Config{KEK: kms, Current: oldKey})
	table := serverkey.NewMemAttributeStore()
	for _, uid := range []string{"user-0001", "user-0002", "user-0003"} {
		ct, _ := before.Seal(ctx, uid, "phone", []byte("+12025550100"))
		table.Set(uid, "phone", ct)
	}

	// Deploy the new key first, the old one still in the queue, then rotate.
	kr, _ := serverkey.New(serverkey.Config{KEK: kms, Current: newKey, Older: []serverkey.WrappedKey{oldKey}})
	p, err := serverkey.Rotate(ctx, kr, table, serverkey.RotateOptions{
		OnProgress: func(p serverkey.Progress) { fmt.Printf("scanned %d rotated %d\n", p.Scanned, p.Rotated) },
	})
	if err != nil {
		log.Fatal(err)
	}
	id, _ := serverkey.KeyIDOf(table.Get("user-0002", "phone"))
	fmt.Println(p.Rotated, id)
	// Output:
	// scanned 3 rotated 3
	// 3 2026-11
}

func ExampleNormalizePhone() {
	for _, in := range []string{"(202) 555-0100", "+44 20 7946 0958", "06 12 34 56 78"} {
		cc := "1"
		if in[0] == '0' {
			cc = "33"
		}
		out, _ := serverkey.NormalizePhone(in, cc)
		fmt.Println(out)
	}
	// Output:
	// +12025550100
	// +442079460958
	// +33612345678
}

func ExampleNormalizeEmail() {
	out, _ := serverkey.NormalizeEmail("  Jane.Sample+news@Example.COM ")
	fmt.Println(out)
	// Output: Jane.Sample+news@example.com
}
