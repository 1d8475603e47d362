// Command quickstart walks one synthetic user through the whole account
// lifecycle with the default policy (Argon2id m=64 MiB, t=3, p=4): enroll,
// seal an identity, unlock, change the password, recover with the personal
// key, and shows that a tampered and a swapped record are refused. It
// prints each step's time. No server, no configuration: a few seconds.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/piivault/piivault/vault"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// A synthetic person: SSNs starting with 9 are never issued.
var jane = &vault.Identity{
	GivenName: "Jane", MiddleName: "Q.", FamilyName: "Sample",
	BirthDate: "1980-02-29", SSN: "900123456", Phone: "+12025550143",
	Address:  vault.Address{Line1: "1600 Example Ave NW", City: "Testville", State: "DC", ZIPCode: "20500"},
	Document: vault.IDDocument{Type: "drivers_license", Number: "D1234567", Issuer: "DC", Expiration: "2031-07-04"},
}

func run() error {
	ctx := context.Background()
	// Embedded defaults, escrow off, and a generation log: the highest
	// account generation seen per user, kept where the accounts table's
	// writers cannot reach (here in memory; in production another
	// database or a signed log), so an old account row put back is
	// refused (step 10).
	genlog := vault.NewMemGenerationLog()
	v, err := vault.New(vault.Config{Generations: genlog})
	if err != nil {
		return err
	}
	p := v.Policy().New
	fmt.Printf("piivault quickstart: Argon2id m=%d MiB t=%d p=%d, escrow off, generation log on\n\n", p.MemoryKiB/1024, p.Passes, p.Threads)

	store := vault.NewMemStore()   // account records, by user id
	records := map[string][]byte{} // sealed records, by "user/label"
	const janeID = "5f0c9a4e-jane" // opaque user ids, never PII
	const johnID = "9b1d7e33-john"
	pw1 := []byte("correct horse battery staple")
	pw2 := []byte("an even better pass phrase")
	pw3 := []byte("the pass phrase after recovery")
	total := time.Now()

	var pk vault.PersonalKey
	step("1. enroll Jane (one KDF run)", func(note func(string, ...any)) error {
		pk, err = v.EnrollInStore(ctx, store, janeID, pw1)
		note("personal key, shown once: %s", pk)
		return err
	})

	step("2. unlock, seal identity + SSN", func(note func(string, ...any)) error {
		u, err := v.UnlockInStore(ctx, store, janeID, pw1)
		if err != nil {
			return err
		}
		defer u.Close()
		if records[janeID+"/pii"], err = u.SealIdentity("pii", jane); err != nil {
			return err
		}
		records[janeID+"/ssn"], err = u.Seal("ssn", []byte(jane.SSN))
		return err
	})

	step("3. unlock, open identity", func(note func(string, ...any)) error {
		u, err := v.UnlockInStore(ctx, store, janeID, pw1)
		if err != nil {
			return err
		}
		defer u.Close()
		id, err := u.OpenIdentity("pii", records[janeID+"/pii"])
		if err != nil {
			return err
		}
		note("opened: %s %s, born %s", id.GivenName, id.FamilyName, id.BirthDate)
		return nil
	})

	step("4. change password (rewrap only)", func(note func(string, ...any)) error {
		return v.ChangePasswordInStore(ctx, store, janeID, pw1, pw2)
	})

	step("5. old password refused", func(note func(string, ...any)) error {
		_, err := v.UnlockInStore(ctx, store, janeID, pw1)
		return expect(err, vault.ErrWrongSecret)
	})

	// A copy of Jane's account row as a backup holds it before recovery.
	backup, _, err := store.Get(ctx, janeID)
	if err != nil {
		return err
	}

	var pk2 vault.PersonalKey
	step("6. recover with the personal key", func(note func(string, ...any)) error {
		typed, err := vault.ParsePersonalKey(pk.Reveal()) // as the user types it back
		if err != nil {
			return err
		}
		pk2, err = v.RecoverInStore(ctx, store, janeID, typed, pw3)
		note("new personal key: %s", pk2)
		return err
	})

	step("7. old personal key refused", func(note func(string, ...any)) error {
		_, err := v.RecoverInStore(ctx, store, janeID, pk, pw1)
		return expect(err, vault.ErrWrongSecret)
	})

	// Another user, to have a record to swap in.
	step("8. enroll John, seal his SSN", func(note func(string, ...any)) error {
		if _, err := v.EnrollInStore(ctx, store, johnID, pw1); err != nil {
			return err
		}
		u, err := v.UnlockInStore(ctx, store, johnID, pw1)
		if err != nil {
			return err
		}
		defer u.Close()
		records[johnID+"/ssn"], err = u.Seal("ssn", []byte("900654321"))
		return err
	})

	step("9. records still open; tampered and swapped ones refused", func(note func(string, ...any)) error {
		u, err := v.UnlockInStore(ctx, store, janeID, pw3)
		if err != nil {
			return err
		}
		defer u.Close()
		if _, err := u.OpenIdentity("pii", records[janeID+"/pii"]); err != nil {
			return fmt.Errorf("record sealed before the password change and the recovery: %w", err)
		}
		tampered := append([]byte(nil), records[janeID+"/ssn"]...)
		tampered[len(tampered)-1] ^= 1
		if _, err := u.Open("ssn", tampered); err == nil {
			return errors.New("tampered record opened")
		}
		note("tampered record: refused")
		if _, err := u.Open("ssn", records[johnID+"/ssn"]); err == nil {
			return errors.New("another user's record opened")
		}
		note("John's SSN record in Jane's slot: refused")
		if _, err := u.Open("pii", records[janeID+"/ssn"]); err == nil {
			return errors.New("record opened under another label")
		}
		note("Jane's ssn record in her pii slot: refused")
		return nil
	})

	step("10. old account row put back: refused with the old secrets", func(note func(string, ...any)) error {
		_, ver, err := store.Get(ctx, janeID)
		if err != nil {
			return err
		}
		if _, err := store.Put(ctx, janeID, backup, ver); err != nil { // a restored backup
			return err
		}
		// Without the log, the revoked personal key would open the old row
		// and take the account over.
		if _, err := v.RecoverInStore(ctx, store, janeID, pk, []byte("an attacker's password")); !errors.Is(err, vault.ErrRolledBack) {
			return fmt.Errorf("recovery on the old row: got %v, want vault.ErrRolledBack", err)
		}
		floor, _ := genlog.Floor(ctx, janeID)
		gen, _ := vault.AccountGeneration(backup)
		note("old row of generation %d, log has seen %d: vault.ErrRolledBack", gen, floor)
		return nil
	})

	fmt.Printf("\n%-58s %9.3f ms\n", "total", float64(time.Since(total).Microseconds())/1000)
	return nil
}

// step runs f, prints its name and time, then the notes f made, and
// exits on error.
func step(name string, f func(note func(format string, args ...any)) error) {
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	start := time.Now()
	err := f(note)
	ms := float64(time.Since(start).Microseconds()) / 1000
	fmt.Printf("%-58s %9.3f ms\n", name, ms)
	for _, n := range notes {
		fmt.Println("   " + n)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// expect turns "failed with target" into success.
func expect(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return fmt.Errorf("got %v, want %v", err, target)
}
