package disclosure

import (
	"crypto/ecdh"
	"crypto/hpke"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

func benchKEMs() map[string]hpke.KEM {
	return map[string]hpke.KEM{
		"x25519": x25519(), "mlkem768x25519": hpke.MLKEM768X25519(),
		"p256": hpke.DHKEM(ecdh.P256()), "mlkem768p256": hpke.MLKEM768P256(),
	}
}

func BenchmarkDisclose(b *testing.B) {
	for name, kem := range benchKEMs() {
		b.Run(name, func(b *testing.B) {
			sk := partnerKey(b, kem, 1)
			c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
			d := New(Config{})
			for b.Loop() {
				if _, err := disclose(b, d, c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for name, kem := range benchKEMs() {
		b.Run(name, func(b *testing.B) {
			sk := partnerKey(b, kem, 1)
			c := consentFor("agency-a", vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate)
			pkg, _ := disclose(b, New(Config{}), c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
			for b.Loop() {
				if _, err := Open(sk, "agency-a", pkg, t0.Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
