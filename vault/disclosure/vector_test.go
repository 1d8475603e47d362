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
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/fipstest"
)

// The version-2 vectors, testdata/disclosure/v2/*.json, written by
// vault/disclosure/internal/genvectors. This test only reads them.
const vectorDir = "../../testdata/disclosure/v2"

type vectorFile struct {
	Comment string       `json:"comment"`
	Expect  string       `json:"expect"`
	Vectors []testVector `json:"vectors"`
}

type testVector struct {
	Name              string            `json:"name"`
	Comment           string            `json:"comment"`
	PartnerID         string            `json:"partner_id"`
	PartnerKEM        uint16            `json:"partner_kem"`
	PartnerIKM        string            `json:"partner_ikm"`
	ProviderAlg       uint16            `json:"provider_alg"`
	ProviderPublicKey string            `json:"provider_public_key"`
	PinnedFingerprint string            `json:"pinned_fingerprint"`
	Nonce             string            `json:"nonce"`
	Now               time.Time         `json:"now"`
	ClockSkewSeconds  int               `json:"clock_skew_seconds"`
	SeenIDs           []string          `json:"seen_ids"`
	Package           string            `json:"package"`
	Attributes        map[string]string `json:"attributes"`
}

// The outcome each file stands for, and the error Open must return.
var vectorOutcomes = map[string]error{
	"success":             nil,
	"forged":              ErrForged,
	"wrong_signer":        ErrWrongSigner,
	"replayed":            ErrReplay,
	"wrong_nonce":         ErrNonce,
	"not_yet_valid":       ErrNotYetValid,
	"expired":             ErrExpired,
	"tampered":            ErrForged,
	"malformed":           ErrMalformed,
	"unsupported_version": ErrUnsupportedVersion,
}

func kemByID(id uint16) hpke.KEM {
	for _, k := range []hpke.KEM{x25519(), hpke.MLKEM768X25519(), hpke.DHKEM(ecdh.P256()), hpke.MLKEM768P256()} {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// providerPublicKey decodes a provider key as FORMAT.md section 2 writes it.
func providerPublicKey(t *testing.T, alg uint16, b []byte) crypto.PublicKey {
	t.Helper()
	switch alg {
	case SigEd25519:
		return ed25519.PublicKey(b)
	case SigECDSAP256SHA256:
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case SigEd25519MLDSA65:
		k, err := ParseHybridPublicKey(b)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Fatalf("provider algorithm %d", alg)
	return nil
}

func TestVectors(t *testing.T) {
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	var want []string
	for k := range vectorOutcomes {
		want = append(want, k)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("vector files %v, want %v", names, want)
	}
	total := 0
	for _, name := range names {
		raw, err := os.ReadFile(filepath.Join(vectorDir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		if f.Expect != name || len(f.Vectors) == 0 {
			t.Fatalf("%s.json: expect %q, %d vectors", name, f.Expect, len(f.Vectors))
		}
		for _, v := range f.Vectors {
			total++
			t.Run(name+"/"+v.Name, func(t *testing.T) { runVector(t, name, v) })
		}
	}
	if total < 40 {
		t.Fatalf("%d vectors, want at least 40", total)
	}
}

func runVector(t *testing.T, outcome string, v testVector) {
	if v.PartnerKEM == KEMX25519 || v.PartnerKEM == KEMMLKEM768X25519 {
		fipstest.Skip(t, fipstest.X25519)
	}
	sk, err := kemByID(v.PartnerKEM).DeriveKeyPair(unhex(t, v.PartnerIKM))
	if err != nil {
		t.Fatal(err)
	}
	var pinned Fingerprint
	copy(pinned[:], unhex(t, v.PinnedFingerprint))
	pk, err := PinProviderKey(providerPublicKey(t, v.ProviderAlg, unhex(t, v.ProviderPublicKey)), pinned)
	if err != nil {
		t.Fatalf("pinning the vector's provider key: %v", err)
	}
	replay := NewMemoryReplayCache(16)
	for _, s := range v.SeenIDs {
		var id PackageID
		copy(id[:], unhex(t, s))
		if err := replay.Use(context.Background(), id, v.Now.Add(-time.Hour), v.Now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	o, err := NewOpener(OpenerConfig{
		PartnerID: v.PartnerID, Key: sk, Providers: []*ProviderKey{pk}, Replay: replay,
		ClockSkew: time.Duration(v.ClockSkewSeconds) * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	pkg := unhex(t, v.Package)
	d, err := o.Open(context.Background(), pkg, v.Nonce, v.Now)
	if want := vectorOutcomes[outcome]; want != nil {
		if !errors.Is(err, want) || d != nil {
			t.Fatalf("%s: %v, want %v", v.Comment, err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", v.Comment, err)
	}
	if len(d.Attributes) != len(v.Attributes) {
		t.Fatalf("attributes %v, want %v", d.Attributes, v.Attributes)
	}
	for _, a := range d.Attributes {
		if v.Attributes[a.Name] != a.Value {
			t.Fatalf("attribute %s = %q, want %q", a.Name, a.Value, v.Attributes[a.Name])
		}
	}
	checkLayout(t, v, pkg, d)
}

// checkLayout reads a success vector's package by the offsets FORMAT.md
// section 3 gives, and compares with what Open returned.
func checkLayout(t *testing.T, v testVector, pkg []byte, d *Disclosed) {
	t.Helper()
	be := binary.BigEndian
	if string(pkg[0:4]) != "PVDS" || pkg[4] != 2 || be.Uint16(pkg[5:7]) != v.ProviderAlg ||
		hex.EncodeToString(pkg[7:39]) != v.PinnedFingerprint || be.Uint16(pkg[39:41]) != v.PartnerKEM ||
		be.Uint16(pkg[41:43]) != 0x0001 || be.Uint16(pkg[43:45]) != 0x0002 ||
		!bytes.Equal(pkg[45:61], d.ID[:]) ||
		int64(be.Uint64(pkg[61:69])) != d.IssuedAt.UnixNano() || int64(be.Uint64(pkg[69:77])) != d.ExpiresAt.UnixNano() {
		t.Fatal("fixed header does not match FORMAT.md section 3")
	}
	cl := int(be.Uint16(pkg[77:79]))
	consent := pkg[79 : 79+cl]
	if enc, _ := d.Consent.MarshalBinary(); !bytes.Equal(enc, consent) {
		t.Fatal("consent bytes differ from the parsed consent")
	}
	fp, _ := PartnerFingerprint(mustDerive(t, v).PublicKey())
	if !bytes.Equal(consent[6+len(v.PartnerID):6+len(v.PartnerID)+32], fp[:]) {
		t.Fatal("consent partner key is not at FORMAT.md section 4's offset")
	}
	at := 79 + cl + encSize(v.PartnerKEM)
	ctLen := int(be.Uint16(pkg[at:]))
	ptLen := 4 + 1 + 1
	for name, value := range v.Attributes {
		ptLen += 1 + len(name) + 2 + len(value)
	}
	if ctLen != ptLen+16 || len(pkg) != at+2+ctLen+sigSize(v.ProviderAlg) {
		t.Fatalf("ciphertext %d bytes (plaintext %d), package %d bytes: not the documented sizes", ctLen, ptLen, len(pkg))
	}
}

func mustDerive(t *testing.T, v testVector) hpke.PrivateKey {
	sk, err := kemByID(v.PartnerKEM).DeriveKeyPair(unhex(t, v.PartnerIKM))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}
