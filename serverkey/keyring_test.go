package serverkey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
)

func TestSealOpenRoundTripUnderCurrentKey(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k2"))
	for _, pt := range [][]byte{nil, []byte("jane.sample@example.com"), bytes.Repeat([]byte{7}, serverkey.MaxPlaintext)} {
		ct, err := kr.Seal(t.Context(), jane, "email", pt)
		require.NoError(t, err)
		require.Len(t, ct, serverkey.Overhead+len("k2")+len(pt))
		id, err := serverkey.KeyIDOf(ct)
		require.NoError(t, err)
		require.Equal(t, "k2", id)
		got, err := kr.Open(t.Context(), jane, "email", ct)
		require.NoError(t, err)
		require.Equal(t, len(pt), len(got))
		require.True(t, bytes.Equal(pt, got))
	}
}

func TestCiphertextMovedToAnotherUserOrAttributeDoesNotOpen(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	ct, err := kr.Seal(t.Context(), jane, "email", []byte("jane.sample@example.com"))
	require.NoError(t, err)
	for _, b := range [][2]string{{john, "email"}, {jane, "phone"}, {jane, "Email"}} {
		pt, err := kr.Open(t.Context(), b[0], b[1], ct)
		require.ErrorIs(t, err, serverkey.ErrDecrypt, "%v", b)
		require.ErrorIs(t, err, envelope.ErrCommitment, "%v", b)
		require.Nil(t, pt)
	}
}

func TestCiphertextDoesNotOpenUnderAnotherDataKeyWithTheSameID(t *testing.T) {
	kms := newFakeKMS(t)
	a := newRing(t, kms, genKey(t, kms, "k1"))
	b := newRing(t, kms, genKey(t, kms, "k1")) // another deployment's key, same id
	ct, err := a.Seal(t.Context(), jane, "email", []byte("x@example.com"))
	require.NoError(t, err)
	_, err = b.Open(t.Context(), jane, "email", ct)
	require.ErrorIs(t, err, envelope.ErrCommitment)
}

func TestKeyIDIsBoundIntoTheCiphertext(t *testing.T) {
	// Relabelling a ciphertext with another key id of the same queue (same
	// length) is refused by the commitment, not decrypted under that key.
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	kr := newRing(t, kms, k2, k1)
	ct, err := kr.Seal(t.Context(), jane, "email", []byte("x@example.com"))
	require.NoError(t, err)
	moved := bytes.Clone(ct)
	copy(moved[6:8], "k1")
	_, err = kr.Open(t.Context(), jane, "email", moved)
	require.ErrorIs(t, err, envelope.ErrCommitment)
}

func TestEveryByteFlipAndTruncationRejected(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"), genKey(t, kms, "k0"))
	ct, err := kr.Seal(t.Context(), jane, "totp_seed", []byte("JBSWY3DPEHPK3PXP"))
	require.NoError(t, err)
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			pt, err := kr.Open(t.Context(), jane, "totp_seed", bad)
			require.Error(t, err, "byte %d bit %#x", i, bit)
			require.Nil(t, pt)
			isClass := errors.Is(err, serverkey.ErrMalformed) || errors.Is(err, serverkey.ErrVersion) ||
				errors.Is(err, serverkey.ErrUnknownKey) || errors.Is(err, serverkey.ErrDecrypt)
			require.True(t, isClass, "byte %d: %v", i, err)
		}
	}
	for n := range len(ct) {
		_, err := kr.Open(t.Context(), jane, "totp_seed", ct[:n])
		require.Error(t, err, "truncated to %d", n)
	}
	_, err = kr.Open(t.Context(), jane, "totp_seed", append(bytes.Clone(ct), 0))
	require.ErrorIs(t, err, envelope.ErrPayloadAuth, "a trailing byte is inside the record and breaks the tag")
}

func TestOversizedInputsRefusedBeforeWork(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	_, err := kr.Seal(t.Context(), jane, "email", make([]byte, serverkey.MaxPlaintext+1))
	require.ErrorIs(t, err, serverkey.ErrTooLarge)
	_, err = kr.Open(t.Context(), jane, "email", make([]byte, serverkey.MaxCiphertext+1))
	require.ErrorIs(t, err, serverkey.ErrTooLarge)
	require.Zero(t, kr.Unwraps(), "no KMS call for refused input")
	_, err = kr.Seal(t.Context(), "", "email", nil)
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
	_, err = kr.Seal(t.Context(), jane, string(make([]byte, 256)), nil)
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
}

