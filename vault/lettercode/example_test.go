package lettercode_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/piivault/piivault/vault/lettercode"
)

func Example() {
	// In production the secret comes from a secret store and Rand is nil.
	secret := bytes.Repeat([]byte{0x42}, 32)
	keys, _ := lettercode.NewKeyring(lettercode.Key{ID: "2026-01", Secret: secret})
	issuer, _ := lettercode.New(lettercode.Config{
		Keys: keys,
		Rand: bytes.NewReader([]byte{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}),
	})
	issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	code, rec, _ := issuer.Issue("account-7f3a", issued)
	stored, _ := rec.MarshalBinary() // store this; print code in the letter
	fmt.Println("letter code:", code)

	// Attempts are counted in a store shared by every instance of the
	// service (here the default, in process memory).
	ctx := context.Background()
	rec, _ = lettercode.ParseRecord(stored)
	err := issuer.Verify(ctx, "account-7f3a", rec, "abcde fghjk", issued.Add(29*24*time.Hour))
	fmt.Println("day 29:", err)
	err = issuer.Verify(ctx, "account-7f3a", rec, code, issued.Add(31*24*time.Hour))
	fmt.Println("day 31:", err)
	// Output:
	// letter code: ABCDE-FGHJK
	// day 29: <nil>
	// day 31: lettercode: code expired
}
