package escrow

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

const purpose = "account-recovery"

var suites = []Suite{SuiteX25519, SuiteMLKEM768X25519, SuiteP256}

func testPolicy() kdf.Policy {
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	return kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}
}

func newVault(t testing.TB, esc envelope.Recipient) *vault.Vault {
	t.Helper()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: esc})
	require.NoError(t, err)
	return v
}

// dhSuite is the suite tests use when the suite is not the point: X25519,
// or P-256 where the FIPS 140-3 module refuses X25519.
func dhSuite() Suite {
	if fipstest.Active(fipstest.X25519) {
		return SuiteP256
	}
	return SuiteX25519
}

// skipUnavailable skips t (through fipstest) if suite s cannot run in this
// process.
func skipUnavailable(t testing.TB, s Suite) {
	t.Helper()
	if s == SuiteX25519 {
		fipstest.Skip(t, fipstest.X25519)
	}
}

// pair returns a pinned recipient and its identity for suite s.
func pair(t testing.TB, s Suite) (*Recipient, *Identity) {
	t.Helper()
	skipUnavailable(t, s)
	priv, err := GenerateKey(s)
	require.NoError(t, err)
	id, err := NewIdentity(priv, purpose)
	require.NoError(t, err)
	fp, err := FingerprintOf(priv.PublicKey())
	require.NoError(t, err)
	r, err := NewRecipient(priv.PublicKey(), fp, purpose)
	require.NoError(t, err)
	return r, id
}

func newKey(t testing.TB) []byte {
	k, err := envelope.NewKey(nil)
	require.NoError(t, err)
	return k
}

var janeB = envelope.Binding{UserID: "user-jane-q-sample", Label: vault.AccountLabel}

func TestHPKERoundTripEverySuite(t *testing.T) {
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) {
			r, id := pair(t, s)
			key := newKey(t)
			h, err := envelope.WrapKey(t.Context(), key, janeB, r)
			require.NoError(t, err)
			require.Len(t, h.Stanzas, 1)
			require.Equal(t, TypeHPKE, h.Stanzas[0].Type)
			fp := r.Fingerprint()
			require.Equal(t, fp[:], h.Stanzas[0].KeyID)
			require.Len(t, h.Stanzas[0].Body, 2+s.encSize()+wrappedKeySize)
			enc, err := h.MarshalBinary()
			require.NoError(t, err)
			h2, err := envelope.ParseHeader(enc)
			require.NoError(t, err)
			got, err := envelope.UnwrapKey(t.Context(), h2, janeB, id)
			require.NoError(t, err)
			require.Equal(t, key, got)
		})
	}
}

func TestSubstitutedPublicKeyRefused(t *testing.T) {
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) {
			real, _ := pair(t, s)
			evil, err := GenerateKey(s)
			require.NoError(t, err)
			_, err = NewRecipient(evil.PublicKey(), real.Fingerprint(), purpose)
			require.ErrorIs(t, err, ErrFingerprintMismatch)
		})
	}
	// Same key bytes under another suite id do not share a fingerprint.
	x, err := GenerateKey(dhSuite())
	require.NoError(t, err)
	fp, err := FingerprintOf(x.PublicKey())
	require.NoError(t, err)
	fp2, err := ParseFingerprint(fp.String())
	require.NoError(t, err)
	require.Equal(t, fp, fp2)
	_, err = ParseFingerprint("zz" + fp.String()[2:])
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestHPKEStanzaMovedToAnotherUserLabelOrPurposeDoesNotOpen(t *testing.T) {
	r, id := pair(t, dhSuite())
	key := newKey(t)
	ss, err := r.Wrap(t.Context(), key, janeB)
	require.NoError(t, err)
	for _, b := range []envelope.Binding{
		{UserID: "user-john-sample", Label: janeB.Label},
		{UserID: janeB.UserID, Label: "pii"},
	} {
		_, err := id.Unwrap(t.Context(), ss, b)
		require.ErrorIs(t, err, envelope.ErrNoMatch)
		require.ErrorIs(t, err, ErrStanzaOpen)
	}
	other, err := NewIdentity(id.priv, "other-purpose")
	require.NoError(t, err)
	_, err = other.Unwrap(t.Context(), ss, janeB)
	require.ErrorIs(t, err, ErrStanzaOpen)
	got, err := id.Unwrap(t.Context(), ss, janeB)
	require.NoError(t, err)
	require.Equal(t, key, got)
}

