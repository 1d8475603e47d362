package vault_test

import (
	"context"
	"fmt"
	"log"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// An operator reseals a user's records after an account-key rotation
// without the user's password: the escrow key opens the account (audited
// with actor and reason, nothing changed), ResealInStore does the rest.
func ExampleVault_UnlockWithEscrow() {
	ctx := context.Background()
	priv, err := escrow.GenerateKey(escrow.SuiteP256) // in production: an HSM or KMS
	if err != nil {
		log.Fatal(err)
	}
	fp, _ := escrow.FingerprintOf(priv.PublicKey())
	recipient, _ := escrow.NewRecipient(priv.PublicKey(), fp, "account-recovery")
	identity, _ := escrow.NewIdentity(priv, "account-recovery")
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	v, err := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}, Escrow: recipient})
	if err != nil {
		log.Fatal(err)
	}
	accounts, records := vault.NewMemStore(), vault.NewMemRecordStore()
	pw := []byte("correct horse battery staple")
	u, _, err := v.EnrollUnlockedInStore(ctx, accounts, "user-0001", pw)
	if err != nil {
		log.Fatal(err)
	}
	sealed, _ := u.Seal("ssn", []byte("078-05-1120"))
	_, _ = records.PutRecord(ctx, "user-0001", "ssn", sealed, 0)
	u.Close()
	account, ver, _ := accounts.Get(ctx, "user-0001")
	rotated, _, ru, err := v.RotateAccountKey(ctx, "user-0001", account, pw)
	if err != nil {
		log.Fatal(err)
	}
	ru.Close()
	_, _ = accounts.Put(ctx, "user-0001", rotated, ver)

	// The operator's job: no password.
	account, _, _ = accounts.Get(ctx, "user-0001")
	eu, err := v.UnlockWithEscrow(ctx, "user-0001", account, identity, "ops-bot", "CHG-2026-118")
	if err != nil {
		log.Fatal(err)
	}
	defer eu.Close()
	st, err := v.ResealInStore(ctx, eu, records, accounts, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resealed:", st.Resealed, "older keys dropped:", st.DroppedOlderKeys)
	// Output: resealed: 1 older keys dropped: true
}
