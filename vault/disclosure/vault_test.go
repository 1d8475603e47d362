package disclosure

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// End to end with the real vault: the identity is sealed under a user's
// account and Disclose opens it through *vault.Unlocked.
func TestDiscloseThroughAnUnlockedVaultAccount(t *testing.T) {
	ctx := context.Background()
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000} // small: test speed only
	var audit bytes.Buffer
	v, err := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}})
	if err != nil {
		t.Fatal(err)
	}
	pw := []byte("correct horse battery staple")
	account, _, err := v.Enroll(ctx, "user-42", pw)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := v.Unlock(ctx, "user-42", account, pw)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	sealed, err := u.SealIdentity("pii", jane)
	if err != nil {
		t.Fatal(err)
	}
	sk := partnerKey(t, defaultKEM(), 1)
	d, err := New(Config{Signer: ed25519Signer(7), Audit: slog.New(slog.NewJSONHandler(&audit, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := consentFor("agency-a", vault.AttrGivenName, vault.AttrBirthDate)
	pkg, err := d.Disclose(ctx, u, "pii", sealed, c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := PinProviderKey(ed25519Signer(7).Public(), d.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(OpenerConfig{PartnerID: "agency-a", Key: sk, Providers: []*ProviderKey{pin}, Replay: NewMemoryReplayCache(10)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.Open(ctx, pkg, testNonce, t0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Value(vault.AttrGivenName); v != "Jane" || len(got.Attributes) != 2 {
		t.Fatalf("attributes %v", got.Attributes)
	}
	// The record is bound to its label: another label does not open it.
	if _, err := d.Disclose(ctx, u, "other", sealed, c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0); err == nil {
		t.Fatal("record opened under another label")
	}
	// A closed account discloses nothing.
	u.Close()
	if _, err := d.Disclose(ctx, u, "pii", sealed, c, Partner{ID: "agency-a", PublicKey: sk.PublicKey()}, t0); !errors.Is(err, vault.ErrClosed) {
		t.Fatalf("closed account: %v, want vault.ErrClosed", err)
	}
	if !strings.Contains(audit.String(), `"user_id":"user-42"`) || strings.Contains(audit.String(), "1980-02-29") {
		t.Fatalf("audit log: %s", audit.String())
	}
}
