package disclosure

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

func TestPartnerOpensExactlyTheConsentedAttributesForEverySuite(t *testing.T) {
	for _, k := range benchKEMs() {
		for _, s := range allSigners(t) {
			t.Run(k.name+"/"+s.name, func(t *testing.T) { testRoundTrip(t, k.kem, s) })
		}
	}
}

func testRoundTrip(t *testing.T, kem hpke.KEM, s namedSigner) {
	if kem.ID() == KEMX25519 || kem.ID() == KEMMLKEM768X25519 {
		skipX25519InFIPS(t)
	}
	f := newFixture(t, kem, s.s)
	c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
	pkg := f.mustDisclose(c, t0.Add(time.Minute))
	got, err := f.opener.Open(context.Background(), pkg, testNonce, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("kem 0x%04x, %s: %v", kem.ID(), s.name, err)
	}
	want := []Attribute{{"birthdate", "1980-02-29"}, {"family_name", "Sample"}, {"given_name", "Jane"}}
	if fmt.Sprint(got.Attributes) != fmt.Sprint(want) {
		t.Fatalf("attributes %v, want %v", got.Attributes, want)
	}
	if got.Consent.PartnerID != "agency-a" || got.Consent.Purpose != c.Purpose || got.Consent.Nonce != testNonce ||
		!got.Consent.ExpiresAt.Equal(c.ExpiresAt) || got.Consent.PartnerKey != f.opener.Fingerprint() {
		t.Fatalf("consent %+v", got.Consent)
	}
	if got.Signer != f.d.Fingerprint() || !got.IssuedAt.Equal(t0.Add(time.Minute)) ||
		!got.ExpiresAt.Equal(t0.Add(time.Minute+DefaultPackageLifetime)) {
		t.Fatalf("package metadata %+v", got)
	}
	if _, ok := got.Value(vault.AttrSSN); ok {
		t.Fatal("ssn present though not consented")
	}
}

func TestUnconsentedValuesAreNotInTheSealedPlaintext(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate), t0)
	p, err := parsePackage(pkg)
	if err != nil {
		t.Fatal(err)
	}
	// Decrypt by hand, below Open's checks, and scan the raw plaintext.
	pt, err := hpke.Open(f.sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), p.sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Quinn", "900123456", "+12025550100", "1 Example Way", "Springfield", "S123-4567-8901"} {
		if bytes.Contains(pt, []byte(v)) {
			t.Errorf("plaintext holds unconsented value %q", v)
		}
	}
	for _, v := range []string{"Jane", "Sample", "1980-02-29"} {
		if !bytes.Contains(pt, []byte(v)) {
			t.Errorf("plaintext lacks consented value %q", v)
		}
		if bytes.Contains(pkg, []byte(v)) {
			t.Errorf("package holds %q in clear", v)
		}
	}
}

// countingKX is a P-256 partner key that counts its ECDH operations: zero
// means nothing was decrypted (HPKE decapsulation is the first step).
type countingKX struct {
	k *ecdh.PrivateKey
	n atomic.Int32
}

func (c *countingKX) ECDH(pub *ecdh.PublicKey) ([]byte, error) { c.n.Add(1); return c.k.ECDH(pub) }
func (c *countingKX) PublicKey() *ecdh.PublicKey               { return c.k.PublicKey() }
func (c *countingKX) Curve() ecdh.Curve                        { return c.k.Curve() }

func newCountingFixture(t *testing.T, s namedSigner) (*fixture, *countingKX) {
	t.Helper()
	ek, err := ecdh.P256().NewPrivateKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	kx := &countingKX{k: ek}
	sk, err := hpke.NewDHKEMPrivateKey(kx)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, hpke.DHKEM(ecdh.P256()), s.s)
	f.sk = sk
	f.partner.PublicKey = sk.PublicKey()
	f.opener = f.newOpener(sk, "agency-a", f.replay)
	return f, kx
}

// reassemble builds a package from a parsed one's fields with a new
// signature by sign (nil: keep the old signature bytes).
func reassemble(p *parsed, hdr, sealed []byte, kem uint16, sign func([]byte) []byte, oldSig []byte) []byte {
	n := encSize(kem)
	body := append([]byte(nil), hdr...)
	body = append(body, sealed[:n]...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(sealed)-n))
	body = append(body, sealed[n:]...)
	if sign == nil {
		return append(body, oldSig...)
	}
	return append(body, sign(body)...)
}

