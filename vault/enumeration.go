package vault

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// dummyUnlock is what UnlockInStore does for a user id the Store does not
// hold: the same work as a wrong password (one derivation at the policy's
// New parameters, which is what an account enrolled or upgraded under the
// policy stores) and the same class of error (ErrWrongSecret, wrapping
// envelope.ErrNoMatch), so that neither the time nor the error tells an
// unknown user from a wrong password. The audit log, which only the
// operator reads, still records the event as not_found, and the error also
// wraps the Store's own error (ErrNotFound, or a decorator's reason such as
// a shredded user), for the operator: a front end must test ErrWrongSecret
// first and show the one "wrong user id or password" message for it.
//
// Limits: an account whose stored parameters differ from the policy's New
// (not yet upgraded, or over the floor) costs a different time; and a
// Store whose Get is slower for present rows than for absent ones leaks
// through its own timing.
func (v *Vault) dummyUnlock(ctx context.Context, userID string, password []byte, notFound error) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte("piivault/vault/v1/unknown-user\x00" + userID))
	v.kdfRuns.Add(1)
	sec, err := v.deriver.Derive(ctx, password, sum[:kdf.SaltSize], v.policy.New)
	if err != nil {
		return classify(fmt.Errorf("vault: %w", err))
	}
	kek := sec.KEK()
	sec.Destroy()
	clear(kek)
	return fmt.Errorf("%w: %w (%w: %w)", ErrWrongSecret, envelope.ErrNoMatch, errUnknownUser, notFound)
}

// errUnknownUser marks dummyUnlock's error for the audit log.
var errUnknownUser = fmt.Errorf("unknown user")
