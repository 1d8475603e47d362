package pkcs11hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/disclosure"
)

func TestECDSASignerInTokenVerifiesWithCryptoECDSA(t *testing.T) {
	tok := openToken(t)
	s, err := tok.ECDSASigner(itest.Env(t, "PIIVAULT_PKCS11_SIGN_LABEL"))
	require.NoError(t, err)
	pub := s.Public().(*ecdsa.PublicKey)
	for i := range 3 {
		d := sha256.Sum256([]byte{byte(i)})
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(pub, d[:], sig), "token signature does not verify")
		var rs struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(sig, &rs)
		require.NoError(t, err)
		require.Empty(t, rest)
		other := sha256.Sum256([]byte{byte(i), 1})
		require.False(t, ecdsa.VerifyASN1(pub, other[:], sig), "signature verifies for another digest")
	}
	d := sha256.Sum256(nil)
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA384)
	require.Error(t, err, "a non-SHA-256 digest is refused")
	_, err = s.Sign(rand.Reader, []byte("message, not a digest"), crypto.SHA256)
	require.Error(t, err, "input of the wrong size is refused")
	_, err = tok.ECDSASigner("no-such-key")
	require.ErrorIs(t, err, ErrKeyNotFound)
}

// The identity provider signs disclosure packages in the token (ECDSA
// P-256, the FIPS choice); the partner pins the key's fingerprint and opens
// them; a package signed by any other key, or changed, is refused.
func TestDisclosureSignedInTokenIsVerifiedByThePartner(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	tok := openToken(t)
	signer, err := tok.ECDSASigner(itest.Env(t, "PIIVAULT_PKCS11_SIGN_LABEL"))
	require.NoError(t, err)
	d, err := disclosure.New(disclosure.Config{Signer: signer})
	require.NoError(t, err)

	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	acct, _, err := v.Enroll(ctx, "user-jane-q-sample", []byte("pw"))
	require.NoError(t, err)
	u, _, err := v.Unlock(ctx, "user-jane-q-sample", acct, []byte("pw"))
	require.NoError(t, err)
	defer u.Close()
	sealed, err := u.SealIdentity("pii", &vault.Identity{GivenName: "Jane", FamilyName: "Sample", BirthDate: "1980-02-29", SSN: "900123456"})
	require.NoError(t, err)

	// The partner: its own HPKE key, and the provider key pinned by the
	// fingerprint the provider published.
	partnerKey, err := hpke.MLKEM768P256().GenerateKey()
	require.NoError(t, err)
	published, err := disclosure.ProviderFingerprint(signer.Public())
	require.NoError(t, err)
	require.Equal(t, d.Fingerprint(), published)
	pinned, err := disclosure.PinProviderKey(signer.Public(), published)
	require.NoError(t, err)
	require.Equal(t, disclosure.SigECDSAP256SHA256, pinned.Algorithm())
	partner, err := disclosure.NewOpener(disclosure.OpenerConfig{
		PartnerID: "urn:gov:example:agency-a", Key: partnerKey, Providers: []*disclosure.ProviderKey{pinned},
		Replay: disclosure.NewMemoryReplayCache(10),
	})
	require.NoError(t, err)

	c := disclosure.Consent{
		PartnerID: "urn:gov:example:agency-a", Nonce: "n-hsm-1",
		Attributes: []string{vault.AttrGivenName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application", GivenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	p := disclosure.Partner{ID: "urn:gov:example:agency-a", PublicKey: partnerKey.PublicKey()}
	pkg, err := d.Disclose(ctx, u, "pii", sealed, c, p, now)
	require.NoError(t, err)
	got, err := partner.Open(ctx, pkg, "n-hsm-1", now.Add(time.Minute))
	require.NoError(t, err)
	gn, _ := got.Value(vault.AttrGivenName)
	require.Equal(t, "Jane", gn)
	require.Equal(t, published, got.Signer)

	// Changed anywhere: refused by the signature.
	for _, i := range []int{7, 50, 100, len(pkg) / 2, len(pkg) - 70, len(pkg) - 1} {
		bad := bytes.Clone(pkg)
		bad[i] ^= 1
		_, err := partner.Open(ctx, bad, "n-hsm-1", now.Add(time.Minute))
		require.Error(t, err, "byte %d changed", i)
	}
	// Signed by a software key that is not the pinned one.
	other, err := disclosure.New(disclosure.Config{Signer: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))})
	require.NoError(t, err)
	forged, err := other.Disclose(ctx, u, "pii", sealed, c, p, now)
	require.NoError(t, err)
	_, err = partner.Open(ctx, forged, "n-hsm-1", now.Add(time.Minute))
	require.ErrorIs(t, err, disclosure.ErrWrongSigner)
	// And the real one, once only.
	_, err = partner.Open(ctx, pkg, "n-hsm-1", now.Add(time.Minute))
	require.ErrorIs(t, err, disclosure.ErrReplay)
}
