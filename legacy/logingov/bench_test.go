package logingov

import (
	"context"
	"testing"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

// Cost of one migration at production parameters next to a plain piivault
// enrollment. Compare side by side:
//
//	go test -run='^$' -bench='Migrat|Enroll|OpenPassword' -count=6 ./legacy/logingov | benchstat -
//
// BenchmarkMigrateWithPassword = one KMS call (in-memory stand-in here;
// see integrations/awskms for a real round trip) + one scrypt N=2^16 r=8
// p=1 + one vault.EnrollUnlocked (Argon2id at kdf.DefaultPolicy) + two
// record seals. BenchmarkVaultEnroll is the enrollment alone;
// BenchmarkOpenPasswordProductionCost the Login.gov side alone.
func benchFixture(b *testing.B) (*fixture, *Migrator, *vault.Vault, Columns) {
	f := newFixture(b)
	v, err := vault.New(vault.Config{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMigrator(v, f.r)
	if err != nil {
		b.Fatal(err)
	}
	cols := Columns{UUID: uuidJane, EncryptedPII: f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Cost: "10000$8$1$"})}
	return f, m, v, cols
}

func BenchmarkMigrateWithPassword(b *testing.B) {
	_, m, _, cols := benchFixture(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.MigrateWithPassword(ctx, "user-jane", cols, []byte(testPW)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVaultEnroll(b *testing.B) {
	_, _, v, _ := benchFixture(b)
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := v.Enroll(ctx, "user-jane", []byte(testPW)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenPasswordProductionCost(b *testing.B) {
	f, _, _, cols := benchFixture(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.r.OpenPassword(ctx, uuidJane, cols.EncryptedPII, []byte(testPW)); err != nil {
			b.Fatal(err)
		}
	}
}