func TestHPKEEveryBodyByteFlipRejected(t *testing.T) {
	r, id := pair(t, dhSuite())
	ss, err := r.Wrap(t.Context(), newKey(t), janeB)
	require.NoError(t, err)
	body := ss[0].Body
	for i := range body {
		for _, bit := range []byte{0x01, 0x80} {
			mut := &envelope.Stanza{Type: TypeHPKE, KeyID: ss[0].KeyID, Body: bytes.Clone(body)}
			mut.Body[i] ^= bit
			got, err := id.Unwrap(t.Context(), []*envelope.Stanza{mut}, janeB)
			require.Error(t, err, "byte %d bit %x", i, bit)
			require.Nil(t, got)
		}
	}
	// Truncated and extended bodies.
	for _, b := range [][]byte{body[:len(body)-1], append(bytes.Clone(body), 0)} {
		_, err := id.Unwrap(t.Context(), []*envelope.Stanza{{Type: TypeHPKE, KeyID: ss[0].KeyID, Body: b}}, janeB)
		require.ErrorIs(t, err, ErrStanzaOpen)
	}
}

func TestHPKEIdentityIgnoresOtherKeysStanzas(t *testing.T) {
	r1, _ := pair(t, dhSuite())
	_, id2 := pair(t, dhSuite())
	ss, err := r1.Wrap(t.Context(), newKey(t), janeB)
	require.NoError(t, err)
	_, err = id2.Unwrap(t.Context(), ss, janeB)
	require.ErrorIs(t, err, envelope.ErrNoMatch)
	require.NotErrorIs(t, err, ErrStanzaOpen)
}

// P-256 through an opaque ecdh.KeyExchanger: the shape of an HSM key.
type opaqueKX struct {
	k     *ecdh.PrivateKey
	calls atomic.Int32
}

func (o *opaqueKX) Curve() ecdh.Curve          { return o.k.Curve() }
func (o *opaqueKX) PublicKey() *ecdh.PublicKey { return o.k.PublicKey() }
func (o *opaqueKX) ECDH(p *ecdh.PublicKey) ([]byte, error) {
	o.calls.Add(1)
	return o.k.ECDH(p)
}

func TestP256EscrowWritesWithPublicKeyAloneAndOpensThroughKeyExchanger(t *testing.T) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	kx := &opaqueKX{k: k}
	id, err := NewKeyExchangerIdentity(kx, purpose)
	require.NoError(t, err)
	pubOnly, err := hpke.NewDHKEMPublicKey(k.PublicKey())
	require.NoError(t, err)
	fp, err := FingerprintOf(pubOnly)
	require.NoError(t, err)
	require.Equal(t, id.Fingerprint(), fp)
	r, err := NewRecipient(pubOnly, fp, purpose)
	require.NoError(t, err)
	key := newKey(t)
	h, err := envelope.WrapKey(t.Context(), key, janeB, r)
	require.NoError(t, err)
	require.Zero(t, kx.calls.Load(), "writing must not touch the private key")
	got, err := envelope.UnwrapKey(t.Context(), h, janeB, id)
	require.NoError(t, err)
	require.Equal(t, key, got)
	require.Equal(t, int32(1), kx.calls.Load())
	_, err = MarshalPrivateKey(id.priv)
	require.Error(t, err, "a hardware-shaped key cannot be exported")
}

func TestKeyFilesRoundTrip(t *testing.T) {
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) {
			skipUnavailable(t, s)
			priv, err := GenerateKey(s)
			require.NoError(t, err)
			pf, err := MarshalPrivateKey(priv)
			require.NoError(t, err)
			priv2, err := ParsePrivateKey(pf)
			require.NoError(t, err)
			pub, err := MarshalPublicKey(priv.PublicKey())
			require.NoError(t, err)
			pub2, err := ParsePublicKey(pub)
			require.NoError(t, err)
			require.Equal(t, priv.PublicKey().Bytes(), priv2.PublicKey().Bytes())
			require.Equal(t, priv.PublicKey().Bytes(), pub2.Bytes())
			_, err = ParsePrivateKey(pub)
			require.ErrorIs(t, err, ErrInvalidKey, "public key file is not a private key file")
			_, err = ParsePublicKey(append(pub, pub...))
			require.ErrorIs(t, err, ErrInvalidKey, "trailing data refused")
		})
	}
	_, err := ParsePublicKey(make([]byte, maxKeyFile+1))
	require.ErrorIs(t, err, ErrInvalidKey)
}

