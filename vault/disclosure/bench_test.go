package disclosure

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

func benchKEMs() []struct {
	name string
	kem  hpke.KEM
} {
	return []struct {
		name string
		kem  hpke.KEM
	}{
		{"x25519", x25519()}, {"mlkem768x25519", hpke.MLKEM768X25519()},
		{"p256", hpke.DHKEM(ecdh.P256())}, {"mlkem768p256", hpke.MLKEM768P256()},
	}
}

// BenchmarkDisclose: sealing and signing a 3-attribute package, per KEM
// and signature algorithm (the identity record is a fake: no vault work).
func BenchmarkDisclose(b *testing.B) {
	for _, k := range benchKEMs() {
		for _, s := range allSigners(b) {
			b.Run(k.name+"/"+s.name, func(b *testing.B) {
				f := newFixture(b, k.kem, s.s)
				c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
				for b.Loop() {
					f.mustDisclose(c, t0)
				}
			})
		}
	}
}

// BenchmarkOpen: verifying and opening, per KEM and signature algorithm.
// The replay cache is large and fresh ids come from distinct packages.
func BenchmarkOpen(b *testing.B) {
	for _, k := range benchKEMs() {
		for _, s := range allSigners(b) {
			b.Run(k.name+"/"+s.name, func(b *testing.B) {
				f := newFixture(b, k.kem, s.s)
				c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
				pkg := f.mustDisclose(c, t0)
				o := f.newOpener(f.sk, "agency-a", replayFunc(func(context.Context, PackageID, time.Time, time.Time) error { return nil }))
				for b.Loop() {
					if _, err := o.Open(context.Background(), pkg, testNonce, t0.Add(time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkHPKEOpenOnly is the decryption step alone (what an unsigned
// package cost to open), for comparing with BenchmarkOpen: the difference
// is the signature verification and the checks.
func BenchmarkHPKEOpenOnly(b *testing.B) {
	for _, k := range benchKEMs() {
		b.Run(k.name, func(b *testing.B) {
			f := newFixture(b, k.kem, ed25519Signer(7))
			p, err := parsePackage(f.mustDisclose(consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate), t0))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := hpke.Open(f.sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info(p.hdr), p.sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
