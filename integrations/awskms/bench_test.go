package awskms

import (
	"testing"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

// The KMS share of a migration, next to a plain enrollment (default
// Argon2id policy). moto on loopback stands for AWS KMS: a real call adds
// the network round trip. Run with .ci/integration.sh's environment, e.g.
//
//	PIIVAULT_KMS_ENDPOINT=http://127.0.0.1:PORT go test -run='^$' -bench=. -count=8 ./awskms | benchstat -
func BenchmarkKMSDecryptOneChunkMoto(b *testing.B) {
	c, _, newKey := setupB(b)
	key := newKey()
	v, err := logingovtest.Seal(b.Context(), uuidJane, []byte(password), janePII(), logingovtest.Options{KMS: encrypter{c, key}, Cost: "2$1$1$"})
	if err != nil {
		b.Fatal(err)
	}
	blob := kmscBlob(b, v)
	d, _ := New(c)
	ec := logingovtest.PIIContext(uuidJane)
	for b.Loop() {
		if _, err := d.Decrypt(b.Context(), blob, ec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVaultEnrollDefaultPolicy(b *testing.B) {
	v, err := vault.New(vault.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := v.Enroll(b.Context(), "user-jane", []byte(password)); err != nil {
			b.Fatal(err)
		}
	}
}