// --- AEAD escrow ------------------------------------------------------------

func tinkAEAD(t testing.TB) tink.AEAD {
	t.Helper()
	fipstest.Skip(t, fipstest.TinkAESGCM)
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	require.NoError(t, err)
	a, err := aead.New(h)
	require.NoError(t, err)
	return a
}

// adIgnoring is a backend that ignores associated data.
type adIgnoring struct{ tink.AEAD }

func (a adIgnoring) Encrypt(pt, _ []byte) ([]byte, error) { return a.AEAD.Encrypt(pt, nil) }
func (a adIgnoring) Decrypt(ct, _ []byte) ([]byte, error) { return a.AEAD.Decrypt(ct, nil) }

func TestAEADEscrowBindsUserAndPurposeInsidePayloadEvenWhenBackendIgnoresAD(t *testing.T) {
	back := adIgnoring{tinkAEAD(t)}
	r, err := NewAEADRecipient(back, "kms-key-1", purpose)
	require.NoError(t, err)
	key := newKey(t)
	ss, err := r.Wrap(t.Context(), key, janeB)
	require.NoError(t, err)
	got, err := r.Unwrap(t.Context(), ss, janeB)
	require.NoError(t, err)
	require.Equal(t, key, got)
	// Moved to another user: the backend decrypts, the payload refuses.
	_, err = r.Unwrap(t.Context(), ss, envelope.Binding{UserID: "user-john-sample", Label: janeB.Label})
	require.Error(t, err)
	// Another purpose on the same backend key: refused inside the payload.
	r2, err := NewAEADRecipient(back, "kms-key-1", "other-purpose")
	require.NoError(t, err)
	_, err = r2.Unwrap(t.Context(), ss, janeB)
	require.Error(t, err)
}

func TestPepperRoundTripAndContextBinding(t *testing.T) {
	a := adIgnoring{tinkAEAD(t)}
	pepper := bytes.Repeat([]byte{0x42}, 32)
	w, err := WrapPepper(t.Context(), a, pepper, []byte("deployment-a"))
	require.NoError(t, err)
	got, err := UnwrapPepper(t.Context(), a, w, []byte("deployment-a"))
	require.NoError(t, err)
	require.Equal(t, pepper, got)
	_, err = UnwrapPepper(t.Context(), a, w, []byte("deployment-b"))
	require.ErrorIs(t, err, ErrPayload)
	_, err = WrapPepper(t.Context(), a, pepper[:31], nil)
	require.ErrorIs(t, err, ErrInvalidPepper)
}

// --- through the vault ------------------------------------------------------

func TestEscrowOffWritesNoEscrowStanza(t *testing.T) {
	v := newVault(t, nil)
	acct, _, err := v.Enroll(t.Context(), janeB.UserID, []byte("correct horse"))
	require.NoError(t, err)
	h, err := envelope.ParseHeader(acct)
	require.NoError(t, err)
	types := []string{}
	for _, s := range h.Stanzas {
		types = append(types, s.Type)
		require.False(t, IsEscrowStanza(s))
	}
	require.ElementsMatch(t, []string{envelope.TypePassword, envelope.TypeRecovery}, types)
	// The same flow with escrow on writes exactly one escrow stanza.
	r, id := pair(t, dhSuite())
	v2 := newVault(t, r)
	acct2, _, err := v2.Enroll(t.Context(), janeB.UserID, []byte("correct horse"))
	require.NoError(t, err)
	h2, err := envelope.ParseHeader(acct2)
	require.NoError(t, err)
	require.Len(t, h2.Stanzas, 3)
	require.True(t, r.Owns(h2.Stanzas[2]))
	_, err = envelope.UnwrapKey(t.Context(), h2, janeB, id)
	require.NoError(t, err)
}

