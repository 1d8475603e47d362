// Command address-letter walks through address verification by mail: a
// service issues an enrollment code, prints it in a letter (English and
// French), and later checks what the user types. The code is valid 30 days;
// it is accepted on day 29, refused on day 31, and a second code is locked
// after too many wrong tries (5 per 10 minutes).
//
// Run: go run ./examples/address-letter
//
// The randomness is fixed so the output is the same on every run; a real
// service leaves Config.Rand nil (crypto/rand) and loads the HMAC key from
// its secret store.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/piivault/piivault/vault/lettercode"
)

func main() {
	keys, err := lettercode.NewKeyring(lettercode.Key{ID: "letters-2026", Secret: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	issuer, err := lettercode.New(lettercode.Config{
		Keys: keys,
		Rand: bytes.NewReader([]byte("\x07\x1b\x02\x0c\x13\x1e\x05\x10\x09\x16" + "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a")),
	})
	if err != nil {
		log.Fatal(err)
	}
	const account = "account-7f3a" // the service's id for the user (synthetic)
	mailed := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

	code, rec, err := issuer.Issue(account, mailed)
	if err != nil {
		log.Fatal(err)
	}
	stored, _ := rec.MarshalBinary() // the service stores this, never the code
	fmt.Printf("stored record: %d bytes, key %q, the code itself is not in it\n\n", len(stored), rec.KeyID)
	printLetter(code, rec.ExpiresAt)

	// Attempts are counted in the issuer's AttemptStore (in memory here;
	// shared by every instance in production).
	ctx := context.Background()
	try := func(label string, at time.Time, typed string) {
		r, err := lettercode.ParseRecord(stored)
		if err != nil {
			log.Fatal(err)
		}
		err = issuer.Verify(ctx, account, r, typed, at)
		outcome := "accepted"
		switch {
		case errors.Is(err, lettercode.ErrExpired):
			outcome = "refused: expired, request a new letter"
		case errors.Is(err, lettercode.ErrTooManyAttempts):
			outcome = "refused: too many attempts, wait 10 minutes"
		case errors.Is(err, lettercode.ErrMismatch):
			outcome = "refused: wrong code"
		case err != nil:
			outcome = "refused: " + err.Error()
		}
		fmt.Printf("%-34s typed %-13q -> %s\n", label, typed, outcome)
	}

	fmt.Println("--- first letter ---")
	try("day 29", mailed.Add(29*24*time.Hour), strings.ToLower(code)) // case does not matter
	try("day 31", mailed.Add(31*24*time.Hour), code)

	fmt.Println("--- second letter, someone guessing ---")
	code2, rec2, _ := issuer.Issue(account, mailed)
	stored = mustMarshal(rec2)
	at := mailed.Add(3 * 24 * time.Hour)
	for i := range 5 {
		try(fmt.Sprintf("day 3, guess %d", i+1), at.Add(time.Duration(i)*time.Minute), fmt.Sprintf("00000-0000%d", i))
	}
	try("day 3, the right code, +6 min", at.Add(6*time.Minute), code2)
	try("day 3, the right code, +10 min", at.Add(10*time.Minute), code2)
}

func mustMarshal(r lettercode.Record) []byte {
	b, err := r.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	return b
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// frenchDay writes the day of the month as French dates do: "1er", "2", ...
func frenchDay(d int) string {
	if d == 1 {
		return "1er"
	}
	return fmt.Sprint(d)
}

func printLetter(code string, expires time.Time) {
	// The last day on which the code still works (expiry is exclusive).
	last := expires.Add(-time.Nanosecond)
	fmt.Printf(`--- letter (English) ---
Confirm your address

Someone asked to verify this address for an account. Your enrollment code is:

    %s

Enter it when you sign in to your account. It is valid for 30 days,
until %s UTC. If you did not ask for this letter, you can
ignore it.

--- lettre (français) ---
Confirmez votre adresse

Une vérification de cette adresse a été demandée pour un compte. Votre code
d'inscription est :

    %s

Saisissez-le lors de votre connexion à votre compte. Il est valable
30 jours, jusqu'au %s %s %d à %s UTC. Si vous n'avez pas demandé
cette lettre, vous pouvez l'ignorer.

`, code, last.Format("January 2, 2006 at 15:04"), code,
		frenchDay(last.Day()), frenchMonths[last.Month()-1], last.Year(), last.Format("15 h 04"))
}
