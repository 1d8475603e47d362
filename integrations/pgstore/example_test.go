package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/vault"
)

// Example opens the store, applies the schema, enrolls a user through the
// vault's Store helpers and lists shard 0 of 4 a page at a time (the way a
// bulk job on one of four machines walks the table). It needs a server
// (PIIVAULT_DSN), so it is compiled, not run.
func Example() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv("PIIVAULT_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	v, err := vault.New(vault.Config{})
	if err != nil {
		log.Fatal(err)
	}
	pk, err := v.EnrollInStore(ctx, s, "00000000-0000-4000-8000-000000000001", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	pk.Destroy() // shown to the user in a real enrollment
	shard, _ := pgstore.ParseShard("0/4")
	for after := ""; ; {
		ids, err := s.UserIDs(ctx, shard, after, 500)
		if err != nil {
			log.Fatal(err)
		}
		for _, id := range ids {
			fmt.Println(id) // e.g. escrow.RotateAll(ctx, s, ids, ...) per page
		}
		if len(ids) < 500 {
			break
		}
		after = ids[len(ids)-1]
	}
}
