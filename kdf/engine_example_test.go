package kdf_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/piivault/piivault/kdf"
)

// The Argon2id engine keeps each derivation's block matrix (an arena) for
// the next one, zeroed. ReleaseMemory gives idle arenas back at once, for
// example after a burst of logins; ArenaIdleTimeout does it by itself.
func ExampleDeriver_ReleaseMemory() {
	pol := kdf.DefaultPolicy()
	pol.New = kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 1024, Passes: 1, Threads: 1}
	pol.FloorArgon2id = pol.New
	d, err := kdf.New(kdf.Config{Policy: pol, MemoryBudget: 64 << 20, ArenaIdleTimeout: 5 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	salt := []byte("0123456789abcdef") // use kdf.NewSalt in real code
	for range 3 {
		s, err := d.Derive(context.Background(), []byte("correct horse battery staple"), salt, pol.New)
		if err != nil {
			log.Fatal(err)
		}
		s.Destroy()
	}
	fmt.Println("derivations:", d.Derivations())
	fmt.Println("retained after three logins:", d.RetainedMemory()>>10, "KiB")
	d.ReleaseMemory()
	fmt.Println("retained after ReleaseMemory:", d.RetainedMemory())
	// Output:
	// derivations: 3
	// retained after three logins: 1024 KiB
	// retained after ReleaseMemory: 0
}
