// Package fipstest is the one way a piivault test steps aside in FIPS 140-3
// mode (GODEBUG=fips140=on or fips140=only).
//
// CI runs the whole suite under GODEBUG=fips140=only. A test that cannot
// run there (it needs Argon2id, X25519, ...) calls [Skip] with one of the
// reasons declared here; any other skip in that run fails CI (the check is
// internal/fipstest/skipcheck, which reads go test -json and accepts a skip only if its
// message carries one of [Reasons]). A reason cannot be made up at the call
// site: a new one is added here, where it is reviewed, and it states why
// the test cannot run, so that "the envelope package is broken under FIPS"
// can never pass as a skip.
package fipstest

import (
	"crypto/fips140"
	"fmt"
	"testing"
)

// Marker starts every skip message [Skip] writes. internal/fipstest/skipcheck looks for
// it, followed by "(name)" of one of [Reasons].
const Marker = "fipstest: not run in FIPS 140-3 mode"

// Reason says why a test cannot run in FIPS 140-3 mode and in which mode
// the reason holds. Values are declared in this package only.
type Reason struct {
	name string
	why  string
	// enforcedOnly: the obstacle exists only where the module refuses
	// non-approved algorithms (fips140=only), not under fips140=on.
	enforcedOnly bool
}

// Name is the reason's short identifier, written in the skip message.
func (r Reason) Name() string { return r.name }

// String is the skip message's text after the marker.
func (r Reason) String() string { return fmt.Sprintf("(%s): %s", r.name, r.why) }

// The reasons a test may give. Each is a property of the FIPS 140-3 module
// or of a non-approved algorithm, never of piivault's own code.
var (
	// Argon2id is not a FIPS 140-3 approved password KDF; in FIPS mode the
	// vault runs PBKDF2-HMAC-SHA256 only (kdf.FIPSPolicy).
	Argon2id = Reason{name: "argon2id", why: "Argon2id is not an approved KDF; FIPS deployments use PBKDF2-HMAC-SHA256"}
	// Scrypt is not a FIPS 140-3 approved password KDF.
	Scrypt = Reason{name: "scrypt", why: "scrypt is not an approved KDF; FIPS deployments use PBKDF2-HMAC-SHA256"}
	// X25519 (and the hybrid ML-KEM-768+X25519 KEM) is refused by the module
	// under fips140=only; FIPS deployments use P-256 and ML-KEM-768+P-256.
	X25519 = Reason{name: "x25519", why: "X25519 is refused by the FIPS 140-3 module; FIPS deployments use P-256", enforcedOnly: true}
	// TinkAESGCM: tink-go's AES-GCM refuses to run under fips140=only.
	TinkAESGCM = Reason{name: "tink-aes-gcm", why: "tink-go AES-GCM refuses to run under fips140=only", enforcedOnly: true}
	// CallerGCMNonce: the module refuses AES-GCM with a caller-chosen nonce
	// under fips140=only (only module-generated nonces are allowed).
	CallerGCMNonce = Reason{name: "caller-gcm-nonce", why: "the FIPS 140-3 module refuses caller-chosen AES-GCM nonces", enforcedOnly: true}
)

// ShortPBKDF2Salt: under fips140=only the module's PBKDF2 refuses salts
// shorter than 128 bits (and outputs shorter than 112 bits); published
// vectors (RFC 7914's scrypt, which runs PBKDF2 inside) use such salts.
// piivault's own salts are 128 bits or more.
var ShortPBKDF2Salt = Reason{name: "short-pbkdf2-salt", why: "the FIPS 140-3 module refuses PBKDF2 salts shorter than 128 bits, and this vector's salt is shorter", enforcedOnly: true}

// Reasons lists every declared reason; internal/fipstest/skipcheck accepts a skip only if
// it names one of them.
func Reasons() []Reason {
	return []Reason{Argon2id, Scrypt, X25519, TinkAESGCM, CallerGCMNonce, ShortPBKDF2Salt}
}

// Active reports whether r stops a test in this process: fips140.Enforced()
// for reasons that hold only under fips140=only, fips140.Enabled() for the
// others. Tests that choose what to run (rather than skip) can ask it.
func Active(r Reason) bool {
	if r.name == "" {
		panic("fipstest: zero Reason; use one declared in package fipstest")
	}
	if r.enforcedOnly {
		return fips140.Enforced()
	}
	return fips140.Enabled()
}

// Skip skips t, naming r, if r holds in this process (see [Active]);
// otherwise it returns and the test runs. A zero Reason fails the test.
func Skip(t testing.TB, r Reason) {
	t.Helper()
	if r.name == "" {
		t.Fatal("fipstest.Skip: zero Reason; use one declared in package fipstest")
	}
	if Active(r) {
		t.Skip(Marker + " " + r.String())
	}
}
