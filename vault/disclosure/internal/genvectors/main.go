// Command genvectors writes the version-2 disclosure test vectors,
// testdata/disclosure/v2/*.json, one file per expected outcome.
//
// Run from the repository root: go run ./vault/disclosure/internal/genvectors
//
// The tests only read these files (vault/disclosure/vector_test.go); they
// never write them. Packages hold random ids, ephemeral HPKE keys and (for
// ECDSA and ML-DSA-65) randomized signatures, so every run gives new bytes:
// regenerate only when the format changes, and review the diff.
//
// Forgeries and tamperings are built from the byte layout in
// vault/disclosure/FORMAT.md, not from the package's internals.
package main

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
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/disclosure"
)

// Vector is one test vector; see testdata/disclosure/SOURCE.md.
type Vector struct {
	Name    string `json:"name"`
	Comment string `json:"comment"`
	// The partner: id, KEM and the ikm of RFC 9180 DeriveKeyPair.
	PartnerID  string `json:"partner_id"`
	PartnerKEM uint16 `json:"partner_kem"`
	PartnerIKM string `json:"partner_ikm"`
	// The provider key the partner pinned: algorithm, public key bytes
	// (FORMAT.md section 2) and its fingerprint.
	ProviderAlg       uint16 `json:"provider_alg"`
	ProviderPublicKey string `json:"provider_public_key"`
	PinnedFingerprint string `json:"pinned_fingerprint"`
	// What the partner passes to Open, and the ids its replay cache holds.
	Nonce            string    `json:"nonce"`
	Now              time.Time `json:"now"`
	ClockSkewSeconds int       `json:"clock_skew_seconds"`
	SeenIDs          []string  `json:"seen_ids,omitempty"`
	Package          string    `json:"package"`
	// Success only: the attributes Open returns.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// File is one outcome's vectors.
type File struct {
	Comment string   `json:"comment"`
	Expect  string   `json:"expect"`
	Vectors []Vector `json:"vectors"`
}

const (
	partnerID = "urn:gov:example:agency-a"
	nonce     = "n-0S6_WzA2Mj"
	skew      = disclosure.DefaultClockSkew
	lifetime  = time.Hour
)

var (
	givenAt   = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	expiresAt = time.Date(2126, 5, 1, 9, 0, 0, 0, time.UTC)
	issued    = givenAt.Add(time.Minute)
	openAt    = issued.Add(time.Minute)
	partnerIK = bytes.Repeat([]byte{0xa5}, 32)
)

type provider struct {
	name   string
	alg    uint16
	signer crypto.Signer
	pub    []byte
}

func providers() []provider {
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x11}, 32))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x22}, 32))
	check(err)
	ecPub, err := ec.PublicKey.Bytes()
	check(err)
	var seed [mldsa65.SeedSize]byte
	copy(seed[:], bytes.Repeat([]byte{0x33}, 32))
	_, ml := mldsa65.NewKeyFromSeed(&seed)
	hy, err := disclosure.NewHybridSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x33}, 32)), ml)
	check(err)
	return []provider{
		{"ed25519", disclosure.SigEd25519, ed, ed.Public().(ed25519.PublicKey)},
		{"ecdsa-p256", disclosure.SigECDSAP256SHA256, ec, ecPub},
		{"ed25519-mldsa65", disclosure.SigEd25519MLDSA65, hy, hy.Public().(*disclosure.HybridPublicKey).Bytes()},
	}
}

var kems = []struct {
	name string
	kem  hpke.KEM
}{
	{"x25519", hpke.DHKEM(ecdh.X25519())}, {"mlkem768x25519", hpke.MLKEM768X25519()},
	{"p256", hpke.DHKEM(ecdh.P256())}, {"mlkem768p256", hpke.MLKEM768P256()},
}

