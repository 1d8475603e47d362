// Command logingov-migration shows Login.gov users moving into piivault on
// their next sign-in, without proving their identity again: Jane signs in
// with her password; John forgot his and uses his Login.gov personal key;
// a profile whose personal-key copy holds no PII, and a 2017 value, are
// refused with clear errors. It prints each step in order.
//
// The profiles are synthetic and written by legacy/logingov/logingovtest;
// KMS is an in-memory stand-in (in production: integrations/awskms over
// AWS KMS). Jane's copy uses Login.gov's production scrypt cost
// (10000$8$1$, N = 2^16, 64 MiB); the vault uses its default Argon2id
// policy.
//
//	go run ./examples/logingov-migration
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/piivault/piivault/legacy/logingov"
	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// kms counts the Decrypt calls it serves.
type kms struct {
	*logingovtest.MemKMS
	calls int
}

func (k *kms) Decrypt(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error) {
	k.calls++
	return k.MemKMS.Decrypt(ctx, blob, ec)
}

func run() error {
	ctx := context.Background()
	k := &kms{MemKMS: logingovtest.NewMemKMS([]byte("example deployment"))}

	// --- What the Login.gov database holds (synthetic) ---------------
	janeUUID := "0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91"
	janePK, janePKNorm, _ := logingovtest.PersonalKey(nil)
	janePII := logingovtest.PIIJSON(logingovtest.Members, map[string]any{
		"first_name": "Jane", "middle_name": "Q", "last_name": "Sample",
		"address1": "123 Example St", "city": "Springfield", "state": "VA", "zipcode": "22150",
		"identity_doc_address1": "99 Former Rd", "identity_doc_city": "Fairfax", "identity_doc_zipcode": "22030",
		"identity_doc_address_state": "VA", "state_id_jurisdiction": "VA", "issuing_country_code": "US",
		"ssn": "900123456", "dob": "1980-02-29", "phone": "+1 202-555-0143",
	})
	prod := logingovtest.Options{KMS: k, Cost: "10000$8$1$"}
	jane := logingov.Columns{UUID: janeUUID}
	var err error
	if jane.EncryptedPII, err = logingovtest.Seal(ctx, janeUUID, []byte("correct horse battery staple"), janePII, prod); err != nil {
		return err
	}
	if jane.EncryptedPIIRecovery, err = logingovtest.Seal(ctx, janeUUID, []byte(janePKNorm), janePII, prod); err != nil {
		return err
	}
	johnUUID := "f3a1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	johnPK, johnPKNorm, _ := logingovtest.PersonalKey(nil)
	johnPII := logingovtest.PIIJSON([]string{"first_name", "middle_name", "last_name", "address1", "address2", "city", "state", "zipcode", "ssn", "dob", "phone"},
		map[string]any{"first_name": "John", "last_name": "Sample", "address1": "1 Test Ave", "city": "Testville", "state": "MD", "zipcode": "20910", "ssn": "900-12-3457", "dob": "07/04/1976"})
	test := logingovtest.Options{KMS: k, Cost: "800$8$1$"}
	john := logingov.Columns{UUID: johnUUID}
	if john.EncryptedPII, err = logingovtest.Seal(ctx, johnUUID, []byte("a password John forgot"), johnPII, test); err != nil {
		return err
	}
	if john.EncryptedPIIRecovery, err = logingovtest.Seal(ctx, johnUUID, []byte(johnPKNorm), johnPII, test); err != nil {
		return err
	}
	_ = janePK

	// --- The service adopting piivault ------------------------------
	r, err := logingov.NewReader(logingov.Config{KMS: k})
	if err != nil {
		return err
	}
	v, err := vault.New(vault.Config{}) // Argon2id at kdf.DefaultPolicy
	if err != nil {
		return err
	}
	m, err := logingov.NewMigrator(v, r)
	if err != nil {
		return err
	}

	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Printf("%2d. "+format+"\n", append([]any{step}, args...)...)
	}

	info, err := logingov.Inspect(jane.EncryptedPII)
	if err != nil {
		return err
	}
	say("Jane has a verified Login.gov profile: password copy %s, %d KMS chunk, scrypt cost %s (N=%d r=%d p=%d), plus a personal-key copy", info.Layer, info.Chunks, info.Cost, info.Cost.N, info.Cost.R, info.Cost.P)

	say("Jane signs in with her password; the service migrates her")
	t0, calls := time.Now(), k.calls
	mig, err := m.MigrateWithPassword(ctx, "user-jane", jane, []byte("correct horse battery staple"))
	if err != nil {
		return err
	}
	say("opened %s (%d KMS call, 1 scrypt run), enrolled a piivault account (Argon2id %s) and sealed %d records, in %v",
		mig.Column, k.calls-calls, v.Policy().New, len(mig.Records), time.Since(t0).Round(time.Millisecond))
	say("attributes in the piivault identity: %v", mig.Mapped)
	say("attributes kept in the %q record: %v", logingov.LabelExtras, mig.Extras)
	say("the service stores the account (%d bytes) and the records, then deletes Jane's Login.gov PII columns", len(mig.Account))
	say("Jane is shown her NEW personal key %s; her old Login.gov personal key no longer opens anything", mig.PersonalKey)

	t0 = time.Now()
	u, _, err := v.Unlock(ctx, "user-jane", mig.Account, []byte("correct horse battery staple"))
	if err != nil {
		return err
	}
	id, err := u.OpenIdentity(logingov.LabelIdentity, mig.Records[logingov.LabelIdentity])
	u.Close()
	if err != nil {
		return err
	}
	say("next sign-in: piivault unlocks with the same password (%v, no KMS call): %s %s, born %s, ZIP %s",
		time.Since(t0).Round(time.Millisecond), id.GivenName, id.FamilyName, id.BirthDate, id.Address.ZIPCode)

	say("John forgot his password; he signs in with his Login.gov personal key, typed %q, and picks a new password", lower(johnPK))
	calls = k.calls
	mig, err = m.MigrateWithPersonalKey(ctx, "user-john", john, lower(johnPK), []byte("John's new passphrase"))
	if err != nil {
		return err
	}
	say("opened %s (%d KMS call, 1 scrypt run); 1976 birth date and dashed SSN reformatted: %v; new personal key %s",
		mig.Column, k.calls-calls, mig.Mapped, mig.PersonalKey)

	// A profile whose personal-key copy was written during the 2021 bug.
	broken := logingov.Columns{UUID: johnUUID}
	if broken.EncryptedPIIRecovery, err = logingovtest.Seal(ctx, johnUUID, []byte(johnPKNorm), []byte("null"), test); err != nil {
		return err
	}
	_, err = m.MigrateWithPersonalKey(ctx, "user-john", broken, johnPK, []byte("pw"))
	say("a personal-key copy holding null: %v (no PII: sign in with the password, or verify again); no account enrolled: %t",
		err, errors.Is(err, logingov.ErrNoPII))

	old := logingov.Columns{UUID: johnUUID, EncryptedPII: []byte("bWFza2VkLWtleS1ieXRlcw==.cGF5bG9hZA==")}
	_, err = m.MigrateWithPassword(ctx, "user-john", old, []byte("pw"))
	say("a 2017 value: %v (ErrUnsupported: %t)", err, errors.Is(err, logingov.ErrUnsupported))

	_, err = m.MigrateWithPassword(ctx, "user-jane", jane, []byte("Correct horse battery staple"))
	say("a wrong password: %v (ErrAuth: %t); nothing returned", err, errors.Is(err, logingov.ErrAuth))
	return nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
