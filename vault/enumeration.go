package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// dummyUnlock is what UnlockInStore does for a user id the Store does not
// hold: exactly what a wrong password costs, by running the same code on a
// decoy account record (one password stanza at the policy's New
// parameters, which is what an account enrolled or upgraded under the
// policy stores, and a personal-key stanza, all random, so that nothing
// opens it): one derivation, the same parsing, allocation and key checks,
// and the same class of error (ErrWrongSecret, wrapping
// envelope.ErrNoMatch). So neither the time nor the error tells an unknown
// user from a wrong password. The audit log, which only the operator
// reads, records the event as not_found, and the error also wraps the
// Store's own error (ErrNotFound, or a decorator's reason such as a
// shredded user), for the operator: a front end must test ErrWrongSecret
// first and show the one "wrong user id or password" message for it.
//
// Limits: an account whose stored parameters differ from the policy's New
// (not yet upgraded, or over the floor) costs a different time; and a
// Store whose Get is slower for present rows than for absent ones leaks
// through its own timing.
func (v *Vault) dummyUnlock(ctx context.Context, userID string, password []byte, notFound error) error {
	decoy, err := v.decoy()
	if err != nil {
		return err
	}
	account := bytes.Clone(decoy) // as Store.Get hands out a copy
	_, key, _, err := v.openWithPassword(ctx, userID, account, password)
	if err == nil {
		// Cannot happen: no secret opens the decoy.
		clear(key)
		return fmt.Errorf("vault: internal: the decoy account opened")
	}
	if !errors.Is(err, ErrWrongSecret) {
		return err // the password itself was refused (ErrInvalidInput), as for a real user
	}
	return fmt.Errorf("%w (%w: %w)", err, errUnknownUser, notFound)
}

// decoy returns the Vault's decoy account record, made on first use.
func (v *Vault) decoy() ([]byte, error) {
	v.decoyOnce.Do(func() {
		v.decoyAccount, v.decoyErr = makeDecoy(v.policy.New)
	})
	return v.decoyAccount, v.decoyErr
}

// makeDecoy builds a version-3 account header with a password stanza for
// params and a personal-key stanza whose salts and wraps are random: it
// parses like any account and matches no secret.
func makeDecoy(params kdf.Params) ([]byte, error) {
	pb, err := params.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("vault: decoy account: %w", err)
	}
	const wrapped = envelope.CommitmentSize + 12 + envelope.KeySize + 16
	pw := append([]byte{byte(len(pb))}, pb...)
	pw = append(pw, randBytes(kdf.SaltSize+wrapped)...)
	rec := randBytes(32 + wrapped)
	key := randBytes(envelope.KeySize)
	defer clear(key)
	h, err := envelope.WrapKeyV3(context.Background(), key, envelope.Binding{UserID: "decoy", Label: AccountLabel},
		fixedStanza{Type: envelope.TypePassword, Body: pw}, fixedStanza{Type: envelope.TypeRecovery, Body: rec})
	if err != nil {
		return nil, fmt.Errorf("vault: decoy account: %w", err)
	}
	return h.MarshalBinary()
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// fixedStanza is a Recipient that writes one given stanza.
type fixedStanza envelope.Stanza

func (s fixedStanza) Wrap(context.Context, []byte, envelope.Binding) ([]*envelope.Stanza, error) {
	st := envelope.Stanza(s)
	return []*envelope.Stanza{&st}, nil
}

// errUnknownUser marks dummyUnlock's error for the audit log.
var errUnknownUser = fmt.Errorf("unknown user")

// decoyState is embedded in Vault.
type decoyState struct {
	decoyOnce    sync.Once
	decoyAccount []byte
	decoyErr     error
}