// release makes a real package with the given provider for a partner key
// of kem.
func release(p provider, kem hpke.KEM) []byte {
	sk, err := kem.DeriveKeyPair(partnerIK)
	check(err)
	d, err := disclosure.New(disclosure.Config{Signer: p.signer, PackageLifetime: lifetime})
	check(err)
	c := disclosure.Consent{
		PartnerID: partnerID, Nonce: nonce, Subject: "pairwise-5c1d",
		Attributes: []string{vault.AttrGivenName, vault.AttrFamilyName, vault.AttrBirthDate},
		Purpose:    "Verify identity for benefits application",
		GivenAt:    givenAt, ExpiresAt: expiresAt,
	}
	pkg, err := d.Disclose(context.Background(), account.u, "pii", account.sealed, c,
		disclosure.Partner{ID: partnerID, PublicKey: sk.PublicKey()}, issued)
	check(err)
	return pkg
}

var account struct {
	u      *vault.Unlocked
	sealed []byte
}

func vec(name, comment string, p provider, kem hpke.KEM, pkg []byte) Vector {
	fp, err := disclosure.ProviderFingerprint(pubKey(p))
	check(err)
	return Vector{
		Name: name, Comment: comment, PartnerID: partnerID, PartnerKEM: kem.ID(), PartnerIKM: hex.EncodeToString(partnerIK),
		ProviderAlg: p.alg, ProviderPublicKey: hex.EncodeToString(p.pub), PinnedFingerprint: fp.String(),
		Nonce: nonce, Now: openAt, ClockSkewSeconds: int(skew / time.Second), Package: hex.EncodeToString(pkg),
	}
}

func pubKey(p provider) crypto.PublicKey { return p.signer.Public() }

// Offsets of the fixed header (FORMAT.md section 3).
const (
	offAlg      = 5
	offKeyID    = 7
	offKEM      = 39
	offID       = 45
	offIssued   = 61
	offExpires  = 69
	offConsent  = 77 // u16 length, then the consent
	fixedHeader = 77
)

// split returns the header (magic to end of consent), enc, ct and sig.
func split(pkg []byte, kem hpke.KEM, alg uint16) (hdr, enc, ct, sig []byte) {
	cl := int(binary.BigEndian.Uint16(pkg[offConsent:]))
	hdr = pkg[:fixedHeader+2+cl]
	n := map[uint16]int{0x0020: 32, 0x647a: 1120, 0x0010: 65, 0x0050: 1153}[kem.ID()]
	enc = pkg[len(hdr) : len(hdr)+n]
	ctl := int(binary.BigEndian.Uint16(pkg[len(hdr)+n:]))
	ct = pkg[len(hdr)+n+2 : len(hdr)+n+2+ctl]
	sig = pkg[len(hdr)+n+2+ctl:]
	if len(sig) != map[uint16]int{1: 64, 2: 64, 3: 64 + 3309}[alg] {
		log.Fatalf("layout: signature of %d bytes", len(sig))
	}
	return
}

func join(hdr, enc, ct, sig []byte) []byte {
	out := append(append([]byte(nil), hdr...), enc...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(ct)))
	out = append(out, ct...)
	return append(out, sig...)
}

func tbs(body []byte) []byte {
	return append([]byte("piivault/disclosure/v2/signature\x00"), body...)
}

func flip(pkg []byte, at int) []byte {
	out := bytes.Clone(pkg)
	out[at] ^= 0x01
	return out
}

