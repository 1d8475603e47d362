package shred_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

type exampleKMS struct{ cipher.AEAD }

func (k exampleKMS) Encrypt(pt, ad []byte) ([]byte, error) { return k.Seal(nil, nil, pt, ad), nil }
func (k exampleKMS) Decrypt(ct, ad []byte) ([]byte, error) { return k.Open(nil, nil, ct, ad) }

func Example() {
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCMWithRandomNonce(b)
	kms := exampleKMS{g} // in production: a KMS or HSM key through tink.AEAD

	// Start-up: the keyring that wraps per-user keys, warmed (one KMS call).
	wk, _ := serverkey.GenerateDataKey(ctx, kms, "shred-2026-11", nil)
	kr, _ := serverkey.New(serverkey.Config{KEK: kms, Current: wk})
	defer kr.Close()
	if err := kr.Warm(ctx); err != nil {
		log.Fatal(err)
	}
	// The key table lives in its own database with short-lived backups
	// (shred.NewSQLKeyStore); the account table is any vault.Store.
	layer, _ := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: kr})
	accounts := vault.NewMemStore()
	store := layer.Store(accounts)

	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1} // tiny, for the example
	v, _ := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}})
	if _, err := v.EnrollInStore(ctx, store, "user-0001", []byte("correct horse")); err != nil {
		log.Fatal(err)
	}
	backup, _, _ := accounts.Get(ctx, "user-0001") // tonight's backup

	if err := store.Shred(ctx, "user-0001"); err != nil {
		log.Fatal(err)
	}
	restored := vault.NewMemStore()
	_, _ = restored.Put(ctx, "user-0001", backup, 0)
	_, err := v.UnlockInStore(ctx, layer.Store(restored), "user-0001", []byte("correct horse"))
	fmt.Println(errors.Is(err, vault.ErrWrongSecret)) // as for an unknown user
	_, err = layer.Unwrap(ctx, "user-0001", backup)
	fmt.Println(errors.Is(err, shred.ErrShredded), kr.Unwraps())
	// Output:
	// true
	// true 1
}

func ExampleSchema() {
	ddl, err := shred.Schema(shred.PostgreSQL, "piivault_shred_keys")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ddl)
	// Output:
	// CREATE TABLE IF NOT EXISTS piivault_shred_keys (
	// 	user_id     TEXT  PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 255),
	// 	wrapped_key BYTEA NOT NULL
	// )
}
