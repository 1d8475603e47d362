package shred_test

import (
	"testing"

	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// BenchmarkUnlockInStore runs vault.UnlockInStore on a plain Store and
// through the shred layer, side by side, with the tests' tiny Argon2id
// parameters (64 KiB) so that the layer's own cost (one key look-up in a
// MemKeyStore, a serverkey open under a cached data key, a record open)
// is visible; at the default 64 MiB the KDF run dominates both.
func BenchmarkUnlockInStore(b *testing.B) {
	ctx := b.Context()
	v := newVault(b, vault.Config{})
	plain := vault.NewMemStore()
	if _, err := v.EnrollInStore(ctx, plain, jane, []byte("pw")); err != nil {
		b.Fatal(err)
	}
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(b, newFakeKMS(b))})
	if err != nil {
		b.Fatal(err)
	}
	layered := l.Store(vault.NewMemStore())
	if _, err := v.EnrollInStore(ctx, layered, jane, []byte("pw")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    vault.Store
	}{{"plain", plain}, {"layered", layered}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				u, err := v.UnlockInStore(ctx, c.s, jane, []byte("pw"))
				if err != nil {
					b.Fatal(err)
				}
				u.Close()
			}
		})
	}
}

func BenchmarkLayer(b *testing.B) {
	ctx := b.Context()
	l, err := shred.New(shred.Config{Keys: shred.NewMemKeyStore(), Keyring: newKeyring(b, newFakeKMS(b))})
	if err != nil {
		b.Fatal(err)
	}
	account := make([]byte, 400) // about an account record's size
	lay, err := l.Wrap(ctx, jane, account)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Rewrap(ctx, jane, account); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Unwrap(ctx, jane, lay); err != nil {
				b.Fatal(err)
			}
		}
	})
}
