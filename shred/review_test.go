package shred_test

import (
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/stretchr/testify/require"
)

// TestOversizedLayeredBytesAreRefusedBeforeAnyKeyLookup: layered bytes one
// byte longer than the longest account record (or attribute) can make are
// refused as ErrMalformed from their length alone, before the key store is
// asked and before anything the size of the input is allocated or
// decrypted. (Without the length check, a 16 MiB record still reached the
// user's key and AES-GCM.)
func TestOversizedLayeredBytesAreRefusedBeforeAnyKeyLookup(t *testing.T) {
	ctx := t.Context()
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	for _, v := range []byte{1, 3} {
		account := append([]byte{'P', 'V', 'S', 'H', v}, make([]byte, envelope.RecordOverheadV1+shred.MaxAccountSize+1)...)
		_, err = l.Unwrap(ctx, jane, account)
		require.ErrorIs(t, err, shred.ErrMalformed, "version %d account", v)
		attr := append([]byte{'P', 'V', 'S', 'H', v}, make([]byte, envelope.RecordOverheadV1+serverkey.MaxPlaintext+1)...)
		_, err = l.OpenAttribute(ctx, jane, "email", attr)
		require.ErrorIs(t, err, shred.ErrMalformed, "version %d attribute", v)
	}
	require.Zero(t, l.Lookups(), "refused before any key look-up")
}