func TestOneKMSCallPerDataKeyAcrossManyConcurrentOperations(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	old := newRing(t, kms, k1)
	oldCT, err := old.Seal(t.Context(), jane, "phone", []byte("+12025550100"))
	require.NoError(t, err)

	kr := newRing(t, kms, k2, k1)
	before := kms.decrypts.Load()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				uid := fmt.Sprintf("user-%d-%d", g, i)
				ct, err := kr.Seal(t.Context(), uid, "email", []byte(uid+"@example.com"))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := kr.Open(t.Context(), uid, "email", ct); err != nil {
					t.Error(err)
					return
				}
				if _, err := kr.Open(t.Context(), jane, "phone", oldCT); err != nil {
					t.Error(err)
					return
				}
				if _, err := kr.Fingerprints(t.Context(), serverkey.KindEmail, uid+"@example.com"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 2, kms.decrypts.Load()-before, "one KMS Decrypt per data key, whatever the number of operations")
	require.EqualValues(t, 2, kr.Unwraps())
}

func TestWarmUnwrapsEveryKeyOnceAndThenNoKMSCall(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k3"), genKey(t, kms, "k2"), genKey(t, kms, "k1"))
	require.NoError(t, kr.Warm(t.Context()))
	require.EqualValues(t, 3, kr.Unwraps())
	kms.down.Store(true) // the KMS goes away after start-up
	ct, err := kr.Seal(t.Context(), jane, "email", []byte("a@example.com"))
	require.NoError(t, err)
	_, err = kr.Open(t.Context(), jane, "email", ct)
	require.NoError(t, err)
	_, err = kr.Fingerprints(t.Context(), serverkey.KindPhone, "202-555-0100")
	require.NoError(t, err)
	require.EqualValues(t, 3, kr.Unwraps())
}

func TestCacheForUnwrapsOncePerIntervalAndFailsClosed(t *testing.T) {
	kms := newFakeKMS(t)
	clk := &fakeClock{}
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: genKey(t, kms, "k1"), CacheFor: time.Hour, Now: clk.Now})
	require.NoError(t, err)
	defer kr.Close()
	seal := func() error {
		_, err := kr.Seal(t.Context(), jane, "email", []byte("a@example.com"))
		return err
	}
	for range 10 {
		require.NoError(t, seal())
	}
	require.EqualValues(t, 1, kr.Unwraps())
	clk.Advance(59 * time.Minute)
	require.NoError(t, seal())
	require.EqualValues(t, 1, kr.Unwraps(), "still inside the interval")
	clk.Advance(time.Minute)
	for range 10 {
		require.NoError(t, seal())
	}
	require.EqualValues(t, 2, kr.Unwraps(), "one refresh for the new interval")

	clk.Advance(time.Hour)
	kms.down.Store(true)
	require.ErrorIs(t, seal(), serverkey.ErrKMS, "expired key is not used when the refresh fails")
	require.ErrorIs(t, seal(), errKMSDown)
	kms.down.Store(false)
	require.NoError(t, seal())
}

func TestKeyQueueSealsUnderCurrentAndOpensUnderOlder(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "2026-01"), genKey(t, kms, "2026-07")
	before := newRing(t, kms, k1)
	old, err := before.Seal(t.Context(), jane, "email", []byte("jane@example.com"))
	require.NoError(t, err)

	after := newRing(t, kms, k2, k1)
	require.Equal(t, "2026-07", after.CurrentID())
	require.Equal(t, []string{"2026-07", "2026-01"}, after.KeyIDs())
	require.True(t, after.NeedsRotation(old))
	pt, err := after.Open(t.Context(), jane, "email", old)
	require.NoError(t, err)
	require.Equal(t, "jane@example.com", string(pt))
	fresh, err := after.Seal(t.Context(), jane, "email", pt)
	require.NoError(t, err)
	require.False(t, after.NeedsRotation(fresh))

	dropped := newRing(t, kms, k2)
	_, err = dropped.Open(t.Context(), jane, "email", old)
	require.ErrorIs(t, err, serverkey.ErrUnknownKey)
}

func TestConfigRefusesBadKeysAndIDs(t *testing.T) {
	kms := newFakeKMS(t)
	k := genKey(t, kms, "k1")
	for name, cfg := range map[string]serverkey.Config{
		"nil kek":       {Current: k},
		"no current":    {KEK: kms},
		"duplicate id":  {KEK: kms, Current: k, Older: []serverkey.WrappedKey{k}},
		"colon in id":   {KEK: kms, Current: serverkey.WrappedKey{ID: "a:b", Wrapped: k.Wrapped}},
		"space in id":   {KEK: kms, Current: serverkey.WrappedKey{ID: "a b", Wrapped: k.Wrapped}},
		"negative ttl":  {KEK: kms, Current: k, CacheFor: -1},
		"country code":  {KEK: kms, Current: k, PhoneCountryCode: "01"},
		"empty wrapped": {KEK: kms, Current: serverkey.WrappedKey{ID: "k1"}},
	} {
		_, err := serverkey.New(cfg)
		require.ErrorIs(t, err, serverkey.ErrInvalidInput, name)
	}
	_, err := serverkey.GenerateDataKey(t.Context(), kms, string(make([]byte, 65)), nil)
	require.ErrorIs(t, err, serverkey.ErrInvalidInput)
}

