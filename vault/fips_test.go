package vault

import (
	"context"
	"crypto/fips140"
	"errors"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/kdf"
)

// TestFIPSConfigEndToEnd runs the FIPS profile at its real parameters
// (PBKDF2-HMAC-SHA256, 600,000 iterations). CI also runs the whole
// package under GODEBUG=fips140=only, where only this profile is tested.
func TestFIPSConfigEndToEnd(t *testing.T) {
	ctx := context.Background()
	t.Logf("crypto/fips140.Enabled() = %v, Enforced() = %v", fips140.Enabled(), fips140.Enforced())
	profiles(t) // skips, with the reason, if the envelope fails under fips140=only
	v, err := New(FIPSConfig())
	if err != nil {
		t.Fatal(err)
	}
	account, pk, err := v.Enroll(ctx, "fips-user", pw1)
	if err != nil {
		t.Fatal(err)
	}
	if p := passwordParams(t, account); p != kdf.FIPSPolicy().New {
		t.Fatalf("FIPS account params %+v", p)
	}
	u := mustUnlock(t, v, "fips-user", account, pw1)
	rec, err := u.SealIdentity("pii", janeSample)
	u.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := opensWithPK(t, "fips-user", account, pk); err != nil {
		t.Fatal(err)
	}
	u = mustUnlock(t, v, "fips-user", account, pw1)
	defer u.Close()
	if id, err := u.OpenIdentity("pii", rec); err != nil || *id != *janeSample {
		t.Fatalf("OpenIdentity: %v", err)
	}
}

// TestFIPSConfigRefusesArgon2idAccounts: an account written with a
// non-approved KDF is refused under the FIPS policy before deriving.
func TestFIPSConfigRefusesArgon2idAccounts(t *testing.T) {
	fipstest.Skip(t, fipstest.Argon2id) // no Argon2id account can be enrolled to test with
	ctx := context.Background()
	argon, _ := newTestVault(t, argon2Policy(64))
	account, _, err := argon.Enroll(ctx, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(FIPSConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = v.Unlock(ctx, "u", account, pw1)
	if !errors.Is(err, kdf.ErrParamsNotAllowed) {
		t.Fatalf("Argon2id account under FIPSConfig: %v", err)
	}
	if n := v.kdfRuns.Load(); n != 0 {
		t.Fatalf("refused account ran the KDF %d times", n)
	}
}
