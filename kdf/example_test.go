package kdf_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"

	"github.com/piivault/piivault/kdf"
)

func ExampleDeriver_Derive() {
	// Production code uses kdf.Config{} (DefaultPolicy: Argon2id 64 MiB,
	// t=3, p=4) and a random salt from kdf.NewSalt. This example uses tiny
	// parameters and a fixed salt so that its output is reproducible.
	pol := kdf.DefaultPolicy()
	pol.New = kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	pol.FloorArgon2id = pol.New // New must not be below its own floor
	d, err := kdf.New(kdf.Config{Policy: pol, MemoryBudget: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	salt := []byte("example salt 16B")

	// Enrollment: store pol.New.String() and the salt with the account.
	secret, err := d.Derive(context.Background(), []byte("Jane Q. Sample's passphrase"), salt, pol.New)
	if err != nil {
		log.Fatal(err)
	}
	defer secret.Destroy()
	kek := secret.KEK()           // wraps the account key
	verifier := secret.Verifier() // may be stored to check the password
	fmt.Println(pol.New)
	fmt.Println("kek:     ", hex.EncodeToString(kek))
	fmt.Println("verifier:", hex.EncodeToString(verifier))
	fmt.Println("upgrade: ", d.Policy().NeedsUpgrade(pol.New))
	clear(kek)
	// Output:
	// $argon2id$v=19$m=64,t=1,p=1
	// kek:      173b41247633c15bfa837475d0c7fef6fe546c628d8ae8389b1e42738e1e623d
	// verifier: 6de7e6c023555fd9157e1ec019abe7940f278a27ee19abd5ad8ebd5340f8336e
	// upgrade:  false
}

func ExampleParseParams() {
	p, err := kdf.ParseParams("$argon2id$v=19$m=65536,t=3,p=4")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Algorithm, p.MemoryKiB, p.Passes, p.Threads, p.MemoryBytes())
	bin, _ := p.AppendBinary(nil)
	fmt.Printf("%x\n", bin)

	// Non-canonical spellings are refused.
	for _, s := range []string{
		"$argon2id$v=19$m=065536,t=3,p=4",            // leading zero
		"$argon2id$v=19$t=3,m=65536,p=4",             // keys out of order
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ", // trailing salt
	} {
		_, err := kdf.ParseParams(s)
		fmt.Println(err)
	}
	// Output:
	// argon2id 65536 3 4 67108864
	// 0113000100000000000304
	// kdf: malformed parameters: number with a leading zero
	// kdf: malformed parameters: unknown or out-of-order key
	// kdf: malformed parameters: trailing bytes
}

func ExamplePolicy_NeedsUpgrade() {
	pol := kdf.DefaultPolicy()
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=3,p=4", // the default for new accounts
		"$argon2id$v=19$m=19456,t=2,p=1", // at the OWASP floor
		"$argon2id$v=19$m=12288,t=3,p=1", // below the floor
		"$scrypt$ln=16,r=8,p=1",          // Login.gov today
		"$pbkdf2-sha256$i=600000",        // another algorithm than New
	} {
		p, _ := kdf.ParseParams(s)
		fmt.Printf("%-32s check=%v upgrade=%v\n", s, pol.Check(p), pol.NeedsUpgrade(p))
	}
	// Output:
	// $argon2id$v=19$m=65536,t=3,p=4   check=<nil> upgrade=false
	// $argon2id$v=19$m=19456,t=2,p=1   check=<nil> upgrade=false
	// $argon2id$v=19$m=12288,t=3,p=1   check=<nil> upgrade=true
	// $scrypt$ln=16,r=8,p=1            check=<nil> upgrade=true
	// $pbkdf2-sha256$i=600000          check=<nil> upgrade=true
}

func ExampleCalibrate() {
	// Run once on production hardware; store the result in the Policy.
	p, rep, err := kdf.Calibrate(context.Background(), 250e6 /* 250 ms */, 64*1024, 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p, rep.Measured, rep.PerPass, rep.Clamped)
}

func ExampleLimiter() {
	// A Deriver has its own Limiter; vault code reports its figures.
	d, err := kdf.New(kdf.Config{MemoryBudget: 256 << 20})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.MemoryBudget()>>20, "MiB budget,", d.MemoryInUse(), "in use,", d.PeakMemory(), "peak")
	// Output:
	// 256 MiB budget, 0 in use, 0 peak
}