func TestEscrowRecoveryThroughVault(t *testing.T) {
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) {
			r, id := pair(t, s)
			v := newVault(t, r)
			acct, _, err := v.Enroll(t.Context(), janeB.UserID, []byte("forgotten"))
			require.NoError(t, err)
			u, _, err := v.Unlock(t.Context(), janeB.UserID, acct, []byte("forgotten"))
			require.NoError(t, err)
			rec, err := u.Seal("pii", []byte("Jane Q. Sample"))
			require.NoError(t, err)
			u.Close()
			acct2, _, err := v.RecoverWithEscrow(t.Context(), janeB.UserID, acct, id, []byte("new pass"), "agent-7", "ticket-123")
			require.NoError(t, err)
			u2, _, err := v.Unlock(t.Context(), janeB.UserID, acct2, []byte("new pass"))
			require.NoError(t, err)
			defer u2.Close()
			pt, err := u2.Open("pii", rec)
			require.NoError(t, err)
			require.Equal(t, "Jane Q. Sample", string(pt))
			// Another user's account does not open with Jane's stanza.
			_, _, err = v.RecoverWithEscrow(t.Context(), "user-john-sample", acct, id, []byte("x"), "a", "b")
			require.Error(t, err)
		})
	}
}

// --- rotation ---------------------------------------------------------------

// crashStore fails every Put after the first okPuts ones (a crash).
type crashStore struct {
	*vault.MemStore
	okPuts int64
	puts   atomic.Int64
}

var errCrash = errors.New("injected crash")

func (c *crashStore) Put(ctx context.Context, uid string, acct []byte, ver uint64) (uint64, error) {
	if c.puts.Add(1) > c.okPuts {
		return 0, errCrash
	}
	return c.MemStore.Put(ctx, uid, acct, ver)
}

func enrollMany(t *testing.T, v *vault.Vault, s vault.Store, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%03d", i)
		_, err := v.EnrollInStore(t.Context(), s, ids[i], []byte("pw"))
		require.NoError(t, err)
	}
	return ids
}

// escrowState returns, per account, which escrow key opens it.
func checkEveryAccountOpens(t *testing.T, s vault.Store, ids []string, oldID, newID envelope.Identity) (onOld, onNew int) {
	for _, uid := range ids {
		acct, _, err := s.Get(t.Context(), uid)
		require.NoError(t, err)
		h, err := envelope.ParseHeader(acct)
		require.NoError(t, err)
		esc := 0
		for _, st := range h.Stanzas {
			if IsEscrowStanza(st) {
				esc++
			}
		}
		require.Equal(t, 1, esc, "account %s has exactly one escrow stanza", uid)
		b := envelope.Binding{UserID: uid, Label: vault.AccountLabel}
		if _, err := envelope.UnwrapKey(t.Context(), h, b, newID); err == nil {
			onNew++
			continue
		}
		_, err = envelope.UnwrapKey(t.Context(), h, b, oldID)
		require.NoError(t, err, "account %s opens with neither escrow key", uid)
		onOld++
	}
	return onOld, onNew
}

func TestRotateAllCrashMidwayLeavesEveryAccountRecoverableAndResumes(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, newID := pair(t, SuiteMLKEM768X25519)
	v := newVault(t, oldR)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 40)

	cs := &crashStore{MemStore: mem, okPuts: 13}
	st, err := RotateAll(t.Context(), cs, ids, oldID, newR, testAudit(t), 4, nil)
	require.ErrorIs(t, err, errCrash)
	require.Equal(t, 13, st.Changed)
	onOld, onNew := checkEveryAccountOpens(t, mem, ids, oldID, newID)
	require.Equal(t, 13, onNew)
	require.Equal(t, 27, onOld)

	var last atomic.Int64
	st, err = RotateAll(t.Context(), mem, ids, oldID, newR, testAudit(t), 4, func(done, total int) {
		if total != 40 || int64(done) != last.Load()+1 {
			t.Errorf("progress(%d, %d) after %d", done, total, last.Load())
		}
		last.Store(int64(done))
	})
	require.NoError(t, err)
	require.Equal(t, Stats{Changed: 27, Skipped: 13}, st)
	require.Equal(t, int64(40), last.Load())
	onOld, onNew = checkEveryAccountOpens(t, mem, ids, oldID, newID)
	require.Equal(t, 40, onNew)
	require.Zero(t, onOld)
	// Passwords still work after rotation.
	u, err := v.UnlockInStore(t.Context(), mem, ids[7], []byte("pw"))
	require.NoError(t, err)
	u.Close()
}

func TestRotateAllRetriesLostCompareAndSwap(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	v := newVault(t, oldR)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 1)
	rs := &racingStore{MemStore: mem, v: v}
	st, err := RotateAll(t.Context(), rs, ids, oldID, newR, testAudit(t), 1, nil)
	require.NoError(t, err)
	require.Equal(t, 1, st.Changed)
	require.True(t, rs.raced)
	// The password change made meanwhile survived.
	u, err := v.UnlockInStore(t.Context(), mem, ids[0], []byte("pw2"))
	require.NoError(t, err)
	u.Close()
}