func main() {
	out := flag.String("out", "testdata/disclosure/v2", "output directory")
	flag.Parse()
	ctx := context.Background()

	// The user's identity, sealed under a real vault account (PBKDF2 with
	// few iterations: speed only, this is test data).
	kp := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	v, err := vault.New(vault.Config{Policy: kdf.Policy{New: kp, FloorPBKDF2: kp, Caps: kdf.DefaultCaps()}})
	check(err)
	pw := []byte("correct horse battery staple")
	acct, _, err := v.Enroll(ctx, "user-42", pw)
	check(err)
	account.u, _, err = v.Unlock(ctx, "user-42", acct, pw)
	check(err)
	defer account.u.Close()
	account.sealed, err = account.u.SealIdentity("pii", &vault.Identity{
		GivenName: "Jane", MiddleName: "Quinn", FamilyName: "Sample", BirthDate: "1980-02-29", SSN: "900123456",
	})
	check(err)

	ps := providers()
	ed, ec, hy := ps[0], ps[1], ps[2]
	p256 := hpke.DHKEM(ecdh.P256())
	attrs := map[string]string{"given_name": "Jane", "family_name": "Sample", "birthdate": "1980-02-29"}

	// success: every KEM with every signature algorithm.
	success := File{Comment: "Open returns exactly `attributes`; the package layout is FORMAT.md section 3.", Expect: "success"}
	for _, p := range ps {
		for _, k := range kems {
			x := vec(k.name+"/"+p.name, "partner KEM "+k.name+", provider signature "+p.name, p, k.kem, release(p, k.kem))
			x.Attributes = attrs
			success.Vectors = append(success.Vectors, x)
		}
	}
	edPkg := release(ed, p256)
	ecPkg := release(ec, p256)
	hyPkg := release(hy, p256)
	sk256, err := p256.DeriveKeyPair(partnerIK)
	check(err)

	// forged: valid HPKE to the partner, signature not the provider's.
	forged := File{Comment: "The signature under the pinned provider key id does not verify: ErrForged, before any decryption.", Expect: "forged"}
	{
		hdr, enc, ct, sig := split(edPkg, p256, ed.alg)
		pt := []byte("PVDP\x02\x03")
		for _, kv := range [][2]string{{"birthdate", "1970-01-01"}, {"family_name", "Mallory"}, {"given_name", "Eve"}} {
			pt = append(pt, byte(len(kv[0])))
			pt = append(pt, kv[0]...)
			pt = binary.BigEndian.AppendUint16(pt, uint16(len(kv[1])))
			pt = append(pt, kv[1]...)
		}
		sealed, err := hpke.Seal(sk256.PublicKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), append([]byte("piivault/disclosure/v2/hpke\x00"), hdr...), pt)
		check(err)
		forged.Vectors = append(forged.Vectors,
			vec("swapped-ciphertext", "the real header and signature, with enc and ciphertext replaced by the forger's HPKE seal (made-up attributes) under the same info; it decrypts with the partner key", ed, p256, join(hdr, sealed[:65], sealed[65:], sig)),
			vec("zero-signature", "the real package with its signature replaced by zero bytes", ed, p256, join(hdr, enc, ct, make([]byte, 64))))
		// The forger's own Ed25519 key signs a package that names the
		// provider's key id.
		forger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x66}, 32))
		body := join(hdr, sealed[:65], sealed[65:], nil)
		forged.Vectors = append(forged.Vectors,
			vec("forger-key-under-provider-id", "the forger's ciphertext, signed by the forger's Ed25519 key, header naming the provider's key id", ed, p256, append(body, ed25519.Sign(forger, tbs(body))...)))
	}
	{
		hdr, enc, ct, sig := split(ecPkg, p256, ec.alg)
		s := new(big.Int).SetBytes(sig[32:])
		high := new(big.Int).Sub(elliptic.P256().Params().N, s)
		hs := bytes.Clone(sig)
		high.FillBytes(hs[32:])
		forged.Vectors = append(forged.Vectors,
			vec("ecdsa-high-s", "the provider's ECDSA signature with s replaced by n-s: valid for ECDSA, refused by the format (s must be at most n/2)", ec, p256, join(hdr, enc, ct, hs)))
	}
	{
		hdr, enc, ct, sig := split(hyPkg, p256, hy.alg)
		var seed [mldsa65.SeedSize]byte
		copy(seed[:], bytes.Repeat([]byte{0x66}, 32))
		_, otherML := mldsa65.NewKeyFromSeed(&seed)
		body := join(hdr, enc, ct, nil)
		mlSig, err := otherML.Sign(rand.Reader, tbs(body), crypto.Hash(0))
		check(err)
		otherHalf := append(bytes.Clone(sig[:64]), mlSig...)
		other := release(hy, p256)
		_, _, _, otherSig := split(other, p256, hy.alg)
		forged.Vectors = append(forged.Vectors,
			vec("hybrid-mldsa-half-by-forger", "the provider's Ed25519 half kept, the ML-DSA-65 half made by another ML-DSA-65 key: both must verify", hy, p256, append(body, otherHalf...)),
			vec("hybrid-ed25519-half-from-another-package", "the ML-DSA-65 half kept, the Ed25519 half taken from another package of the same provider", hy, p256, append(body, append(bytes.Clone(otherSig[:64]), sig[64:]...)...)))
	}

	// wrong_signer: the key id is not a pinned provider key.
	wrong := File{Comment: "The package's signer key id is not the pinned provider key: ErrWrongSigner, before any decryption.", Expect: "wrong_signer"}
	{
		forgerP := provider{"forger", disclosure.SigEd25519, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x66}, 32)), nil}
		forgerP.pub = forgerP.signer.Public().(ed25519.PublicKey)
		own := release(forgerP, p256) // the forger's own key, well formed and signed
		wrong.Vectors = append(wrong.Vectors,
			vec("forger-own-key", "a complete package made and signed by a forger's own Ed25519 key, sealed to the partner's real key", ed, p256, own))
		x := vec("other-pinned-key", "a real package by the provider's Ed25519 key; the partner pinned the provider's ECDSA key only", ec, p256, edPkg)
		wrong.Vectors = append(wrong.Vectors, x)
		hdr, enc, ct, sig := split(hyPkg, p256, hy.alg)
		h2 := bytes.Clone(hdr)
		binary.BigEndian.PutUint16(h2[offAlg:], disclosure.SigEd25519)
		wrong.Vectors = append(wrong.Vectors,
			vec("hybrid-stripped-to-ed25519", "a hybrid package with its ML-DSA-65 half removed and its algorithm relabelled Ed25519; the key id is the hybrid key's", hy, p256, join(h2, enc, ct, sig[:64])),
			vec("key-id-byte-changed", "a real package with one bit of the signer key id changed", ed, p256, flip(edPkg, offKeyID+31)))
	}

	// replayed
	replayed := File{Comment: "The package id is in the partner's replay cache (`seen_ids`): ErrReplay.", Expect: "replayed"}
	for _, p := range []provider{ed, ec} {
		x := vec("seen/"+p.name, "a real package whose id the partner has already seen", p, p256, release(p, p256))
		pkg, _ := hex.DecodeString(x.Package)
		x.SeenIDs = []string{hex.EncodeToString(pkg[offID : offID+16])}
		replayed.Vectors = append(replayed.Vectors, x)
	}

	// wrong_nonce
	wn := File{Comment: "Open is given another nonce than the consent's: ErrNonce.", Expect: "wrong_nonce"}
	for _, n := range []struct{ name, nonce string }{{"other", "n-0S6_WzA2Mk"}, {"empty", ""}, {"prefix", nonce[:len(nonce)-1]}} {
		x := vec(n.name, "the partner expects nonce "+fmt.Sprintf("%q", n.nonce)+"; the package answers "+fmt.Sprintf("%q", nonce), ed, p256, edPkg)
		x.Nonce = n.nonce
		wn.Vectors = append(wn.Vectors, x)
	}

	// not_yet_valid
	nyv := File{Comment: "now + clock skew is before the package's issued_at (itself at or after the consent's given_at): ErrNotYetValid.", Expect: "not_yet_valid"}
	for _, t := range []struct {
		name string
		now  time.Time
	}{{"issued-minus-skew-minus-1ns", issued.Add(-skew - time.Nanosecond)}, {"before-consent-given", givenAt.Add(-24 * time.Hour)}} {
		x := vec(t.name, "opened at "+t.now.Format(time.RFC3339Nano)+"; issued at "+issued.Format(time.RFC3339Nano), ed, p256, edPkg)
		x.Now = t.now
		nyv.Vectors = append(nyv.Vectors, x)
	}

	// expired
	exp := File{Comment: "now - clock skew is at or after the package's expires_at (itself at or before the consent's expires_at): ErrExpired.", Expect: "expired"}
	end := issued.Add(lifetime)
	for _, t := range []struct {
		name string
		now  time.Time
	}{{"end-plus-skew", end.Add(skew)}, {"after-consent-expiry", expiresAt.Add(time.Hour)}} {
		x := vec(t.name, "opened at "+t.now.Format(time.RFC3339Nano)+"; package ends at "+end.Format(time.RFC3339Nano), ed, p256, edPkg)
		x.Now = t.now
		exp.Vectors = append(exp.Vectors, x)
	}

	// tampered: one bit changed in each field; the signature refuses it.
	tam := File{Comment: "One bit of a real package changed: ErrForged (the signature covers every byte before it), before any decryption.", Expect: "tampered"}
	{
		hdr, enc, ct, _ := split(edPkg, p256, ed.alg)
		cl := len(hdr) - fixedHeader - 2
		for _, t := range []struct {
			name string
			at   int
		}{
			{"package-id", offID + 3}, {"issued-at", offIssued + 7}, {"expires-at", offExpires + 5},
			{"consent-partner-id", offConsent + 2 + 7}, {"consent-nonce", offConsent + 2 + 5 + 1 + len(partnerID) + 32 + 1 + 2},
			{"consent-last-byte", offConsent + 2 + cl - 1}, {"enc", len(hdr) + 10}, {"ciphertext", len(hdr) + len(enc) + 2 + 3},
			{"gcm-tag", len(hdr) + len(enc) + 2 + len(ct) - 1}, {"signature", len(edPkg) - 64}, {"signature-last-byte", len(edPkg) - 1},
		} {
			tam.Vectors = append(tam.Vectors, vec(t.name, fmt.Sprintf("bit 0 of byte %d flipped", t.at), ed, p256, flip(edPkg, t.at)))
		}
		for _, t := range []struct {
			name string
			at   int
		}{{"ecdsa/consent", offConsent + 2 + 40}, {"ecdsa/signature-s", len(ecPkg) - 1}} {
			tam.Vectors = append(tam.Vectors, vec(t.name, fmt.Sprintf("bit 0 of byte %d flipped", t.at), ec, p256, flip(ecPkg, t.at)))
		}
		for _, t := range []struct {
			name string
			at   int
		}{{"hybrid/ciphertext", len(hyPkg) - 3373 - 5}, {"hybrid/mldsa-signature", len(hyPkg) - 100}} {
			tam.Vectors = append(tam.Vectors, vec(t.name, fmt.Sprintf("bit 0 of byte %d flipped", t.at), hy, p256, flip(hyPkg, t.at)))
		}
	}

	// malformed
	mal := File{Comment: "The layout is broken (FORMAT.md section 5.1 steps 2 and 4): ErrMalformed.", Expect: "malformed"}
	mal.Vectors = append(mal.Vectors,
		vec("trailing-byte", "a real package with one byte appended", ed, p256, append(bytes.Clone(edPkg), 0)),
		vec("truncated-signature", "a real package without its last byte", ed, p256, edPkg[:len(edPkg)-1]),
		vec("no-signature", "a real package without its signature", ed, p256, edPkg[:len(edPkg)-64]),
		vec("bad-magic", "PVDS spelled PVDT", ed, p256, flip(edPkg, 3)))

	// unsupported_version
	uv := File{Comment: "A version other than 2: ErrUnsupportedVersion. Version-1 packages were unsigned and are never accepted.", Expect: "unsupported_version"}
	v1raw, err := os.ReadFile(filepath.Join(filepath.Dir(*out), "v1_unsigned.json"))
	check(err)
	var v1 []struct {
		KEM     uint16 `json:"kem"`
		Package string `json:"package"`
	}
	check(json.Unmarshal(v1raw, &v1))
	for _, x := range v1 {
		if x.KEM == 0x0010 {
			pkg, _ := hex.DecodeString(x.Package)
			uv.Vectors = append(uv.Vectors, vec("version-1-unsigned", "a version-1 (unsigned) package sealed to this partner key (testdata/disclosure/v1_unsigned.json)", ed, p256, pkg))
		}
	}
	v3 := bytes.Clone(edPkg)
	v3[4] = 3
	uv.Vectors = append(uv.Vectors, vec("version-3", "a real package with its version byte set to 3", ed, p256, v3))

	check(os.MkdirAll(*out, 0o755))
	for name, f := range map[string]File{
		"success": success, "forged": forged, "wrong_signer": wrong, "replayed": replayed, "wrong_nonce": wn,
		"not_yet_valid": nyv, "expired": exp, "tampered": tam, "malformed": mal, "unsupported_version": uv,
	} {
		b, err := json.MarshalIndent(f, "", "  ")
		check(err)
		check(os.WriteFile(filepath.Join(*out, name+".json"), append(b, '\n'), 0o644))
		fmt.Printf("%s: %d vectors\n", name, len(f.Vectors))
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