// A forger holds the partner's public key, so it can make HPKE ciphertexts
// the partner's key decrypts; every way of passing one off is refused, and
// the partner's key is never used.
func TestForgedPackagesWithValidHPKEAreRefusedBeforeDecryption(t *testing.T) {
	for _, s := range allSigners(t) {
		t.Run(s.name, func(t *testing.T) {
			f, kx := newCountingFixture(t, s)
			real := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
			p, _ := parsePackage(real)

			// 1. The forger runs its own Discloser (its own key), sealing a
			// made-up identity to the partner's real public key.
			forger, err := New(Config{Signer: ed25519Signer(66)})
			if err != nil {
				t.Fatal(err)
			}
			made := *jane
			made.GivenName = "Mallory"
			own, err := forger.disclose(context.Background(), &fakeAccount{user: "user-42", id: &made}, "pii", []byte("sealed-record"),
				consentFor("agency-a", vault.AttrGivenName, vault.AttrSSN), f.partner, t0)
			if err != nil {
				t.Fatal(err)
			}
			forgerSigner, _ := newSigner(ed25519Signer(66))

			// 2. The same, with the provider's key id written in the header
			// (signed by the forger over the edited bytes).
			op, _ := parsePackage(own)
			hdr := bytes.Clone(op.hdr)
			binary.BigEndian.PutUint16(hdr[5:7], s.alg())
			copy(hdr[7:39], p.keyID[:])
			claimed := reassemble(op, hdr, op.sealed, op.kem, func(b []byte) []byte {
				sig, _ := forgerSigner.s.Sign(rand.Reader, signedMessage(b), s.hash())
				if s.alg() == SigECDSAP256SHA256 { // any 64 bytes: it is not the provider's
					sig = bytes.Repeat([]byte{1}, 64)
				}
				if s.alg() == SigEd25519MLDSA65 {
					sig = append(sig, make([]byte, hybridSigSize-len(sig))...)
				}
				return sig
			}, nil)

			// 3. The real package, with its ciphertext replaced by one the
			// forger sealed under the same header (same HPKE info).
			pt := append([]byte(plaintextMagic), Version, 1, 10)
			pt = append(pt, "given_name"...)
			pt = append(pt, 0, 7)
			pt = append(pt, "Mallory"...)
			sealed, err := hpke.Seal(f.partner.PublicKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), pt)
			if err != nil {
				t.Fatal(err)
			}
			swapped := reassemble(p, p.hdr, sealed, p.kem, nil, p.sig)

			// 4. Signature zeroed, or removed.
			zeroed := bytes.Clone(real)
			clear(zeroed[len(real)-len(p.sig):])
			stripped := real[:len(real)-len(p.sig)]

			for _, tc := range []struct {
				name string
				pkg  []byte
				want error
			}{
				{"signed by the forger's own key", own, ErrWrongSigner},
				{"forger's signature under the provider's key id", claimed, ErrForged},
				{"real signature, forger's ciphertext", swapped, ErrForged},
				{"signature zeroed", zeroed, ErrForged},
				{"no signature", stripped, ErrMalformed},
			} {
				d, err := f.open(tc.pkg, testNonce, t0)
				if !errors.Is(err, tc.want) || d != nil {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
			}
			if n := kx.n.Load(); n != 0 {
				t.Fatalf("the partner key ran %d ECDH operations on forged packages", n)
			}
			// The HPKE layer alone would have accepted the swapped ciphertext:
			// the signature is what refuses it.
			if _, err := hpke.Open(f.sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), sealed); err != nil {
				t.Fatalf("test setup: forged ciphertext does not decrypt: %v", err)
			}
			if _, err := f.open(real, testNonce, t0); err != nil {
				t.Fatalf("the real package: %v", err)
			}
		})
	}
}

func (s namedSigner) alg() uint16 {
	k, _ := newProviderKey(s.s.Public())
	return k.alg
}

const mldsa65SigSize = hybridSigSize - ed25519SigSize

func (s namedSigner) hash() crypto.Hash { return 0 }

