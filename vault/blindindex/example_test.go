package blindindex_test

import (
	"bytes"
	"fmt"

	"github.com/piivault/piivault/vault/blindindex"
)

func Example() {
	// In production the secrets come from a KMS-backed secret store.
	keys, _ := blindindex.NewKeyring(
		blindindex.Key{ID: "2026", Secret: bytes.Repeat([]byte{2}, 32)},
		blindindex.Key{ID: "2025", Secret: bytes.Repeat([]byte{1}, 32)},
	)
	// At enrollment: index the SSN under the current key.
	a, _ := keys.Fingerprint(blindindex.FieldSSN, "900-12-3456")
	// Another enrollment types it differently: same fingerprint, a duplicate.
	b, _ := keys.Fingerprint(blindindex.FieldSSN, "900 12 3456")
	fmt.Println("duplicate:", a == b)
	// Look-ups during rotation try every key.
	all, _ := keys.Fingerprints(blindindex.FieldSSN, "900123456")
	for _, fp := range all {
		fmt.Println(fp.KeyID, fp.Field)
	}
	// Output:
	// duplicate: true
	// 2026 ssn
	// 2025 ssn
}
