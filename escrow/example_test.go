package escrow_test

import (
	"context"
	"fmt"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// An HPKE escrow with an in-memory key: enrollment seals the account key to
// the pinned public key, and an operator recovers with the private half.
func Example() {
	ctx := context.Background()
	priv, _ := escrow.GenerateKey(escrow.SuiteMLKEM768X25519)
	pinned, _ := escrow.FingerprintOf(priv.PublicKey()) // kept in the deployment's config
	rcpt, err := escrow.NewRecipient(priv.PublicKey(), pinned, "account-recovery")
	if err != nil {
		panic(err)
	}
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1} // tiny, for the example
	v, _ := vault.New(vault.Config{Policy: kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}, Escrow: rcpt})
	account, _, _ := v.Enroll(ctx, "user-jane-q-sample", []byte("lost password"))

	id, _ := escrow.NewIdentity(priv, "account-recovery")
	_, _, err = v.RecoverWithEscrow(ctx, "user-jane-q-sample", account, id, []byte("new password"), "agent-7", "ticket-1234")
	fmt.Println("recovered:", err == nil)
	// Output: recovered: true
}
