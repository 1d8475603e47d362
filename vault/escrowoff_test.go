package vault

import (
	"context"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// TestEscrowOffEveryOperationWritesOnlyPasswordAndPersonalKey runs every
// operation that writes an account record on a Vault with escrow off, the
// stateless ones and the Store helpers, including a parameter upgrade, a
// version-1 upgrade and dropping older keys, and checks the stanza types
// of every record written: exactly one password and one personal-key
// stanza, nothing else.
func TestEscrowOffEveryOperationWritesOnlyPasswordAndPersonalKey(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			weak, _ := newTestVault(t, prof.weak)
			strong, _ := newTestVault(t, prof.strong)
			want := []string{envelope.TypePassword, envelope.TypeRecovery}
			check := func(op string, account []byte) {
				t.Helper()
				if account == nil {
					t.Fatalf("%s wrote nothing", op)
				}
				if got := stanzaTypes(t, account); !sameTypes(got, want) {
					t.Fatalf("escrow off: %s wrote stanzas %v, want %v", op, got, want)
				}
			}
			a, pk, err := weak.Enroll(ctx, "u", pw1)
			if err != nil {
				t.Fatal(err)
			}
			check("Enroll", a)
			u, up, err := strong.Unlock(ctx, "u", a, pw1)
			if err != nil {
				t.Fatal(err)
			}
			u.Close()
			check("Unlock (params upgrade)", up)
			a = up
			if a, err = strong.ChangePassword(ctx, "u", a, pw1, pw2); err != nil {
				t.Fatal(err)
			}
			check("ChangePassword", a)
			if a, pk, err = strong.Recover(ctx, "u", a, pk, pw3); err != nil {
				t.Fatal(err)
			}
			check("Recover", a)
			if a, _, err = strong.ChangePasswordAndRotate(ctx, "u", a, pw3, pw1); err != nil {
				t.Fatal(err)
			}
			check("ChangePasswordAndRotate", a)
			var ru *Unlocked
			if a, _, ru, err = strong.RotateAccountKey(ctx, "u", a, pw1); err != nil {
				t.Fatal(err)
			}
			ru.Close()
			check("RotateAccountKey", a)

			// The Store helpers, and dropping older keys after a reseal.
			s := NewMemStore()
			if pk, err = strong.EnrollInStore(ctx, s, "v", pw1); err != nil {
				t.Fatal(err)
			}
			stored := func(op string) {
				t.Helper()
				acc, _, err := s.Get(ctx, "v")
				if err != nil {
					t.Fatal(err)
				}
				check(op, acc)
			}
			stored("EnrollInStore")
			if err := strong.ChangePasswordInStore(ctx, s, "v", pw1, pw2); err != nil {
				t.Fatal(err)
			}
			stored("ChangePasswordInStore")
			if pk, err = strong.RecoverInStore(ctx, s, "v", pk, pw3); err != nil {
				t.Fatal(err)
			}
			stored("RecoverInStore")
			if _, err = strong.ChangePasswordAndRotateInStore(ctx, s, "v", pw3, pw1); err != nil {
				t.Fatal(err)
			}
			stored("ChangePasswordAndRotateInStore")
			hu, err := strong.UnlockInStore(ctx, s, "v", pw1)
			if err != nil {
				t.Fatal(err)
			}
			defer hu.Close()
			st, err := strong.ResealInStore(ctx, hu, NewMemRecordStore(), s, nil)
			if err != nil || !st.DroppedOlderKeys {
				t.Fatalf("reseal: %+v %v", st, err)
			}
			stored("ResealInStore (older keys dropped)")
		})
	}
}
