package pkcs11hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/vault"
)

func openToken(t *testing.T) *Token {
	t.Helper()
	module := itest.Env(t, "PIIVAULT_PKCS11_MODULE")
	itest.Env(t, "SOFTHSM2_CONF")
	tok, err := Open(module, itest.Env(t, "PIIVAULT_PKCS11_TOKEN"), itest.Env(t, "PIIVAULT_PKCS11_PIN"))
	require.NoError(t, err)
	t.Cleanup(func() { tok.Close() })
	return tok
}

func TestTokenLookedUpByLabel(t *testing.T) {
	module := itest.Env(t, "PIIVAULT_PKCS11_MODULE")
	_, err := Open(module, "no-such-token-label", "1234")
	require.ErrorIs(t, err, ErrTokenNotFound)
	tok := openToken(t)
	_, err = tok.ECKey("no-such-key")
	require.ErrorIs(t, err, ErrKeyNotFound)
}

func TestECDHInTokenEqualsCryptoECDH(t *testing.T) {
	tok := openToken(t)
	k, err := tok.ECKey(itest.Env(t, "PIIVAULT_PKCS11_EC_LABEL"))
	require.NoError(t, err)
	for range 3 {
		e, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		inToken, err := k.ECDH(e.PublicKey())
		require.NoError(t, err)
		inSoftware, err := e.ECDH(k.PublicKey())
		require.NoError(t, err)
		require.Equal(t, inSoftware, inToken)
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = k.ECDH(x.PublicKey())
	require.Error(t, err, "a key on another curve is refused")
}

func TestHPKEP256EscrowWritesWithPublicKeyAndRecoversThroughToken(t *testing.T) {
	tok := openToken(t)
	k, err := tok.ECKey(itest.Env(t, "PIIVAULT_PKCS11_EC_LABEL"))
	require.NoError(t, err)
	// The writer has the public key only (exported from the token once).
	pub, err := hpke.NewDHKEMPublicKey(k.PublicKey())
	require.NoError(t, err)
	fp, err := escrow.FingerprintOf(pub)
	require.NoError(t, err)
	rcpt, err := escrow.NewRecipient(pub, fp, "account-recovery")
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: rcpt})
	require.NoError(t, err)
	acct, _, err := v.Enroll(t.Context(), "user-jane-q-sample", []byte("forgotten"))
	require.NoError(t, err)
	u, _, err := v.Unlock(t.Context(), "user-jane-q-sample", acct, []byte("forgotten"))
	require.NoError(t, err)
	rec, err := u.Seal("ssn", []byte("900-12-3456"))
	require.NoError(t, err)
	u.Close()

	id, err := escrow.NewKeyExchangerIdentity(k, "account-recovery")
	require.NoError(t, err)
	require.Equal(t, fp, id.Fingerprint())
	acct2, _, err := v.RecoverWithEscrow(t.Context(), "user-jane-q-sample", acct, id, []byte("new password"), "agent-7", "ticket-42")
	require.NoError(t, err)
	u2, _, err := v.Unlock(t.Context(), "user-jane-q-sample", acct2, []byte("new password"))
	require.NoError(t, err)
	defer u2.Close()
	pt, err := u2.Open("ssn", rec)
	require.NoError(t, err)
	require.Equal(t, "900-12-3456", string(pt))
}

func TestKWPAEADRoundTripAndRefusesTamperAndOtherAD(t *testing.T) {
	tok := openToken(t)
	a, err := tok.KWPAEAD(itest.Env(t, "PIIVAULT_PKCS11_AES_LABEL"))
	require.NoError(t, err)
	ct, err := a.Encrypt([]byte("account key bytes"), []byte("ad-1"))
	require.NoError(t, err)
	pt, err := a.Decrypt(ct, []byte("ad-1"))
	require.NoError(t, err)
	require.Equal(t, "account key bytes", string(pt))
	_, err = a.Decrypt(ct, []byte("ad-2"))
	require.ErrorIs(t, err, ErrDecrypt)
	for _, i := range []int{0, 2, 10, 42, 2 + 40 + 3, len(ct) - 1} {
		mut := bytes.Clone(ct)
		mut[i] ^= 1
		got, err := a.Decrypt(mut, []byte("ad-1"))
		require.True(t, errors.Is(err, ErrDecrypt), "byte %d: %v", i, err)
		require.Nil(t, got)
	}
}

func TestKWPAEADAsVaultEscrow(t *testing.T) {
	tok := openToken(t)
	a, err := tok.KWPAEAD(itest.Env(t, "PIIVAULT_PKCS11_AES_LABEL"))
	require.NoError(t, err)
	r, err := escrow.NewAEADRecipient(a, "pkcs11:piivault-test/escrow-aes", "account-recovery")
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: r})
	require.NoError(t, err)
	acct, _, err := v.Enroll(t.Context(), "user-jane-q-sample", []byte("pw"))
	require.NoError(t, err)
	h, err := envelope.ParseHeader(acct)
	require.NoError(t, err)
	_, err = envelope.UnwrapKey(t.Context(), h, envelope.Binding{UserID: "user-jane-q-sample", Label: vault.AccountLabel}, r)
	require.NoError(t, err)
	_, _, err = v.RecoverWithEscrow(t.Context(), "user-jane-q-sample", acct, r, []byte("pw2"), "agent-7", "ticket-43")
	require.NoError(t, err)
}

func TestOAEPAEADEncryptsWithPublicKeyAndDecryptsInToken(t *testing.T) {
	tok := openToken(t)
	a, err := tok.OAEPAEAD(itest.Env(t, "PIIVAULT_PKCS11_RSA_LABEL"), crypto.SHA1)
	require.NoError(t, err)
	ct, err := a.Encrypt([]byte("payload"), []byte("ad-1"))
	require.NoError(t, err)
	pt, err := a.Decrypt(ct, []byte("ad-1"))
	require.NoError(t, err)
	require.Equal(t, "payload", string(pt))
	_, err = a.Decrypt(ct, []byte("ad-2"))
	require.ErrorIs(t, err, ErrDecrypt)
	mut := bytes.Clone(ct)
	mut[10] ^= 1
	_, err = a.Decrypt(mut, []byte("ad-1"))
	require.ErrorIs(t, err, ErrDecrypt)
	_, err = tok.OAEPAEAD(itest.Env(t, "PIIVAULT_PKCS11_RSA_LABEL"), crypto.MD5)
	require.Error(t, err)
	// As a vault escrow.
	r, err := escrow.NewAEADRecipient(a, "pkcs11:piivault-test/escrow-rsa", "account-recovery")
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: r})
	require.NoError(t, err)
	acct, _, err := v.Enroll(t.Context(), "user-jane-q-sample", []byte("pw"))
	require.NoError(t, err)
	_, _, err = v.RecoverWithEscrow(t.Context(), "user-jane-q-sample", acct, r, []byte("pw2"), "agent-7", "ticket-45")
	require.NoError(t, err)
}