// racingStore changes the password between the first Get and Put.
type racingStore struct {
	*vault.MemStore
	v     *vault.Vault
	raced bool
}

func (r *racingStore) Put(ctx context.Context, uid string, acct []byte, ver uint64) (uint64, error) {
	if !r.raced {
		r.raced = true
		if err := r.v.ChangePasswordInStore(ctx, r.MemStore, uid, []byte("pw"), []byte("pw2")); err != nil {
			return 0, err
		}
	}
	return r.MemStore.Put(ctx, uid, acct, ver)
}

func TestPurgeRemovesEscrowAndRotateAccountKeyMakesItFinal(t *testing.T) {
	r, id := pair(t, dhSuite())
	v := newVault(t, r)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 5)
	old, _, err := mem.Get(t.Context(), ids[0])
	require.NoError(t, err)
	u, err := v.UnlockInStore(t.Context(), mem, ids[0], []byte("pw"))
	require.NoError(t, err)
	rec, err := u.Seal("ssn", []byte("900-12-3456"))
	require.NoError(t, err)
	u.Close()

	st, err := PurgeAll(t.Context(), mem, ids, id, testAudit(t), 3, nil)
	require.NoError(t, err)
	require.Equal(t, 5, st.Changed)
	for _, uid := range ids {
		acct, _, err := mem.Get(t.Context(), uid)
		require.NoError(t, err)
		_, _, err = v.RecoverWithEscrow(t.Context(), uid, acct, id, []byte("x"), "a", "b")
		require.ErrorIs(t, err, vault.ErrUnrecoverable)
	}
	// Resumable: a second purge changes nothing.
	st, err = PurgeAll(t.Context(), mem, ids, id, testAudit(t), 3, nil)
	require.NoError(t, err)
	require.Equal(t, Stats{NoEscrow: 5}, st)

	// The old copy of the record still opens with escrow: not final yet.
	_, _, err = v.RecoverWithEscrow(t.Context(), ids[0], old, id, []byte("x"), "a", "b")
	require.NoError(t, err)

	// Rotate the account key (escrow now off): the old copy's escrow stanza
	// no longer opens the new key, and the record moved to the new key.
	noEscrow := newVault(t, nil)
	cur, _, err := mem.Get(t.Context(), ids[0])
	require.NoError(t, err)
	acct2, pk, recs, err := RotateAccountKey(t.Context(), noEscrow, ids[0], cur, []byte("pw"), []Record{{Label: "ssn", Sealed: rec}})
	require.NoError(t, err)
	require.False(t, pk.IsZero())
	oldKey, err := envelope.UnwrapKey(t.Context(), mustParse(t, old), envelope.Binding{UserID: ids[0], Label: vault.AccountLabel}, id)
	require.NoError(t, err)
	_, err = envelope.UnwrapKey(t.Context(), mustParse(t, acct2), envelope.Binding{UserID: ids[0], Label: vault.AccountLabel}, &fixedKey{oldKey})
	require.ErrorIs(t, err, envelope.ErrCommitment, "the escrowed old key is not the new account key")
	u2, _, err := v.Unlock(t.Context(), ids[0], acct2, []byte("pw"))
	require.NoError(t, err)
	defer u2.Close()
	pt, err := u2.Open("ssn", recs[0].Sealed)
	require.NoError(t, err)
	require.Equal(t, "900-12-3456", string(pt))
}

func mustParse(t *testing.T, b []byte) *envelope.Header {
	h, err := envelope.ParseHeader(b)
	require.NoError(t, err)
	return h
}

// fixedKey is an identity that returns a known key (an attacker holding
// the old escrowed key).
type fixedKey struct{ k []byte }

func (f *fixedKey) Unwrap(context.Context, []*envelope.Stanza, envelope.Binding) ([]byte, error) {
	return bytes.Clone(f.k), nil
}

func TestHPKEEscrowWriteIsStateless(t *testing.T) {
	// Two wraps of the same key differ (fresh HPKE encapsulation each time).
	r, _ := pair(t, dhSuite())
	key := newKey(t)
	a, err := r.Wrap(t.Context(), key, janeB)
	require.NoError(t, err)
	b, err := r.Wrap(t.Context(), key, janeB)
	require.NoError(t, err)
	require.NotEqual(t, a[0].Body, b[0].Body)
}

