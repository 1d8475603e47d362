package logingov_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/legacy/logingov"
	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

// Migrate a Login.gov user on sign-in: open the password copy, enroll in
// piivault under the same password, store what comes back. (Not run as a
// test: scrypt is refused under GODEBUG=fips140=only, where CI also runs
// the examples; TestMigrateWithPasswordCostsOneScryptOneKMSCallOneEnrollment
// checks the same steps.) It prints:
//
//	opened: encrypted_pii_multi_region KMSc 800$8$1$
//	mapped: [dob first_name last_name ssn]
//	records: 1
//	Jane Sample 1980-02-29
//	true
func Example() {
	ctx := context.Background()
	// In production: integrations/awskms.New(kmsClient). Here an
	// in-memory stand-in, and a profile written by the test generator.
	kms := logingovtest.NewMemKMS([]byte("example"))
	uuid := "0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91"
	pii := logingovtest.PIIJSON(logingovtest.Members, map[string]any{
		"first_name": "Jane", "last_name": "Sample", "dob": "1980-02-29", "ssn": "900123456", "otp": nil,
	})
	stored, _ := logingovtest.Seal(ctx, uuid, []byte("correct horse"), pii, logingovtest.Options{KMS: kms, Cost: "800$8$1$"})

	r, _ := logingov.NewReader(logingov.Config{KMS: kms})
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1} // tiny, for the example
	v, _ := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}})
	m, _ := logingov.NewMigrator(v, r)

	mig, err := m.MigrateWithPassword(ctx, "user-42", logingov.Columns{UUID: uuid, EncryptedPII: stored}, []byte("correct horse"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("opened:", mig.Column, mig.Source.Layer, mig.Source.Cost)
	fmt.Println("mapped:", mig.Mapped)
	fmt.Println("records:", len(mig.Records))

	u, _, _ := v.Unlock(ctx, "user-42", mig.Account, []byte("correct horse"))
	defer u.Close()
	id, _ := u.OpenIdentity(logingov.LabelIdentity, mig.Records[logingov.LabelIdentity])
	fmt.Println(id.GivenName, id.FamilyName, id.BirthDate)

	// A wrong password opens nothing and enrolls nothing.
	_, err = m.MigrateWithPassword(ctx, "user-42", logingov.Columns{UUID: uuid, EncryptedPII: stored}, []byte("wrong"))
	fmt.Println(errors.Is(err, logingov.ErrAuth))
}

// Inspect tells a value's format and cost without any key.
func ExampleInspect() {
	_, err := logingov.Inspect([]byte(`{"encrypted_data":"S01UY1siQUFBQSJd","salt":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `","cost":"4000000000000000$8$1$"}`))
	fmt.Println(errors.Is(err, logingov.ErrParams))
	_, err = logingov.Inspect([]byte{0x85, 0xa1, 't'})
	fmt.Println(errors.Is(err, logingov.ErrUnsupported))
	// Output:
	// true
	// true
}

// NormalizePersonalKey gives the bytes Login.gov used as the scrypt secret.
func ExampleNormalizePersonalKey() {
	k, _ := logingov.NormalizePersonalKey("abcd-efgh-jkmn-pqr5")
	fmt.Printf("%q\n", k)
	k, _ = logingov.NormalizePersonalKey("oiL1 2345 6789 ABCD")
	fmt.Printf("%q\n", k)
	// Output:
	// "ABCD EFGH JKMN PQR5"
	// "0111 2345 6789 ABCD"
}
