package vault_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// exampleVault returns a Vault with tiny KDF parameters so the examples run
// fast. Real deployments use vault.Config{} (kdf.DefaultPolicy: Argon2id
// 64 MiB, t=3, p=4) or vault.FIPSConfig().
func exampleVault() *vault.Vault {
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	v, err := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}})
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func ExampleVault_Enroll() {
	ctx := context.Background()
	v := exampleVault()
	account, pk, err := v.Enroll(ctx, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	_ = account // store these bytes with the user row
	// Show pk.Reveal() to the user once; it is never stored.
	fmt.Println(len(strings.Split(pk.Reveal(), "-")), "groups of", len(strings.Split(pk.Reveal(), "-")[0]))
	// Output: 8 groups of 4
}

func ExampleVault_Unlock() {
	ctx := context.Background()
	v := exampleVault()
	account, _, err := v.Enroll(ctx, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	u, upgraded, err := v.Unlock(ctx, "user-0001", account, []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	if upgraded != nil {
		account = upgraded // store it: the KDF parameters were below policy
	}
	rec, err := u.SealIdentity("pii", &vault.Identity{GivenName: "Jane", FamilyName: "Sample", SSN: "900123456"})
	if err != nil {
		log.Fatal(err)
	}
	id, err := u.OpenIdentity("pii", rec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.GivenName, id.FamilyName)

	_, _, err = v.Unlock(ctx, "user-0001", account, []byte("wrong password, sorry"))
	fmt.Println(errors.Is(err, vault.ErrWrongSecret))
	// Output:
	// Jane Sample
	// true
}

func ExampleVault_ChangePassword() {
	ctx := context.Background()
	v := exampleVault()
	oldPw, newPw := []byte("correct horse battery staple"), []byte("an even better pass phrase")
	account, _, _ := v.Enroll(ctx, "user-0001", oldPw)
	u, _, _ := v.Unlock(ctx, "user-0001", account, oldPw)
	rec, _ := u.Seal("notes", []byte("sealed before the change"))
	u.Close()

	account, err := v.ChangePassword(ctx, "user-0001", account, oldPw, newPw)
	if err != nil {
		log.Fatal(err)
	}
	u, _, err = v.Unlock(ctx, "user-0001", account, newPw)
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	msg, _ := u.Open("notes", rec)
	fmt.Println(string(msg))
	// Output: sealed before the change
}

func ExampleVault_Recover() {
	ctx := context.Background()
	v := exampleVault()
	account, pk, _ := v.Enroll(ctx, "user-0001", []byte("a password now forgotten"))

	// The user types the personal key back, in any case, with or without dashes.
	typed, err := vault.ParsePersonalKey(strings.ToLower(pk.Reveal()))
	if err != nil {
		log.Fatal(err)
	}
	account, newPK, err := v.Recover(ctx, "user-0001", account, typed, []byte("a brand new pass phrase"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new personal key issued:", !newPK.Equal(pk))
	_, _, err = v.Recover(ctx, "user-0001", account, pk, []byte("another new pass phrase"))
	fmt.Println("old personal key refused:", errors.Is(err, vault.ErrWrongSecret))
	// Output:
	// new personal key issued: true
	// old personal key refused: true
}

func ExampleParsePersonalKey() {
	pk, err := vault.ParsePersonalKey("abcd efgh jkmn pqrs tvwx yz01 oil0 0000")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pk.Reveal())
	// Output: ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-0110-0000
}

func ExampleIdentity_MarshalBinary() {
	id := &vault.Identity{GivenName: "Jane", FamilyName: "Sample", BirthDate: "1980-02-29"}
	enc, err := id.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(enc))
	// Output: {"v":1,"given_name":"Jane","family_name":"Sample","birthdate":"1980-02-29"}
}

func ExampleVault_ChangePasswordInStore() {
	ctx := context.Background()
	v := exampleVault()
	store := vault.NewMemStore()
	if _, err := v.EnrollInStore(ctx, store, "user-0001", []byte("correct horse battery staple")); err != nil {
		log.Fatal(err)
	}
	err := v.ChangePasswordInStore(ctx, store, "user-0001", []byte("correct horse battery staple"), []byte("an even better pass phrase"))
	fmt.Println(err)
	// A second change from the same old password finds it no longer opens.
	err = v.ChangePasswordInStore(ctx, store, "user-0001", []byte("correct horse battery staple"), []byte("yet another pass phrase"))
	fmt.Println(errors.Is(err, vault.ErrWrongSecret))
	// Output:
	// <nil>
	// true
}

// Recovery rotates the account key: records sealed before keep opening
// (and come back resealed for the caller to store), and the highest
// generation seen detects an older account record put back.
func ExampleVault_ResealInStore() {
	ctx := context.Background()
	v := exampleVault()
	accounts, records := vault.NewMemStore(), vault.NewMemRecordStore()
	pk, err := v.EnrollInStore(ctx, accounts, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	u, err := v.UnlockInStore(ctx, accounts, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	sealed, _ := u.Seal("ssn", []byte("900123456"))
	records.PutRecord(ctx, "user-0001", "ssn", sealed, 0)
	oldAccount, _, _ := accounts.Get(ctx, "user-0001")
	u.Close()

	// The password is lost: recover with the personal key. A new personal
	// key replaces the old one, and the account key is rotated.
	newPK, err := v.RecoverInStore(ctx, accounts, "user-0001", pk, []byte("a new pass phrase, long enough"))
	if err != nil && !errors.Is(err, vault.ErrOutcomeUnknown) {
		log.Fatal(err)
	}
	_ = newPK // show newPK.Reveal() to the user once
	u, err = v.UnlockInStore(ctx, accounts, "user-0001", []byte("a new pass phrase, long enough"))
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	seen := u.Generation() // keep it outside the accounts table
	fmt.Println("key generation", u.KeyGeneration(), "account generation", seen)

	// Move the records to the new key (resumable), then drop the old key.
	st, err := v.ResealInStore(ctx, u, records, accounts, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resealed", st.Resealed, "older keys dropped", st.DroppedOlderKeys)

	// Someone puts the old account record back: refused.
	_, _, err = v.UnlockWithOptions(ctx, "user-0001", oldAccount, []byte("correct horse battery staple"), vault.UnlockOptions{MinGeneration: seen})
	fmt.Println(errors.Is(err, vault.ErrRolledBack))
	// Output:
	// key generation 1 account generation 2
	// resealed 1 older keys dropped true
	// true
}
