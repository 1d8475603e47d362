package shred_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// fakeKMS stands in for a KMS key and counts its calls.
type fakeKMS struct {
	aead     cipher.AEAD
	decrypts atomic.Int64
}

func newFakeKMS(t testing.TB) *fakeKMS {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	b, err := aes.NewCipher(k)
	require.NoError(t, err)
	g, err := cipher.NewGCMWithRandomNonce(b)
	require.NoError(t, err)
	return &fakeKMS{aead: g}
}

func (f *fakeKMS) Encrypt(pt, ad []byte) ([]byte, error) { return f.aead.Seal(nil, nil, pt, ad), nil }
func (f *fakeKMS) Decrypt(ct, ad []byte) ([]byte, error) {
	f.decrypts.Add(1)
	return f.aead.Open(nil, nil, ct, ad)
}

func newKeyring(t testing.TB, kms *fakeKMS) *serverkey.Keyring {
	t.Helper()
	wk, err := serverkey.GenerateDataKey(t.Context(), kms, "shred-2026-11", nil)
	require.NoError(t, err)
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: wk})
	require.NoError(t, err)
	require.NoError(t, kr.Warm(t.Context()))
	t.Cleanup(kr.Close)
	return kr
}

// countingKeys counts KeyStore calls.
type countingKeys struct {
	shred.KeyStore
	gets atomic.Int64
}

func (c *countingKeys) Get(ctx context.Context, uid string) ([]byte, error) {
	c.gets.Add(1)
	return c.KeyStore.Get(ctx, uid)
}

func testPolicy() kdf.Policy {
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	return kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}
}

func newVault(t testing.TB, cfg vault.Config) *vault.Vault {
	t.Helper()
	cfg.Policy = testPolicy()
	v, err := vault.New(cfg)
	require.NoError(t, err)
	return v
}

var errInjected = errors.New("injected failure")

const (
	jane = "user-0001-synthetic"
	john = "user-0002-synthetic"
)