func TestHybridSignatureNeedsBothHalves(t *testing.T) {
	f := newFixture(t, hpke.DHKEM(ecdh.P256()), hybridSigner(t, 7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	sigAt := len(pkg) - hybridSigSize
	for name, at := range map[string]int{"Ed25519 half": sigAt + 5, "ML-DSA-65 half": sigAt + ed25519SigSize + 5, "ML-DSA-65 last byte": len(pkg) - 1} {
		bad := bytes.Clone(pkg)
		bad[at] ^= 0x10
		if _, err := f.open(bad, testNonce, t0); !errors.Is(err, ErrForged) {
			t.Errorf("%s corrupted: %v, want ErrForged", name, err)
		}
	}
	// Stripping the ML-DSA-65 half and relabelling the package as Ed25519
	// alone: the pinned key is the hybrid one, so the signer is unknown.
	p, _ := parsePackage(pkg)
	hdr := bytes.Clone(p.hdr)
	binary.BigEndian.PutUint16(hdr[5:7], SigEd25519)
	edOnly := reassemble(p, hdr, p.sealed, p.kem, nil, p.sig[:ed25519SigSize])
	if _, err := f.open(edOnly, testNonce, t0); !errors.Is(err, ErrWrongSigner) {
		t.Errorf("ML-DSA half stripped: %v, want ErrWrongSigner", err)
	}
	// Even a partner that (wrongly) pinned the Ed25519 half alone refuses
	// it: the key id is the hybrid key's.
	edPinned, err := PinProviderKey(hybridSigner(t, 7).pub.Ed25519, mustFP(t, hybridSigner(t, 7).pub.Ed25519))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := NewOpener(OpenerConfig{PartnerID: "agency-a", Key: f.sk, Providers: []*ProviderKey{edPinned}, Replay: NewMemoryReplayCache(1)})
	if _, err := o.Open(context.Background(), edOnly, testNonce, t0); !errors.Is(err, ErrWrongSigner) {
		t.Errorf("ML-DSA half stripped, Ed25519 half pinned: %v, want ErrWrongSigner", err)
	}
}

func mustFP(t testing.TB, pub any) Fingerprint {
	t.Helper()
	fp, err := ProviderFingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestECDSAHighSSignatureIsRefused(t *testing.T) {
	f := newFixture(t, hpke.DHKEM(ecdh.P256()), ecdsaSigner(t, 7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	sig := pkg[len(pkg)-64:]
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(halfOrder) > 0 {
		t.Fatal("the signer wrote a high s")
	}
	// n - s is the other valid spelling of the same signature: ecdsa.Verify
	// accepts it, the format does not (one package, one byte string).
	high := bytes.Clone(pkg)
	new(big.Int).Sub(p256Order, s).FillBytes(high[len(high)-32:])
	r := new(big.Int).SetBytes(sig[:32])
	dg := sha256.Sum256(signedMessage(pkg[:len(pkg)-64]))
	d := dg[:]
	if !ecdsa.Verify(ecdsaSigner(t, 7).Public().(*ecdsa.PublicKey), d, r, new(big.Int).Sub(p256Order, s)) {
		t.Fatal("test setup: high-s signature does not verify in crypto/ecdsa")
	}
	if _, err := f.open(high, testNonce, t0); !errors.Is(err, ErrForged) {
		t.Fatalf("high s: %v, want ErrForged", err)
	}
}

func TestSignerReturningABadSignatureReleasesNothing(t *testing.T) {
	d, err := New(Config{Signer: liar{ed25519Signer(7)}})
	if err != nil {
		t.Fatal(err)
	}
	sk := partnerKey(t, defaultKEM(), 1)
	pkg, err := d.disclose(context.Background(), &fakeAccount{user: "u", id: jane}, "pii", []byte("sealed-record"),
		consentFor("agency-a", vault.AttrGivenName), Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
	if err == nil || pkg != nil {
		t.Fatalf("a signature that does not verify was released: %v", err)
	}
}

type liar struct{ ed25519.PrivateKey }

func (l liar) Sign(r io.Reader, msg []byte, o crypto.SignerOpts) ([]byte, error) {
	sig, err := l.PrivateKey.Sign(r, msg, o)
	sig[0] ^= 1
	return sig, err
}

func TestPackageForPartnerAIsRefusedByPartnerB(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	skB := partnerKey(t, defaultKEM(), 2)
	if _, err := f.newOpener(skB, "agency-b", NewMemoryReplayCache(1)).Open(context.Background(), pkg, testNonce, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatalf("B as itself: %v, want ErrWrongPartner", err)
	}
	if _, err := f.newOpener(skB, "agency-a", NewMemoryReplayCache(1)).Open(context.Background(), pkg, testNonce, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatalf("B claiming to be A (its key is not the one in the consent): %v, want ErrWrongPartner", err)
	}
	// A consent naming a partner key other than the partner's is refused
	// at the provider.
	c := consentFor("agency-a", vault.AttrGivenName)
	c.PartnerKey[0] = 1
	if _, err := f.disclose(c, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatalf("consent for another key: %v, want ErrWrongPartner", err)
	}
}

func TestWrongOrMissingNonceIsRefused(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	for _, n := range []string{"", "n-0S6_WzA2Mk", testNonce + "x", testNonce[:len(testNonce)-1]} {
		if _, err := f.opener.Open(context.Background(), pkg, n, t0); !errors.Is(err, ErrNonce) {
			t.Errorf("nonce %q: %v, want ErrNonce", n, err)
		}
	}
	// The refusals did not burn the id: the right nonce still opens it.
	if _, err := f.opener.Open(context.Background(), pkg, testNonce, t0); err != nil {
		t.Fatal(err)
	}
	c := consentFor("agency-a", vault.AttrGivenName)
	c.Nonce = ""
	if _, err := f.disclose(c, t0); !errors.Is(err, ErrInvalidConsent) {
		t.Fatalf("consent without nonce: %v, want ErrInvalidConsent", err)
	}
}

func TestReplayedPackageIsRefusedThroughTheHook(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	if _, err := f.opener.Open(context.Background(), pkg, testNonce, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.opener.Open(context.Background(), pkg, testNonce, t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("second open: %v, want ErrReplay", err)
	}
	// Another package with the same consent has its own id.
	if _, err := f.opener.Open(context.Background(), f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0), testNonce, t0); err != nil {
		t.Fatalf("a second package: %v", err)
	}
	// A hook's own error refuses the package (fail closed).
	broken := errors.New("replay store down")
	o := f.newOpener(f.sk, "agency-a", replayFunc(func(context.Context, PackageID, time.Time, time.Time) error { return broken }))
	if _, err := o.Open(context.Background(), f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0), testNonce, t0); !errors.Is(err, broken) {
		t.Fatalf("hook failure: %v", err)
	}
	// The hook gets the package id and the end of its validity plus skew.
	var gotID PackageID
	var gotExp time.Time
	o = f.newOpener(f.sk, "agency-a", replayFunc(func(_ context.Context, id PackageID, _, exp time.Time) error { gotID, gotExp = id, exp; return nil }))
	pkg = f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	d, err := o.Open(context.Background(), pkg, testNonce, t0)
	if err != nil {
		t.Fatal(err)
	}
	if gotID != d.ID || !bytes.Equal(gotID[:], pkg[45:61]) || !gotExp.Equal(d.ExpiresAt.Add(DefaultClockSkew)) {
		t.Fatalf("hook saw %s until %v; package %s until %v", gotID, gotExp, d.ID, d.ExpiresAt)
	}
}

type replayFunc func(ctx context.Context, id PackageID, now, exp time.Time) error

func (f replayFunc) Use(ctx context.Context, id PackageID, now, exp time.Time) error {
	return f(ctx, id, now, exp)
}

func TestConcurrentOpensOfOnePackageSucceedOnce(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := f.opener.Open(context.Background(), pkg, testNonce, t0)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplay):
				replayed.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 7 {
		t.Fatalf("%d opened, %d replays; want 1 and 7", ok.Load(), replayed.Load())
	}
}

func TestMemoryReplayCacheForgetsExpiredIDsAndFailsClosedWhenFull(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryReplayCache(2)
	a, b, c := PackageID{1}, PackageID{2}, PackageID{3}
	if err := m.Use(ctx, a, t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.Use(ctx, a, t0.Add(59*time.Second), t0.Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Fatalf("seen id: %v", err)
	}
	if err := m.Use(ctx, b, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := m.Use(ctx, c, t0.Add(30*time.Second), t0.Add(time.Hour)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("full cache, nothing expired: %v, want ErrReplayCacheFull", err)
	}
	// At t0+1m, a has expired: it is swept and c fits.
	if err := m.Use(ctx, c, t0.Add(time.Minute), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 2 {
		t.Fatalf("%d entries, want 2 (b and c)", m.Len())
	}
	if err := m.Use(ctx, b, t0.Add(2*time.Minute), t0.Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Fatalf("b still in force: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Use(cctx, PackageID{4}, t0, t0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestTimeWindowWithClockSkew(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	c := consentFor("agency-a", vault.AttrGivenName)
	issued := t0.Add(time.Hour)
	pkg := f.mustDisclose(c, issued)
	end := issued.Add(DefaultPackageLifetime)
	for _, tc := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"before the consent was given", t0.Add(-time.Hour), ErrNotYetValid},
		{"just before issue minus skew", issued.Add(-DefaultClockSkew - time.Nanosecond), ErrNotYetValid},
		{"issue minus skew", issued.Add(-DefaultClockSkew), nil},
		{"issue", issued, nil},
		{"end plus skew minus 1ns", end.Add(DefaultClockSkew - time.Nanosecond), nil},
		{"end plus skew", end.Add(DefaultClockSkew), ErrExpired},
		{"after the consent expired", c.ExpiresAt, ErrExpired},
	} {
		_, err := f.open(pkg, testNonce, tc.now)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// The package's end is cut to the consent's expiry.
	late := c.ExpiresAt.Add(-time.Minute)
	pkg = f.mustDisclose(c, late)
	if d, err := f.open(pkg, testNonce, late); err != nil || !d.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("package end %v, want the consent's expiry: %v", d, err)
	}
	// The provider refuses to release outside the consent.
	if _, err := f.disclose(c, c.ExpiresAt); !errors.Is(err, ErrExpired) {
		t.Fatalf("disclose at expiry: %v, want ErrExpired", err)
	}
	if _, err := f.disclose(c, c.GivenAt.Add(-time.Second)); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("disclose before consent given: %v, want ErrNotYetValid", err)
	}
	// A partner can narrow the skew.
	pk, _ := PinProviderKey(f.signer.Public(), f.d.Fingerprint())
	o, err := NewOpener(OpenerConfig{PartnerID: "agency-a", Key: f.sk, Providers: []*ProviderKey{pk}, Replay: NewMemoryReplayCache(1), ClockSkew: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pkg = f.mustDisclose(c, issued)
	if _, err := o.Open(context.Background(), pkg, testNonce, issued.Add(-2*time.Second)); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("1s skew, 2s early: %v, want ErrNotYetValid", err)
	}
	for _, bad := range []time.Duration{-time.Second, MaxClockSkew + 1} {
		if _, err := NewOpener(OpenerConfig{PartnerID: "agency-a", Key: f.sk, Providers: []*ProviderKey{pk}, Replay: NewMemoryReplayCache(1), ClockSkew: bad}); err == nil {
			t.Errorf("skew %v accepted", bad)
		}
	}
}

func TestInvalidConsentsAreRefusedBeforeTheRecordIsOpened(t *testing.T) {
	sk := partnerKey(t, defaultKEM(), 1)
	p := Partner{ID: "agency-a", PublicKey: sk.PublicKey()}
	d, _ := New(Config{Signer: ed25519Signer(7)})
	for _, tc := range []struct {
		name string
		c    Consent
		p    Partner
		want error
	}{
		{"empty", consentFor("agency-a"), p, ErrInvalidConsent},
		{"unknown attribute", consentFor("agency-a", "given_name", "mothers_maiden_name"), p, ErrUnknownAttribute},
		{"bad name", consentFor("agency-a", "Given-Name"), p, ErrInvalidConsent},
		{"duplicate", consentFor("agency-a", "ssn", "ssn"), p, ErrInvalidConsent},
		{"no purpose", func() Consent { c := consentFor("agency-a", "ssn"); c.Purpose = ""; return c }(), p, ErrInvalidConsent},
		{"no nonce", func() Consent { c := consentFor("agency-a", "ssn"); c.Nonce = ""; return c }(), p, ErrInvalidConsent},
		{"no partner", consentFor("", "ssn"), Partner{PublicKey: sk.PublicKey()}, ErrInvalidConsent},
		{"key of another partner", consentFor("agency-a", "ssn"), Partner{ID: "agency-b", PublicKey: sk.PublicKey()}, ErrWrongPartner},
		{"no key", consentFor("agency-a", "ssn"), Partner{ID: "agency-a"}, ErrUnsupportedSuite},
		{"P-384 key", consentFor("agency-a", "ssn"), Partner{ID: "agency-a", PublicKey: partnerKey(t, hpke.DHKEM(ecdh.P384()), 1).PublicKey()}, ErrUnsupportedSuite},
	} {
		acct := &fakeAccount{user: "u", id: jane}
		_, err := d.disclose(context.Background(), acct, "pii", []byte("sealed-record"), tc.c, tc.p, t0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if acct.opened != 0 {
			t.Errorf("%s: identity record opened before the consent was checked", tc.name)
		}
	}
}

func TestConfigurationErrors(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("no signer: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := New(Config{Signer: p384}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("P-384 signer: %v", err)
	}
	if _, err := PinProviderKey(ed25519Signer(7).Public(), mustFP(t, ed25519Signer(8).Public())); !errors.Is(err, ErrWrongSigner) {
		t.Errorf("pin of another key: %v, want ErrWrongSigner", err)
	}
	sk := partnerKey(t, defaultKEM(), 1)
	pk, _ := PinProviderKey(ed25519Signer(7).Public(), mustFP(t, ed25519Signer(7).Public()))
	for name, cfg := range map[string]OpenerConfig{
		"no replay cache": {PartnerID: "a", Key: sk, Providers: []*ProviderKey{pk}},
		"no provider":     {PartnerID: "a", Key: sk, Replay: NewMemoryReplayCache(1)},
		"nil provider":    {PartnerID: "a", Key: sk, Providers: []*ProviderKey{nil}, Replay: NewMemoryReplayCache(1)},
		"no key":          {PartnerID: "a", Providers: []*ProviderKey{pk}, Replay: NewMemoryReplayCache(1)},
		"no partner id":   {Key: sk, Providers: []*ProviderKey{pk}, Replay: NewMemoryReplayCache(1)},
	} {
		if _, err := NewOpener(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Every byte of a real package, changed, is refused, and refused by the
// signature check or the layout check before anything is decrypted (the
// partner key performs no ECDH). Every truncation and an appended byte too.
func TestEveryTamperedByteIsRefusedBeforeDecryption(t *testing.T) {
	for _, s := range allSigners(t) {
		t.Run(s.name, func(t *testing.T) {
			f, kx := newCountingFixture(t, s)
			pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName, vault.AttrBirthDate), t0)
			o := f.newOpener(f.sk, "agency-a", NewMemoryReplayCache(1))
			check := func(what string, b []byte) {
				d, err := o.Open(context.Background(), b, testNonce, t0)
				if err == nil || d != nil {
					t.Fatalf("%s accepted", what)
				}
				if errors.Is(err, ErrDecrypt) {
					t.Fatalf("%s reached decryption: %v", what, err)
				}
			}
			// Every bit of every byte, except in the 3309-byte ML-DSA-65
			// signature, whose verification is the slow one, and under -race
			// or -short: there one bit per byte (and every byte inverted).
			allBitsUpTo := len(pkg)
			if s.alg() == SigEd25519MLDSA65 {
				allBitsUpTo = len(pkg) - mldsa65SigSize
			}
			if raceEnabled || testing.Short() {
				allBitsUpTo = 0
			}
			for i := range pkg {
				if raceEnabled && i >= len(pkg)-mldsa65SigSize && s.alg() == SigEd25519MLDSA65 && i%4 != 0 {
					// Under -race, ML-DSA-65 verification is slow: every 4th
					// byte of its signature here; every byte in the other runs
					// (CI's FIPS step runs this test without -race).
					continue
				}
				for bit := range 8 {
					if i >= allBitsUpTo && bit != i%8 {
						continue
					}
					c := bytes.Clone(pkg)
					c[i] ^= 1 << bit
					check(fmt.Sprintf("flip of byte %d bit %d", i, bit), c)
				}
				if raceEnabled && i >= len(pkg)-mldsa65SigSize && s.alg() == SigEd25519MLDSA65 {
					continue // ML-DSA-65 under -race is slow: one change per byte is enough
				}
				c := bytes.Clone(pkg)
				c[i] ^= 0xff
				check(fmt.Sprintf("byte %d inverted", i), c)
			}
			for n := range len(pkg) {
				check(fmt.Sprintf("truncation to %d", n), pkg[:n])
			}
			check("a trailing byte", append(bytes.Clone(pkg), 0))
			if n := kx.n.Load(); n != 0 {
				t.Fatalf("tampered packages caused %d ECDH operations", n)
			}
			if _, err := o.Open(context.Background(), pkg, testNonce, t0); err != nil {
				t.Fatalf("the untampered package: %v", err)
			}
		})
	}
}

func TestOversizedPackageRefusedBeforeWork(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	if _, err := f.opener.Open(context.Background(), make([]byte, MaxPackageSize+1), testNonce, t0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
}

func TestAuditEventsHoldNoValuesAndNoCallerText(t *testing.T) {
	var buf bytes.Buffer
	d, _ := New(Config{Signer: ed25519Signer(7), Audit: slog.New(slog.NewJSONHandler(&buf, nil))})
	sk := partnerKey(t, defaultKEM(), 1)
	p := Partner{ID: "agency-a", PublicKey: sk.PublicKey()}
	run := func(c Consent, p Partner, now time.Time) error {
		_, err := d.disclose(context.Background(), &fakeAccount{user: "user-42", id: jane}, "pii", []byte("sealed-record"), c, p, now)
		return err
	}
	if err := run(consentFor("agency-a", vault.AttributeNames()...), p, t0); err != nil {
		t.Fatal(err)
	}
	if err := run(consentFor("agency-a", vault.AttrSSN), p, t0.Add(48*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatal(err)
	}
	// Caller-controlled text that an error message used to quote.
	inject := "given_name\n{\"msg\":\"disclosure.released\"}"
	if err := run(consentFor("agency-a", inject), p, t0); !errors.Is(err, ErrInvalidConsent) {
		t.Fatal(err)
	}
	if err := run(consentFor("agency-a", "mothers_maiden_name_xyz"), p, t0); !errors.Is(err, ErrUnknownAttribute) {
		t.Fatal(err)
	}
	if err := run(consentFor("agency-a", vault.AttrSSN), Partner{ID: "agency-evil\"x", PublicKey: sk.PublicKey()}, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatal(err)
	}
	log := buf.String()
	for _, v := range append(secretValues, "mothers_maiden_name_xyz", "agency-evil", "disclosure.released\\\"", testNonce,
		"pairwise-5c1d", "Verify identity") {
		if strings.Contains(log, v) {
			t.Errorf("audit log contains %q:\n%s", v, log)
		}
	}
	for _, want := range []string{`"msg":"disclosure.released"`, `"msg":"disclosure.refused"`, `"partner_id":"agency-a"`,
		`"user_id":"user-42"`, "given_name", "ssn", `"error":"expired"`, `"error":"invalid_consent"`, `"error":"unknown_attribute"`,
		`"error":"wrong_partner"`, `"consent":"(invalid)"`, `"package_id":"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "\n"); n != 5 {
		t.Errorf("%d audit events, want one per call (5):\n%s", n, log)
	}
}

func TestConsentEncodingIsCanonical(t *testing.T) {
	a := consentFor("agency-a", "given_name", "birthdate", "family_name")
	b := consentFor("agency-a", "family_name", "given_name", "birthdate")
	ea, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := b.MarshalBinary()
	if !bytes.Equal(ea, eb) {
		t.Fatal("attribute order changes the encoding")
	}
	c, err := ParseConsent(ea)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.MarshalBinary(); !bytes.Equal(again, ea) {
		t.Fatal("consent does not round-trip")
	}
	swapped := bytes.Clone(ea)
	i := bytes.Index(swapped, []byte("\x09birthdate"))
	j := bytes.Index(swapped, []byte("\x0bfamily_name"))
	if i < 0 || j < 0 {
		t.Fatal("test setup: names not found")
	}
	un := append(append(append([]byte(nil), swapped[:i]...), swapped[j:j+12]...), swapped[i:i+10]...)
	un = append(un, swapped[j+12:]...)
	if _, err := ParseConsent(un); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted names: %v, want ErrMalformed", err)
	}
	v1 := bytes.Clone(ea)
	v1[4] = 1
	if _, err := ParseConsent(v1); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version-1 consent: %v, want ErrUnsupportedVersion", err)
	}
}

func FuzzParseConsent(f *testing.F) {
	cb, _ := consentFor("agency-a", "given_name", "ssn").MarshalBinary()
	f.Add(cb)
	f.Add([]byte("PVCN\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConsent(b)
		if err != nil {
			return
		}
		out, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %x -> %x (%v)", b, out, err)
		}
	})
}

// FuzzOpen: nothing the fuzzer makes from a real package opens except the
// package itself (it cannot forge an Ed25519 signature). The package is
// the success vector p256/ed25519 (fixed bytes, the same in every fuzzing
// worker process).
func FuzzOpen(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "success.json"))
	if err != nil {
		f.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	var v testVector
	for _, x := range vf.Vectors {
		if x.Name == "p256/ed25519" {
			v = x
		}
	}
	pkg, _ := hex.DecodeString(v.Package)
	ikm, _ := hex.DecodeString(v.PartnerIKM)
	pub, _ := hex.DecodeString(v.ProviderPublicKey)
	var fp Fingerprint
	fpb, _ := hex.DecodeString(v.PinnedFingerprint)
	copy(fp[:], fpb)
	sk, err := hpke.DHKEM(ecdh.P256()).DeriveKeyPair(ikm)
	if err != nil || len(pkg) == 0 {
		f.Fatalf("vector p256/ed25519: %v", err)
	}
	pk, err := PinProviderKey(ed25519.PublicKey(pub), fp)
	if err != nil {
		f.Fatal(err)
	}
	o, err := NewOpener(OpenerConfig{PartnerID: v.PartnerID, Key: sk, Providers: []*ProviderKey{pk},
		Replay: replayFunc(func(context.Context, PackageID, time.Time, time.Time) error { return nil })})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkg)
	f.Add(pkg[:80])
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := o.Open(context.Background(), b, v.Nonce, v.Now)
		if err != nil {
			if d != nil {
				t.Fatal("result returned with an error")
			}
			return
		}
		if !bytes.Equal(b, pkg) {
			t.Fatalf("a package other than the real one opened: %x", b)
		}
	})
}

func TestLargestConsentAndAllAttributesRoundTrip(t *testing.T) {
	f := newFixture(t, hpke.MLKEM768P256(), hybridSigner(t, 3))
	c := Consent{
		PartnerID: strings.Repeat("p", MaxPartnerIDLength), Nonce: strings.Repeat("n", MaxNonceLength), Subject: strings.Repeat("s", MaxSubjectLength),
		Attributes: vault.AttributeNames(), Purpose: strings.Repeat("é", MaxPurposeLength/2),
		GivenAt: t0, ExpiresAt: t0.Add(time.Hour),
	}
	f.partner.ID = c.PartnerID
	pkg := f.mustDisclose(c, t0)
	d, err := f.newOpener(f.sk, c.PartnerID, NewMemoryReplayCache(1)).Open(context.Background(), pkg, c.Nonce, t0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Value(vault.AttrSSN); v != "900123456" || len(d.Attributes) != len(vault.AttributeNames()) {
		t.Fatalf("attributes %v", d.Attributes)
	}
	c.Purpose += "x"
	if _, err := c.MarshalBinary(); !errors.Is(err, ErrInvalidConsent) {
		t.Fatalf("purpose over the limit: %v", err)
	}
}

// signWithPlaintext re-seals a real package's header over plaintext pt and
// signs it with the provider's key: what a faulty provider could emit.
func signWithPlaintext(t *testing.T, f *fixture, pkg, pt []byte) []byte {
	t.Helper()
	p, err := parsePackage(pkg)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := hpke.Seal(f.partner.PublicKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), pt)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSigner(f.signer)
	if err != nil {
		t.Fatal(err)
	}
	body := reassemble(p, p.hdr, sealed, p.kem, nil, nil)
	sig, err := s.sign(body)
	if err != nil {
		t.Fatal(err)
	}
	return append(body, sig...)
}

// Even a package the provider signed is refused if its plaintext holds
// anything but exactly the consented attributes, in order.
func TestSignedPlaintextOutsideTheConsentIsRefused(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrBirthDate, vault.AttrGivenName), t0)
	attr := func(name, value string) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
		return append(b, value...)
	}
	head := func(n byte) []byte { return append([]byte(plaintextMagic), Version, n) }
	good := append(append(head(2), attr("birthdate", "1980-02-29")...), attr("given_name", "Jane")...)
	if _, err := f.open(signWithPlaintext(t, f, pkg, good), testNonce, t0); err != nil {
		t.Fatalf("test setup: the canonical plaintext is refused: %v", err)
	}
	for name, pt := range map[string][]byte{
		"an extra attribute":      append(append(append(head(3), attr("birthdate", "1980-02-29")...), attr("given_name", "Jane")...), attr("ssn", "900123456")...),
		"ssn instead of a name":   append(append(head(2), attr("birthdate", "1980-02-29")...), attr("ssn", "900123456")...),
		"names out of order":      append(append(head(2), attr("given_name", "Jane")...), attr("birthdate", "1980-02-29")...),
		"one attribute missing":   append(head(1), attr("birthdate", "1980-02-29")...),
		"count says 2, holds 1":   append(head(2), attr("birthdate", "1980-02-29")...),
		"trailing byte":           append(bytes.Clone(good), 0),
		"version 1 plaintext":     append(append(append([]byte(plaintextMagic), 1, 2), attr("birthdate", "1980-02-29")...), attr("given_name", "Jane")...),
		"value over 1024 bytes":   append(append(head(2), attr("birthdate", strings.Repeat("9", MaxValueLength+1))...), attr("given_name", "Jane")...),
		"empty":                   nil,
		"value length past end":   append(head(2), 9, 'b', 'i', 'r', 't', 'h', 'd', 'a', 't', 'e', 0xff, 0xff),
		"another magic":           append([]byte("PVDQ"), good[4:]...),
		"truncated after a name ": append(head(2), attr("birthdate", "1980-02-29")[:10]...),
	} {
		if d, err := f.open(signWithPlaintext(t, f, pkg, pt), testNonce, t0); !errors.Is(err, ErrMalformed) || d != nil {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestKeyConstructorsRefuseWrongKeys(t *testing.T) {
	ec := ecdsaSigner(t, 7)
	if _, err := NewHybridSigner(ec, hybridSigner(t, 1).ml); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ECDSA as the Ed25519 half: %v", err)
	}
	if _, err := NewHybridSigner(ed25519Signer(1), ed25519Signer(2)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Ed25519 as the ML-DSA half: %v", err)
	}
	if _, err := NewHybridSigner(nil, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("nil halves: %v", err)
	}
	h := hybridSigner(t, 1)
	if _, err := h.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); err == nil {
		t.Error("hybrid signer signed a digest")
	}
	pub := h.Public().(*HybridPublicKey)
	back, err := ParseHybridPublicKey(pub.Bytes())
	if err != nil || !bytes.Equal(back.Bytes(), pub.Bytes()) || mustFP(t, back) != mustFP(t, pub) {
		t.Fatalf("hybrid public key does not round-trip: %v", err)
	}
	if _, err := ParseHybridPublicKey(pub.Bytes()[1:]); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short hybrid key: %v", err)
	}
	for name, k := range map[string]any{
		"short Ed25519":   ed25519.PublicKey(make([]byte, 31)),
		"nil ECDSA":       (*ecdsa.PublicKey)(nil),
		"nil hybrid":      (*HybridPublicKey)(nil),
		"ECDH key":        partnerKey(t, hpke.DHKEM(ecdh.P256()), 1).PublicKey(),
		"hybrid, no half": &HybridPublicKey{Ed25519: pub.Ed25519},
	} {
		if _, err := ProviderFingerprint(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	pk, err := PinProviderKey(ec.Public(), mustFP(t, ec.Public()))
	if err != nil || pk.Algorithm() != SigECDSAP256SHA256 || pk.Fingerprint() != mustFP(t, ec.Public()) {
		t.Fatalf("pinned ECDSA key: %v", err)
	}
	// One key, three algorithms, three different fingerprints: the
	// algorithm is part of the fingerprint.
	seen := map[Fingerprint]bool{}
	for _, s := range allSigners(t) {
		seen[mustFP(t, s.s.Public())] = true
	}
	if len(seen) != 3 {
		t.Fatal("fingerprints collide across algorithms")
	}
	if _, err := PartnerFingerprint(nil); !errors.Is(err, ErrUnsupportedSuite) {
		t.Errorf("nil partner key: %v", err)
	}
}

// PackageConsent shows the claimed consent for routing, without trusting
// it; a forged package's consent is shown too, and Open refuses it.
func TestPackageConsentIsForRoutingOnly(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	c, err := PackageConsent(pkg)
	if err != nil || c.PartnerID != "agency-a" || c.Nonce != testNonce {
		t.Fatalf("%+v, %v", c, err)
	}
	if _, err := PackageConsent(pkg[:100]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestOpenHonoursCancelledContextAndWrongKEM(t *testing.T) {
	f := newFixture(t, defaultKEM(), ed25519Signer(7))
	pkg := f.mustDisclose(consentFor("agency-a", vault.AttrGivenName), t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.opener.Open(ctx, pkg, testNonce, t0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := f.opener.Open(context.Background(), pkg, testNonce, t0); err != nil {
		t.Fatalf("the cancelled attempt burned the id: %v", err)
	}
	other := partnerKey(t, hpke.MLKEM768P256(), 1)
	if _, err := f.newOpener(other, "agency-a", NewMemoryReplayCache(1)).Open(context.Background(), pkg, testNonce, t0); !errors.Is(err, ErrWrongPartner) {
		t.Fatalf("a key of another KEM: %v, want ErrWrongPartner", err)
	}
	if _, err := f.d.disclose(ctx, &fakeAccount{user: "u", id: jane}, "pii", []byte("sealed-record"), consentFor("agency-a", vault.AttrGivenName), f.partner, t0); !errors.Is(err, context.Canceled) {
		t.Fatalf("disclose with a cancelled context: %v", err)
	}
}