// swappedKEK decrypts every wrapped key as if it were another one: a KMS
// (or an operator) that hands back a data key of another id.
type swappedKEK struct {
	*fakeKMS
	other []byte
	ad    []byte
}

func (s swappedKEK) Decrypt(_, _ []byte) ([]byte, error) { return s.fakeKMS.Decrypt(s.other, s.ad) }

func TestWrappedKeyOfAnotherIDIsRefused(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	// Config names k2's wrapped bytes "k1": the AD mismatch makes the KMS refuse.
	kr := newRing(t, kms, serverkey.WrappedKey{ID: "k1", Wrapped: k2.Wrapped})
	_, err := kr.Seal(t.Context(), jane, "email", nil)
	require.ErrorIs(t, err, serverkey.ErrKMS)
	// A backend that ignores the associated data is caught by the id inside
	// the plaintext.
	ad := append(append([]byte("piivault/serverkey/v1/data-key"), 2), "k2"...)
	kr2, err := serverkey.New(serverkey.Config{KEK: swappedKEK{kms, k2.Wrapped, ad}, Current: k1})
	require.NoError(t, err)
	defer kr2.Close()
	_, err = kr2.Seal(t.Context(), jane, "email", nil)
	require.ErrorIs(t, err, serverkey.ErrKMS)
}

func TestClosedKeyringRefusesEverything(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	ct, err := kr.Seal(t.Context(), jane, "email", nil)
	require.NoError(t, err)
	kr.Close()
	_, err = kr.Seal(t.Context(), jane, "email", nil)
	require.ErrorIs(t, err, serverkey.ErrClosed)
	_, err = kr.Open(t.Context(), jane, "email", ct)
	require.ErrorIs(t, err, serverkey.ErrClosed)
	_, err = kr.Fingerprint(t.Context(), serverkey.KindEmail, "a@example.com")
	require.ErrorIs(t, err, serverkey.ErrClosed)
}

func TestCancelledContextMakesNoKMSCall(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := kr.Seal(ctx, jane, "email", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, kms.decrypts.Load())
}

func TestResealMovesToCurrentKeyAndKeepsCurrentOnesAsIs(t *testing.T) {
	kms := newFakeKMS(t)
	k1, k2 := genKey(t, kms, "k1"), genKey(t, kms, "k2")
	old, err := newRing(t, kms, k1).Seal(t.Context(), jane, "email", []byte("v"))
	require.NoError(t, err)
	kr := newRing(t, kms, k2, k1)
	nc, err := kr.Reseal(t.Context(), jane, "email", old)
	require.NoError(t, err)
	id, _ := serverkey.KeyIDOf(nc)
	require.Equal(t, "k2", id)
	same, err := kr.Reseal(t.Context(), jane, "email", nc)
	require.NoError(t, err)
	require.Equal(t, nc, same)
	_, err = kr.Reseal(t.Context(), john, "email", old)
	require.ErrorIs(t, err, serverkey.ErrDecrypt, "reseal checks the binding")
}

func TestConcurrentOperationsAcrossCacheRefreshesNeverUseAClearedKey(t *testing.T) {
	kms := newFakeKMS(t)
	clk := &fakeClock{}
	kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: genKey(t, kms, "k1"), CacheFor: time.Minute, Now: clk.Now})
	require.NoError(t, err)
	defer kr.Close()
	ct, err := kr.Seal(t.Context(), jane, "email", []byte("jane@example.com"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				pt, err := kr.Open(t.Context(), jane, "email", ct)
				if err != nil || string(pt) != "jane@example.com" {
					t.Errorf("open during refresh: %q %v", pt, err)
					return
				}
				if _, err := kr.Seal(t.Context(), jane, "email", pt); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 20 {
		clk.Advance(time.Minute) // every advance forces one refresh
		time.Sleep(100 * time.Microsecond)
	}
	wg.Wait()
	require.LessOrEqual(t, kr.Unwraps(), int64(21), "at most one unwrap per interval")
	require.GreaterOrEqual(t, kr.Unwraps(), int64(1))
}

func TestWarmFailsFastWhenTheKMSIsDown(t *testing.T) {
	kms := newFakeKMS(t)
	kr := newRing(t, kms, genKey(t, kms, "k1"))
	kms.down.Store(true)
	require.ErrorIs(t, kr.Warm(t.Context()), serverkey.ErrKMS)
	kms.down.Store(false)
	require.NoError(t, kr.Warm(t.Context()))
}
