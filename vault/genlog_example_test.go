package vault_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// Someone with write access to the accounts table puts back an old account
// record, whose personal key they hold, and recovers the account with it
// through the front end. With a GenerationLog kept outside the accounts
// table, the recovery is refused and nothing is written.
func ExampleGenerationLog() {
	ctx := context.Background()
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	generations := vault.NewMemGenerationLog() // in production: a table the accounts table's writers cannot reach
	v, err := vault.New(vault.Config{
		Policy:      kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()},
		Generations: generations,
	})
	if err != nil {
		log.Fatal(err)
	}
	accounts := vault.NewMemStore()
	oldPK, err := v.EnrollInStore(ctx, accounts, "user-0001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	backup, _, _ := accounts.Get(ctx, "user-0001") // generation 1, opened by oldPK

	// The user recovers the account: generation 2, a new personal key.
	if _, err := v.RecoverInStore(ctx, accounts, "user-0001", oldPK, []byte("a new pass phrase, long enough")); err != nil {
		log.Fatal(err)
	}
	floor, _ := generations.Floor(ctx, "user-0001")
	fmt.Println("floor after recovery:", floor)

	// The attacker puts the backup back and recovers with the old key.
	_, ver, _ := accounts.Get(ctx, "user-0001")
	_, _ = accounts.Put(ctx, "user-0001", backup, ver)
	_, err = v.RecoverInStore(ctx, accounts, "user-0001", oldPK, []byte("the attacker's pass phrase"))
	fmt.Println("rolled back:", errors.Is(err, vault.ErrRolledBack))
	// Output:
	// floor after recovery: 2
	// rolled back: true
}
