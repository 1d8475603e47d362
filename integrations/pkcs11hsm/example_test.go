package pkcs11hsm_test

import (
	"crypto/hpke"
	"fmt"
	"os"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/pkcs11hsm"
)

// HPKE DHKEM(P-256) escrow whose private key stays in a PKCS#11 token. The
// writer needs the public key only; the custodian's identity runs ECDH in
// the token. (Compiled, not run: it needs a token; see .ci/integration.sh.)
func Example() {
	tok, err := pkcs11hsm.Open("/usr/lib/softhsm/libsofthsm2.so", "piivault-test", os.Getenv("PIN"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tok.Close()
	key, err := tok.ECKey("escrow-ec")
	if err != nil {
		fmt.Println(err)
		return
	}
	pub, _ := hpke.NewDHKEMPublicKey(key.PublicKey())
	fp, _ := escrow.FingerprintOf(pub)
	fmt.Println("pin this fingerprint in the config:", fp)
	rcpt, _ := escrow.NewRecipient(pub, fp, "account-recovery")      // vault.Config.Escrow
	id, _ := escrow.NewKeyExchangerIdentity(key, "account-recovery") // for RecoverWithEscrow
	_, _ = rcpt, id
}
