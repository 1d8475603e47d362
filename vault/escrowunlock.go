package vault

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/piivault/piivault/envelope"
)

// UnlockWithEscrow opens the account with an escrow identity (the private
// half of Config.Escrow, typically held in a KMS or HSM) for maintenance,
// such as a bulk ResealInStore after an account-key rotation, and changes
// nothing: no new password, no new personal key, no new account record.
// It returns the handle Unlock of the same account would give (same user
// id, generation and key generation): records sealed through either open
// through the other. The caller must Close it.
//
// actor (who did it) and reason (why: a ticket number, not PII) are
// required (ErrInvalidInput otherwise) and go to the audit log with the
// event (EventUnlockWithEscrow, one per call, success or failure). It costs
// no KDF run: the password stanza is never tried.
//
// An account with no stanza besides password and personal key (enrolled
// with escrow off) gives ErrUnrecoverable; an escrow identity that does not
// open it gives ErrWrongSecret. The escrow holder could always read the
// records with any copy of the account record and the escrow key; this
// makes that access go through the library, and so the audit log.
func (v *Vault) UnlockWithEscrow(ctx context.Context, userID string, account []byte, escrow envelope.Identity, actor, reason string) (*Unlocked, error) {
	if v.invalid() {
		return nil, errNilVault
	}
	u, err := v.unlockWithEscrow(ctx, userID, account, escrow, actor, reason)
	v.auditEvent(ctx, EventUnlockWithEscrow, userID, err, slog.String(attrActor, actor), slog.String(attrReason, reason))
	return u, err
}

func (v *Vault) unlockWithEscrow(ctx context.Context, userID string, account []byte, escrow envelope.Identity, actor, reason string) (*Unlocked, error) {
	if err := checkEscrowCall(escrow, actor, reason); err != nil {
		return nil, err
	}
	h, err := v.parseAccount(ctx, userID, account)
	if err != nil {
		return nil, err
	}
	if len(h.Stanzas) == countType(h, envelope.TypePassword)+countType(h, envelope.TypeRecovery) {
		return nil, fmt.Errorf("%w: account has no escrow stanza (enrolled with escrow off)", ErrUnrecoverable)
	}
	key, err := unwrap(ctx, h, userID, escrowOnly{escrow})
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, err
	}
	return newUnlockedFrom(userID, h, key, v.rand)
}

// checkEscrowCall checks the arguments every escrow operation requires.
func checkEscrowCall(escrow envelope.Identity, actor, reason string) error {
	switch {
	case escrow == nil:
		return fmt.Errorf("%w: nil escrow identity", ErrInvalidInput)
	case actor == "" || reason == "":
		return fmt.Errorf("%w: escrow access needs an actor and a reason", ErrInvalidInput)
	case len(actor) > maxActorReasonLen || len(reason) > maxActorReasonLen:
		return fmt.Errorf("%w: actor or reason longer than %d bytes", ErrInvalidInput, maxActorReasonLen)
	}
	return nil
}

// escrowOnly hands an escrow identity every stanza but the password and
// personal-key ones, so that an identity that would also try a password
// stanza (a caller's composite identity, say) runs no KDF here.
type escrowOnly struct{ id envelope.Identity }

// Unwrap drops the password and personal-key stanzas and hands the rest on.
func (e escrowOnly) Unwrap(ctx context.Context, stanzas []*envelope.Stanza, b envelope.Binding) ([]byte, error) {
	var rest []*envelope.Stanza
	for _, s := range stanzas {
		if s.Type != envelope.TypePassword && s.Type != envelope.TypeRecovery {
			rest = append(rest, s)
		}
	}
	return e.id.Unwrap(ctx, rest, b)
}
