// Command escrow-recovery shows regulated recovery through an HPKE escrow:
// a deployment pins an escrow public key (hybrid ML-KEM-768 + X25519) in
// its Config, a synthetic user enrolls and seals a record, then loses both
// the password and the personal key. An operator with the escrow private
// key (in memory here; in production a KMS or an HSM, see the integrations
// module) recovers the account with an actor and a reason, and the audit
// event says who and why. Enrollment and unlock never touch the private
// key.
//
//	go run ./examples/escrow-recovery
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/vault"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()

	// Once, offline: the escrow key pair. The private half goes to the
	// escrow custodian; the public key and its fingerprint go to config.
	priv, err := escrow.GenerateKey(escrow.SuiteMLKEM768X25519)
	if err != nil {
		return err
	}
	pubPEM, err := escrow.MarshalPublicKey(priv.PublicKey())
	if err != nil {
		return err
	}
	pinned, err := escrow.FingerprintOf(priv.PublicKey())
	if err != nil {
		return err
	}
	fmt.Printf("escrow key %s, fingerprint pinned in config: %s\n", escrow.SuiteMLKEM768X25519, pinned)

	// The service: loads the public key from config and pins it.
	pub, err := escrow.ParsePublicKey(pubPEM)
	if err != nil {
		return err
	}
	rcpt, err := escrow.NewRecipient(pub, pinned, "account-recovery")
	if err != nil {
		return err
	}
	audit := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	v, err := vault.New(vault.Config{Escrow: rcpt, Audit: audit})
	if err != nil {
		return err
	}

	const user = "user-jane-q-sample"
	account, pk, err := v.Enroll(ctx, user, []byte("correct horse battery staple"))
	if err != nil {
		return err
	}
	u, _, err := v.Unlock(ctx, user, account, []byte("correct horse battery staple"))
	if err != nil {
		return err
	}
	ssn, err := u.Seal("ssn", []byte("900-12-3456")) // synthetic: 9xx is never issued
	u.Close()
	if err != nil {
		return err
	}
	fmt.Println("enrolled and sealed an SSN record; the user now loses the password and the personal key")
	pk.Destroy()

	// The custodian: the private key opens the escrow stanza only.
	id, err := escrow.NewIdentity(priv, "account-recovery")
	if err != nil {
		return err
	}
	fmt.Println("escrow recovery (audit event follows):")
	account, newPK, err := v.RecoverWithEscrow(ctx, user, account, id, []byte("a brand new passphrase"), "support-agent-17", "ticket SUP-2026-0042, identity re-proofed in person")
	if err != nil {
		return err
	}
	defer newPK.Destroy()

	u, _, err = v.Unlock(ctx, user, account, []byte("a brand new passphrase"))
	if err != nil {
		return err
	}
	defer u.Close()
	pt, err := u.Open("ssn", ssn)
	if err != nil {
		return err
	}
	defer clear(pt)
	fmt.Printf("new password opens the old record (%d bytes); a new personal key was issued\n", len(pt))

	// A substituted escrow key is refused at configuration time.
	evil, err := escrow.GenerateKey(escrow.SuiteMLKEM768X25519)
	if err != nil {
		return err
	}
	if _, err := escrow.NewRecipient(evil.PublicKey(), pinned, "account-recovery"); err != nil {
		fmt.Println("substituted escrow key refused:", err != nil)
	}
	return nil
}
