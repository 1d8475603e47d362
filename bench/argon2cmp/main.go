// Command argon2cmp times Argon2id through piivault's public kdf API
// (kdf.New + Deriver.Derive) at the given parameters and prints
// milliseconds for each round. bench/compare-argon2.sh runs it interleaved
// with libsodium's crypto_pwhash.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/piivault/piivault/kdf"
)

func main() {
	mem := flag.Uint("m", 65536, "memory in KiB")
	passes := flag.Uint("t", 3, "passes")
	lanes := flag.Uint("p", 1, "lanes")
	rounds := flag.Int("rounds", 1, "rounds")
	flag.Parse()

	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: uint32(*mem), Passes: uint32(*passes), Threads: uint8(*lanes)}
	pol := kdf.DefaultPolicy()
	pol.New = p
	pol.FloorArgon2id = kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 8, Passes: 1, Threads: 1}
	d, err := kdf.New(kdf.Config{Policy: pol})
	if err != nil {
		log.Fatal(err)
	}
	salt := make([]byte, kdf.SaltSize)
	for range *rounds {
		start := time.Now()
		s, err := d.Derive(context.Background(), []byte("correct horse battery staple"), salt, p)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%.3f\n", float64(time.Since(start).Microseconds())/1e3)
		s.Destroy()
	}
}
