// Command server-keys shows the two server-held key layers:
//
//  1. serverkey: what the server must read without the user (an e-mail
//     address, a phone number, a TOTP seed) sealed under a KMS-wrapped data
//     key that is unwrapped once and cached; sign-in look-up by e-mail
//     fingerprint; a key rotation with progress, look-ups working
//     throughout.
//  2. shred: the optional per-user outer layer on account records. A
//     synthetic user enrolls, a backup of the account table is taken, the
//     user is shredded, the backup is restored: nothing opens it, with
//     the password, the personal key or the server's keys.
//
// The KMS is an in-memory AES-GCM key counting its calls; in production it
// is any tink.AEAD (Tink's AWS, GCP or Vault KMS clients,
// integrations/pkcs11hsm).
//
//	go run ./examples/server-keys
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// kms stands in for a KMS key and counts Decrypt calls.
type kms struct {
	g     cipher.AEAD
	calls atomic.Int64
}

func (k *kms) Encrypt(pt, ad []byte) ([]byte, error) { return k.g.Seal(nil, nil, pt, ad), nil }
func (k *kms) Decrypt(ct, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.g.Open(nil, nil, ct, ad)
}

func newKMS() (*kms, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return nil, err
	}
	return &kms{g: g}, nil
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	k, err := newKMS()
	if err != nil {
		return err
	}

	// --- 1. server-readable attributes -------------------------------------
	may, err := serverkey.GenerateDataKey(ctx, k, "2026-05", nil)
	if err != nil {
		return err
	}
	kr, err := serverkey.New(serverkey.Config{KEK: k, Current: may})
	if err != nil {
		return err
	}
	if err := kr.Warm(ctx); err != nil {
		return err
	}
	table := serverkey.NewMemAttributeStore()
	emailIndex := map[string]string{} // fingerprint -> user id
	users := map[string]string{"user-0001": "jane.sample@example.com", "user-0002": "john.sample@example.org"}
	for uid, email := range users {
		ct, err := kr.Seal(ctx, uid, "email", []byte(email))
		if err != nil {
			return err
		}
		table.Set(uid, "email", ct)
		ph, err := kr.Seal(ctx, uid, "phone", []byte("+12025550100"))
		if err != nil {
			return err
		}
		table.Set(uid, "phone", ph)
		fp, err := kr.Fingerprint(ctx, serverkey.KindEmail, email)
		if err != nil {
			return err
		}
		emailIndex[fp.String()] = uid
	}
	fmt.Printf("sealed %d attributes, %d KMS call(s) so far\n", 2*len(users), k.calls.Load())

	// Rotation: a new current key, the old one still in the queue.
	nov, err := serverkey.GenerateDataKey(ctx, k, "2026-11", nil)
	if err != nil {
		return err
	}
	kr.Close()
	kr, err = serverkey.New(serverkey.Config{KEK: k, Current: nov, Older: []serverkey.WrappedKey{may}})
	if err != nil {
		return err
	}
	defer kr.Close()
	if err := kr.Warm(ctx); err != nil {
		return err
	}
	lookup := func(typed string) (string, error) {
		fps, err := kr.Fingerprints(ctx, serverkey.KindEmail, typed)
		if err != nil {
			return "", err
		}
		for _, fp := range fps {
			if uid, ok := emailIndex[fp.String()]; ok {
				return uid, nil
			}
		}
		return "", errors.New("no account")
	}
	uid, err := lookup("  jane.sample@EXAMPLE.com")
	if err != nil {
		return err
	}
	fmt.Printf("sign-in look-up during rotation (old fingerprint key): %s\n", uid)
	p, err := serverkey.Rotate(ctx, kr, table, serverkey.RotateOptions{
		OnProgress: func(p serverkey.Progress) { fmt.Printf("  rotated %d of %d scanned\n", p.Rotated, p.Scanned) },
	})
	if err != nil {
		return err
	}
	ct := table.Get(uid, "email")
	id, _ := serverkey.KeyIDOf(ct)
	email, err := kr.Open(ctx, uid, "email", ct)
	if err != nil {
		return err
	}
	fmt.Printf("rotation done (%d rotated); %s's e-mail under key %s: %s; KMS calls in all: %d\n", p.Rotated, uid, id, email, k.calls.Load())

	// --- 2. crypto-shredding that reaches backups ---------------------------
	keys := shred.NewMemKeyStore() // production: shred.NewSQLKeyStore on its own database
	layer, err := shred.New(shred.Config{Keys: keys, Keyring: kr})
	if err != nil {
		return err
	}
	accounts := vault.NewMemStore()
	store := layer.Store(accounts)
	v, err := vault.New(vault.Config{})
	if err != nil {
		return err
	}
	password := []byte("correct horse battery staple")
	pk, err := v.EnrollInStore(ctx, store, uid, password)
	if err != nil {
		return err
	}
	u, err := v.UnlockInStore(ctx, store, uid, password)
	if err != nil {
		return err
	}
	rec, err := u.Seal("pii", []byte(`{"name":"Jane Q. Sample","ssn":"900-12-3456"}`))
	u.Close()
	if err != nil {
		return err
	}
	backup, _, err := accounts.Get(ctx, uid) // tonight's backup of the account table
	if err != nil {
		return err
	}
	fmt.Printf("enrolled %s with the shred layer; a %d-byte sealed record; backup taken\n", uid, len(rec))

	if err := store.Shred(ctx, uid); err != nil {
		return err
	}
	restored := vault.NewMemStore()
	if _, err := restored.Put(ctx, uid, backup, 0); err != nil {
		return err
	}
	rs := layer.Store(restored)
	_, err = v.UnlockInStore(ctx, rs, uid, password)
	fmt.Printf("after shred, restored backup + password: wrong secret = %v\n", errors.Is(err, vault.ErrWrongSecret))
	_, err = v.RecoverInStore(ctx, rs, uid, pk, []byte("a new password"))
	fmt.Printf("after shred, restored backup + personal key: shredded = %v\n", errors.Is(err, shred.ErrShredded))
	_, _, err = v.Unlock(ctx, uid, backup, password)
	fmt.Printf("raw backup bytes straight to the vault: refused = %v\n", err != nil)
	return nil
}
