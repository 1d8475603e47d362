package vault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// kdfRuns returns the KDF runs v's Deriver has completed. For Argon2id the
// count is kept inside the engine (kdf/internal/argon2 counts a run once
// its last block is filled), for PBKDF2 and scrypt by kdf's Deriver.run
// after the primitive returns: real derivations, not stanzas handed to an
// identity or calls made.
func kdfRuns(v *Vault) uint64 { return v.deriver.Derivations() }

// TestKDFRunsPerOperationCountedByEngine: Enroll, EnrollUnlocked (the
// handle costs no second run), EnrollUnlockedInStore and Unlock (right or
// wrong password) each cost exactly one password derivation,
// ChangePassword two (check the old password, wrap under the new),
// Recover one (wrap under the new password), and an Unlock that upgrades
// the account's parameters one more; unlocking the upgraded record is one
// again. A GenerationLog (Config.Generations) changes none of these
// counts: it is consulted after the secret opened the account.
func TestKDFRunsPerOperationCountedByEngine(t *testing.T) {
	for _, prof := range profiles(t) {
		for _, withLog := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/generation_log_%v", prof.name, withLog), func(t *testing.T) {
				ctx := context.Background()
				var lg GenerationLog
				if withLog {
					lg = NewMemGenerationLog()
				}
				v, _ := newTestVault(t, prof.weak, func(c *Config) { c.Generations = lg })
				strong, _ := newTestVault(t, prof.strong, func(c *Config) { c.Generations = lg })
				step := func(vv *Vault, name string, want uint64, op func() error) {
					t.Helper()
					before := kdfRuns(vv)
					if err := op(); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if got := kdfRuns(vv) - before; got != want {
						t.Fatalf("%s ran the KDF %d times, want exactly %d", name, got, want)
					}
				}
				var account, upgraded []byte
				var pk PersonalKey
				step(v, "Enroll", 1, func() (err error) {
					account, pk, err = v.Enroll(ctx, "u", pw1)
					return err
				})
				step(v, "EnrollUnlocked", 1, func() error {
					_, u, _, err := v.EnrollUnlocked(ctx, "u-open", pw1)
					u.Close()
					return err
				})
				step(v, "EnrollUnlockedInStore", 1, func() error {
					u, _, err := v.EnrollUnlockedInStore(ctx, NewMemStore(), "u-open", pw1)
					u.Close()
					return err
				})
				step(v, "Unlock", 1, func() error {
					u, up, err := v.Unlock(ctx, "u", account, pw1)
					if err == nil {
						u.Close()
						if up != nil {
							return errors.New("account at policy was upgraded")
						}
					}
					return err
				})
				step(v, "Unlock with a wrong password", 1, func() error {
					if _, _, err := v.Unlock(ctx, "u", account, pw2); !errors.Is(err, ErrWrongSecret) {
						return errors.New("wrong password not refused")
					}
					return nil
				})
				step(v, "ChangePassword", 2, func() (err error) {
					account, err = v.ChangePassword(ctx, "u", account, pw1, pw2)
					return err
				})
				step(v, "Recover", 1, func() (err error) {
					account, _, err = v.Recover(ctx, "u", account, pk, pw3)
					return err
				})
				step(strong, "Unlock that upgrades", 2, func() error {
					u, up, err := strong.Unlock(ctx, "u", account, pw3)
					if err != nil {
						return err
					}
					u.Close()
					if up == nil {
						return errors.New("weak account not upgraded")
					}
					upgraded = up
					return nil
				})
				step(strong, "Unlock of the upgraded record", 1, func() error {
					u, up, err := strong.Unlock(ctx, "u", upgraded, pw3)
					if err == nil {
						u.Close()
						if up != nil {
							return errors.New("upgraded record upgraded again")
						}
					}
					return err
				})
			})
		}
	}
}
