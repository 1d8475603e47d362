package disclosure

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/fipstest"
)

// testdata/disclosure/v1_unsigned.json holds the version-1 packages this
// package wrote before packages were signed; each one still decrypts with
// its partner key (so it is a real, well-formed version-1 package), and
// Open refuses every one of them as an unsupported version: an unsigned
// package is exactly what a forger can make.
func TestVersion1UnsignedPackagesAreRefused(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/disclosure/v1_unsigned.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		KEM       uint16    `json:"kem"`
		IKM       string    `json:"ikm"`
		PartnerID string    `json:"partner_id"`
		Now       time.Time `json:"now"`
		Consent   string    `json:"consent"`
		Package   string    `json:"package"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 4 {
		t.Fatalf("%d version-1 packages, want 4", len(vs))
	}
	for _, v := range vs {
		pkg, _ := hex.DecodeString(v.Package)
		cb, _ := hex.DecodeString(v.Consent)
		if string(pkg[:5]) != "PVDS\x01" {
			t.Fatalf("not a version-1 package: %x", pkg[:5])
		}
		if !(fipstest.Active(fipstest.X25519) && (v.KEM == KEMX25519 || v.KEM == KEMMLKEM768X25519)) {
			// The version-1 layout: 13-byte header, consent, enc || ct, sealed
			// with info = "piivault/disclosure/v1" 0x00 || header || consent.
			var kem hpke.KEM
			for _, k := range []hpke.KEM{hpke.DHKEM(ecdh.X25519()), hpke.MLKEM768X25519(), hpke.DHKEM(ecdh.P256()), hpke.MLKEM768P256()} {
				if k.ID() == v.KEM {
					kem = k
				}
			}
			ikm, _ := hex.DecodeString(v.IKM)
			sk, err := kem.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatal(err)
			}
			hdr := pkg[:13+len(cb)]
			if _, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), append([]byte("piivault/disclosure/v1\x00"), hdr...), pkg[len(hdr):]); err != nil {
				t.Fatalf("kem 0x%04x: test setup: the version-1 package does not decrypt: %v", v.KEM, err)
			}
		}
		f := newFixture(t, hpke.DHKEM(ecdh.P256()), ed25519Signer(7))
		d, err := f.opener.Open(context.Background(), pkg, testNonce, v.Now)
		if !errors.Is(err, ErrUnsupportedVersion) || d != nil {
			t.Fatalf("kem 0x%04x: version-1 package: %v, want ErrUnsupportedVersion", v.KEM, err)
		}
		if _, err := PackageConsent(pkg); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("PackageConsent of a version-1 package: %v", err)
		}
	}
}
