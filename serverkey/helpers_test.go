package serverkey_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/serverkey"
)

// fakeKMS is a tink.AEAD standing in for a KMS key: AES-256-GCM from the
// standard library (so tests also run under GODEBUG=fips140=only), with
// call counters and a switch to make it fail.
type fakeKMS struct {
	aead     cipher.AEAD
	encrypts atomic.Int64
	decrypts atomic.Int64
	down     atomic.Bool
}

var errKMSDown = errors.New("fake kms: unavailable")

func newFakeKMS(t testing.TB) *fakeKMS {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	b, err := aes.NewCipher(k)
	require.NoError(t, err)
	g, err := cipher.NewGCMWithRandomNonce(b)
	require.NoError(t, err)
	return &fakeKMS{aead: g}
}

func (f *fakeKMS) Encrypt(pt, ad []byte) ([]byte, error) {
	f.encrypts.Add(1)
	if f.down.Load() {
		return nil, errKMSDown
	}
	return f.aead.Seal(nil, nil, pt, ad), nil
}

func (f *fakeKMS) Decrypt(ct, ad []byte) ([]byte, error) {
	f.decrypts.Add(1)
	if f.down.Load() {
		return nil, errKMSDown
	}
	return f.aead.Open(nil, nil, ct, ad)
}

// fakeClock is a settable clock.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.t.Add(int64(d)) }

func genKey(t testing.TB, kms *fakeKMS, id string) serverkey.WrappedKey {
	t.Helper()
	wk, err := serverkey.GenerateDataKey(context.Background(), kms, id, nil)
	require.NoError(t, err)
	return wk
}

func newRing(t testing.TB, kms *fakeKMS, current serverkey.WrappedKey, older ...serverkey.WrappedKey) *serverkey.Keyring {
	t.Helper()
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: current, Older: older})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return kr
}

const (
	jane = "user-0001-synthetic"
	john = "user-0002-synthetic"
)
