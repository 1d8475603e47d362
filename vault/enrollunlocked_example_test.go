package vault_test

import (
	"context"
	"fmt"
	"log"

	"github.com/piivault/piivault/vault"
)

// A migration or a sign-up that stores records at once enrolls and seals
// with one KDF run: no Unlock after Enroll.
func ExampleVault_EnrollUnlocked() {
	ctx := context.Background()
	v := exampleVault()
	account, u, pk, err := v.EnrollUnlocked(ctx, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	// Store account first, then the records; show pk.Reveal() to the user once.
	_ = pk
	rec, err := u.SealIdentity("pii", &vault.Identity{GivenName: "Jane", FamilyName: "Sample"})
	if err != nil {
		log.Fatal(err)
	}
	// Later: the password opens the account and the record.
	later, _, err := v.Unlock(ctx, "user-0001", account, []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	defer later.Close()
	id, err := later.OpenIdentity("pii", rec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.GivenName, u.Generation() == later.Generation())
	// Output: Jane true
}

func ExampleVault_EnrollUnlockedInStore() {
	ctx := context.Background()
	v := exampleVault()
	accounts := vault.NewMemStore()
	u, pk, err := v.EnrollUnlockedInStore(ctx, accounts, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		// With vault.ErrOutcomeUnknown, pk is returned: show it to the user
		// (it may be the only key that opens the stored account).
		log.Fatal(err)
	}
	defer u.Close()
	_ = pk // show pk.Reveal() to the user once
	rec, err := u.Seal("notes", []byte("synthetic"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(rec) > 0)
	// Output: true
}
