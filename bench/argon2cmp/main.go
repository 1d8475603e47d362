// Command argon2cmp times Argon2id through piivault's public kdf API
// (kdf.New + Deriver.Derive, the engine with reused arenas) and through
// golang.org/x/crypto/argon2.IDKey at the given parameters, and prints one
// line per timed derivation: the implementation and milliseconds.
//
// With -impl both the two alternate (piivault, xcrypto, xcrypto,
// piivault, ...) so that they see the same machine noise. With -warm each
// implementation first runs one untimed derivation in the process, as a
// server that has already served a login would (the engine's arena is
// then mapped and faulted in); without it every timed round of a fresh
// process is cold. bench/compare-argon2.sh runs it beside libsodium.
//
// Built with -tags purego, the compression function G is pure Go in both
// piivault and x/crypto; otherwise piivault runs the fastest assembly the
// CPU has (AVX-512, AVX2) and x/crypto its SSE4.1 assembly.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/piivault/piivault/kdf"
	"golang.org/x/crypto/argon2"
)

func main() {
	mem := flag.Uint("m", 65536, "memory in KiB")
	passes := flag.Uint("t", 3, "passes")
	lanes := flag.Uint("p", 1, "lanes")
	rounds := flag.Int("rounds", 1, "timed rounds (per implementation)")
	impl := flag.String("impl", "piivault", "piivault, xcrypto or both (alternating)")
	warm := flag.Bool("warm", false, "run one untimed derivation per implementation first")
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
	pw := []byte("correct horse battery staple")
	run := map[string]func(){
		"piivault": func() {
			s, err := d.Derive(context.Background(), pw, salt, p)
			if err != nil {
				log.Fatal(err)
			}
			s.Destroy()
		},
		"xcrypto": func() {
			clear(argon2.IDKey(pw, salt, p.Passes, p.MemoryKiB, p.Threads, 32))
		},
	}
	var order []string
	switch *impl {
	case "piivault", "xcrypto":
		order = []string{*impl}
	case "both":
		order = []string{"piivault", "xcrypto"}
	default:
		log.Fatalf("unknown -impl %q", *impl)
	}
	if *warm {
		for _, name := range order {
			run[name]()
		}
	}
	for r := range *rounds {
		for i := range order {
			name := order[i]
			if r%2 == 1 {
				name = order[len(order)-1-i]
			}
			start := time.Now()
			run[name]()
			fmt.Printf("%s %.3f\n", name, float64(time.Since(start).Microseconds())/1e3)
		}
	}
}
