package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestUnknownUserCostsOneDerivationAndLooksLikeAWrongPassword: an unknown
// user and a wrong password both run exactly one KDF derivation and both
// return an error wrapping ErrWrongSecret (bench/enumeration.sh compares
// their times); the audit log still tells the operator which it was.
func TestUnknownUserCostsOneDerivationAndLooksLikeAWrongPassword(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			v, audit := newTestVault(t, prof.weak)
			s := NewMemStore()
			if _, err := v.EnrollInStore(ctx, s, "present", pw1); err != nil {
				t.Fatal(err)
			}
			for _, user := range []string{"present", "absent"} {
				v.kdfRuns.Store(0)
				_, err := v.UnlockInStore(ctx, s, user, pw2)
				if !errors.Is(err, ErrWrongSecret) {
					t.Fatalf("%s: %v", user, err)
				}
				if n := v.kdfRuns.Load(); n != 1 {
					t.Fatalf("%s: %d KDF runs, want 1", user, n)
				}
			}
			// An invalid password is refused the same way for both.
			for _, user := range []string{"present", "absent"} {
				if _, err := v.UnlockInStore(ctx, s, user, []byte{0xff}); !errors.Is(err, ErrInvalidInput) {
					t.Fatalf("%s, invalid password: %v", user, err)
				}
			}
			if !bytes.Contains([]byte(audit.String()), []byte(`"error":"not_found"`)) {
				t.Fatal("the audit log does not say the user was unknown")
			}
		})
	}
}