func TestRotateAllLeavesEscrowOffAndDeletedAccountsAlone(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, newID := pair(t, dhSuite())
	mem := vault.NewMemStore()
	withEscrow := enrollMany(t, newVault(t, oldR), mem, 3)
	_, err := newVault(t, nil).EnrollInStore(t.Context(), mem, "user-no-escrow", []byte("pw"))
	require.NoError(t, err)
	ids := append(append([]string{}, withEscrow...), "user-no-escrow", "user-deleted")
	st, err := RotateAll(t.Context(), mem, ids, oldID, newR, testAudit(t), 2, nil)
	require.NoError(t, err)
	require.Equal(t, Stats{Changed: 3, NoEscrow: 1, Missing: 1}, st)
	_, onNew := checkEveryAccountOpens(t, mem, withEscrow, oldID, newID)
	require.Equal(t, 3, onNew)
	acct, _, err := mem.Get(t.Context(), "user-no-escrow")
	require.NoError(t, err)
	for _, s := range mustParse(t, acct).Stanzas {
		require.False(t, IsEscrowStanza(s), "rotation never adds escrow to an account that had none")
	}
}

func TestRotateAllMigratesAEADEscrowToHPKE(t *testing.T) {
	oldR, err := NewAEADRecipient(tinkAEAD(t), "kms-key-old", purpose)
	require.NoError(t, err)
	newR, newID := pair(t, SuiteMLKEM768X25519)
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, oldR), mem, 6)
	st, err := RotateAll(t.Context(), mem, ids, oldR, newR, testAudit(t), 3, nil)
	require.NoError(t, err)
	require.Equal(t, 6, st.Changed)
	onOld, onNew := checkEveryAccountOpens(t, mem, ids, oldR, newID)
	require.Equal(t, 6, onNew)
	require.Zero(t, onOld)
}

func TestRotateAllStopsOnCancelledContext(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, newID := pair(t, dhSuite())
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, oldR), mem, 5)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := RotateAll(ctx, mem, ids, oldID, newR, testAudit(t), 2, nil)
	require.ErrorIs(t, err, context.Canceled)
	onOld, _ := checkEveryAccountOpens(t, mem, ids, oldID, newID)
	require.Equal(t, 5, onOld)
}

func TestRotateAllWithWrongOldIdentityChangesNothing(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, newID := pair(t, dhSuite())
	_, strangerID := pair(t, dhSuite())
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, oldR), mem, 3)
	_, err := RotateAll(t.Context(), mem, ids, strangerID, newR, testAudit(t), 1, nil)
	require.ErrorIs(t, err, envelope.ErrNoMatch)
	onOld, _ := checkEveryAccountOpens(t, mem, ids, oldID, newID)
	require.Equal(t, 3, onOld)
}

func TestVaultPathsNeverTouchTheEscrowPrivateKey(t *testing.T) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	kx := &opaqueKX{k: k}
	pub, err := hpke.NewDHKEMPublicKey(k.PublicKey())
	require.NoError(t, err)
	fp, err := FingerprintOf(pub)
	require.NoError(t, err)
	r, err := NewRecipient(pub, fp, purpose)
	require.NoError(t, err)
	v := newVault(t, r)
	acct, pk, err := v.Enroll(t.Context(), janeB.UserID, []byte("pw"))
	require.NoError(t, err)
	u, _, err := v.Unlock(t.Context(), janeB.UserID, acct, []byte("pw"))
	require.NoError(t, err)
	_, err = u.Seal("pii", []byte("Jane Q. Sample"))
	require.NoError(t, err)
	u.Close()
	acct, err = v.ChangePassword(t.Context(), janeB.UserID, acct, []byte("pw"), []byte("pw2"))
	require.NoError(t, err)
	acct, _, err = v.Recover(t.Context(), janeB.UserID, acct, pk, []byte("pw3"))
	require.NoError(t, err)
	require.Zero(t, kx.calls.Load(), "enroll, unlock, seal, password change and recovery use no escrow private key")
	id, err := NewKeyExchangerIdentity(kx, purpose)
	require.NoError(t, err)
	_, _, err = v.RecoverWithEscrow(t.Context(), janeB.UserID, acct, id, []byte("pw4"), "agent-7", "ticket-9")
	require.NoError(t, err, "the escrow stanza survived password change and recovery")
	require.Equal(t, int32(1), kx.calls.Load())
}
