package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// maxActorReasonLen bounds the actor and reason of an escrow recovery, which
// go to the audit log.
const maxActorReasonLen = 1024

// Enroll creates an account for userID: a fresh random account key wrapped
// for the password (one KDF run with the policy's New parameters), for a
// fresh personal key, and, when Config.Escrow is set, for the escrow.
//
// It returns the account record to store (exactly an envelope header bound
// to userID and AccountLabel) and the personal key to show the user once.
// The Vault keeps neither. On error nothing is returned.
func (v *Vault) Enroll(ctx context.Context, userID string, password []byte) (account []byte, pk PersonalKey, err error) {
	account, pk, err = v.enroll(ctx, userID, password)
	v.auditEvent(ctx, EventEnroll, userID, err)
	return account, pk, err
}

func (v *Vault) enroll(ctx context.Context, userID string, password []byte) ([]byte, PersonalKey, error) {
	if err := checkUserID(userID); err != nil {
		return nil, PersonalKey{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, PersonalKey{}, err
	}
	key, err := envelope.NewKey(v.rand)
	if err != nil {
		return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	defer clear(key)
	return v.wrap(ctx, userID, nil, key, nil, password, true)
}

// Unlock opens the account with the password, at the cost of exactly one
// KDF run, and returns a handle that seals and opens the user's records.
// The caller must Close it.
//
// When the account's KDF parameters are below the Vault's policy
// (kdf.Policy.NeedsUpgrade), Unlock also returns an upgraded account
// record, rewrapped for the same password with the policy's New parameters
// (a second KDF run, only then), which the caller should store in place of
// the old one; otherwise upgraded is nil. A failed upgrade does not fail the
// unlock: it is audited and upgraded is nil, and it is tried again next
// time.
//
// A wrong password gives ErrWrongSecret. KDF parameters over the policy's
// caps are refused before any memory is taken (kdf.ErrParamsTooCostly).
func (v *Vault) Unlock(ctx context.Context, userID string, account, password []byte) (u *Unlocked, upgraded []byte, err error) {
	h, key, params, err := v.openWithPassword(ctx, userID, account, password)
	v.auditEvent(ctx, EventUnlock, userID, err)
	if err != nil {
		return nil, nil, err
	}
	defer clear(key)
	if v.policy.NeedsUpgrade(params) {
		var uerr error
		upgraded, _, uerr = v.wrap(ctx, userID, h, key, keepAllBut(envelope.TypePassword), password, false)
		v.auditEvent(ctx, EventParamsUpgrade, userID, uerr)
		if uerr != nil {
			upgraded = nil
		}
	}
	u, err = newUnlocked(userID, key, v.rand)
	if err != nil {
		return nil, nil, err
	}
	return u, upgraded, nil
}

// ChangePassword rewraps the account key for newPassword (with the
// policy's New parameters) after checking oldPassword (two KDF runs in
// all). Only the password stanza changes: no record is touched, every
// record still opens, the personal key and any escrow stanza stay as they
// were, and oldPassword stops opening the returned account. The caller
// must replace the stored account with the returned one (see
// ChangePasswordInStore for a compare-and-swap).
func (v *Vault) ChangePassword(ctx context.Context, userID string, account, oldPassword, newPassword []byte) ([]byte, error) {
	out, err := v.changePassword(ctx, userID, account, oldPassword, newPassword)
	v.auditEvent(ctx, EventChangePassword, userID, err)
	return out, err
}

func (v *Vault) changePassword(ctx context.Context, userID string, account, oldPassword, newPassword []byte) ([]byte, error) {
	if err := checkNewPassword(newPassword); err != nil {
		return nil, err
	}
	h, key, _, err := v.openWithPassword(ctx, userID, account, oldPassword)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	out, _, err := v.wrap(ctx, userID, h, key, keepAllBut(envelope.TypePassword), newPassword, false)
	return out, err
}

// Recover opens the account with the user's personal key, sets newPassword
// and issues a NEW personal key, returned once for the user to write down.
// The old personal key and the old password stop opening the returned
// account; escrow stanzas are kept; no record is touched. A personal key
// that does not open the account gives ErrWrongSecret; an account with no
// recovery stanza gives ErrUnrecoverable.
func (v *Vault) Recover(ctx context.Context, userID string, account []byte, pk PersonalKey, newPassword []byte) (newAccount []byte, newPK PersonalKey, err error) {
	newAccount, newPK, err = v.recover(ctx, userID, account, pk, newPassword)
	v.auditEvent(ctx, EventRecover, userID, err)
	return newAccount, newPK, err
}

func (v *Vault) recover(ctx context.Context, userID string, account []byte, pk PersonalKey, newPassword []byte) ([]byte, PersonalKey, error) {
	if pk.IsZero() {
		return nil, PersonalKey{}, fmt.Errorf("%w: zero personal key", ErrInvalidInput)
	}
	if err := checkNewPassword(newPassword); err != nil {
		return nil, PersonalKey{}, err
	}
	h, err := v.parseAccount(ctx, userID, account)
	if err != nil {
		return nil, PersonalKey{}, err
	}
	if countType(h, envelope.TypeRecovery) == 0 {
		return nil, PersonalKey{}, fmt.Errorf("%w: account has no personal key stanza", ErrUnrecoverable)
	}
	kb := pk.bytes()
	defer clear(kb)
	id, err := envelope.NewRecoveryIdentity(kb)
	if err != nil {
		return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	defer id.Destroy()
	key, err := unwrap(ctx, h, userID, id)
	if err != nil {
		return nil, PersonalKey{}, err
	}
	defer clear(key)
	return v.wrap(ctx, userID, h, key, keepAllBut(envelope.TypePassword, envelope.TypeRecovery), newPassword, true)
}

// RecoverWithEscrow opens the account with an escrow identity (the private
// half of Config.Escrow, typically held in a KMS or HSM), sets newPassword
// and issues a new personal key, exactly as Recover does; the escrow stanza
// is kept. actor (who did it) and reason (why: a ticket number, not PII)
// are required and go to the audit log with the event.
//
// An account with no stanza besides password and personal key (enrolled
// with escrow off) gives ErrUnrecoverable; an escrow identity that does not
// open it gives ErrWrongSecret.
func (v *Vault) RecoverWithEscrow(ctx context.Context, userID string, account []byte, escrow envelope.Identity, newPassword []byte, actor, reason string) ([]byte, PersonalKey, error) {
	out, pk, err := v.recoverWithEscrow(ctx, userID, account, escrow, newPassword, actor, reason)
	v.auditEvent(ctx, EventEscrowRecover, userID, err, slog.String(attrActor, actor), slog.String(attrReason, reason))
	return out, pk, err
}

func (v *Vault) recoverWithEscrow(ctx context.Context, userID string, account []byte, escrow envelope.Identity, newPassword []byte, actor, reason string) ([]byte, PersonalKey, error) {
	switch {
	case escrow == nil:
		return nil, PersonalKey{}, fmt.Errorf("%w: nil escrow identity", ErrInvalidInput)
	case actor == "" || reason == "":
		return nil, PersonalKey{}, fmt.Errorf("%w: escrow recovery needs an actor and a reason", ErrInvalidInput)
	case len(actor) > maxActorReasonLen || len(reason) > maxActorReasonLen:
		return nil, PersonalKey{}, fmt.Errorf("%w: actor or reason longer than %d bytes", ErrInvalidInput, maxActorReasonLen)
	}
	if err := checkNewPassword(newPassword); err != nil {
		return nil, PersonalKey{}, err
	}
	h, err := v.parseAccount(ctx, userID, account)
	if err != nil {
		return nil, PersonalKey{}, err
	}
	if len(h.Stanzas) == countType(h, envelope.TypePassword)+countType(h, envelope.TypeRecovery) {
		return nil, PersonalKey{}, fmt.Errorf("%w: account has no escrow stanza (enrolled with escrow off)", ErrUnrecoverable)
	}
	key, err := unwrap(ctx, h, userID, escrow)
	if err != nil {
		return nil, PersonalKey{}, err
	}
	defer clear(key)
	return v.wrap(ctx, userID, h, key, keepAllBut(envelope.TypePassword, envelope.TypeRecovery), newPassword, true)
}

// Shred destroys the caller's copy of an account record: it overwrites
// account with zeros in place and audits the event. Without the record's
// wrapped keys no password, personal key or escrow key opens the user's
// sealed records any more.
//
// The Vault is stateless: it cannot reach other copies. The caller must
// delete the stored bytes itself, including replicas and backups (or use
// ShredInStore, which deletes through a Store). Sealed records need not be
// deleted for the data to be gone, but may be.
func (v *Vault) Shred(ctx context.Context, userID string, account []byte) error {
	err := checkUserID(userID)
	if err == nil {
		clear(account)
	}
	v.auditEvent(ctx, EventShred, userID, err)
	return err
}

// checkNewPassword refuses a new password the KDF would refuse (empty,
// too long, not UTF-8) before any secret is checked or derived.
func checkNewPassword(pw []byte) error {
	norm, err := kdf.NormalizePassword(pw)
	clear(norm)
	if err != nil {
		return fmt.Errorf("vault: new password: %w", err)
	}
	return nil
}

// parseAccount checks the user id and the context and parses account.
// A record that is empty or all zeros (shredded) gives ErrUnrecoverable.
func (v *Vault) parseAccount(ctx context.Context, userID string, account []byte) (*envelope.Header, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if isShredded(account) {
		return nil, fmt.Errorf("%w: account record is empty or shredded", ErrUnrecoverable)
	}
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return nil, fmt.Errorf("vault: account record: %w", err)
	}
	return h, nil
}

func isShredded(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// openWithPassword parses account and unwraps its key with password, at
// the cost of one KDF run. It returns the header, the key (the caller
// clears it) and the password stanza's parameters.
func (v *Vault) openWithPassword(ctx context.Context, userID string, account, password []byte) (*envelope.Header, []byte, kdf.Params, error) {
	h, err := v.parseAccount(ctx, userID, account)
	if err != nil {
		return nil, nil, kdf.Params{}, err
	}
	var st *envelope.Stanza
	switch n := countType(h, envelope.TypePassword); n {
	case 0:
		return nil, nil, kdf.Params{}, fmt.Errorf("%w: account has no password stanza", ErrUnrecoverable)
	case 1:
		for _, s := range h.Stanzas {
			if s.Type == envelope.TypePassword {
				st = s
			}
		}
	default:
		// One password stanza is what makes an unlock cost one KDF run.
		return nil, nil, kdf.Params{}, fmt.Errorf("vault: account record has %d password stanzas, want 1: %w", n, envelope.ErrMalformed)
	}
	params, err := envelope.PasswordParams(st)
	if err != nil {
		return nil, nil, kdf.Params{}, fmt.Errorf("vault: account record: %w", err)
	}
	// Refuse costly or disallowed parameters before any memory is taken.
	if err := v.policy.Check(params); err != nil {
		return nil, nil, kdf.Params{}, fmt.Errorf("vault: account record: %w", err)
	}
	id, err := envelope.NewPasswordIdentity(v.deriver, password)
	if err != nil {
		return nil, nil, kdf.Params{}, fmt.Errorf("vault: %w", err)
	}
	defer id.Destroy()
	key, err := unwrap(ctx, h, userID, &countingIdentity{id: id, runs: &v.kdfRuns})
	if err != nil {
		return nil, nil, kdf.Params{}, err
	}
	return h, key, params, nil
}

// unwrap unwraps h's key with id, mapping "no stanza matched" to
// ErrWrongSecret (both stay visible to errors.Is).
func unwrap(ctx context.Context, h *envelope.Header, userID string, id envelope.Identity) ([]byte, error) {
	key, err := envelope.UnwrapKey(ctx, h, accountBinding(userID), id)
	if err != nil {
		if errors.Is(err, envelope.ErrNoMatch) {
			return nil, fmt.Errorf("%w: %w", ErrWrongSecret, err)
		}
		return nil, fmt.Errorf("vault: %w", err)
	}
	return key, nil
}

// wrap returns a new account record for key: a password stanza for
// password (one KDF run with the policy's New parameters) and a fresh
// personal key's stanza, plus, when h is nil (enrollment), the escrow
// stanza if escrow is on; when h is not nil, the stanzas of h that keep
// accepts. A new personal key is made only when newPK is set (enrollment,
// recovery); otherwise pk is the zero value (password change, upgrade).
func (v *Vault) wrap(ctx context.Context, userID string, h *envelope.Header, key []byte, keep func(*envelope.Stanza) bool, password []byte, newPK bool) ([]byte, PersonalKey, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, PersonalKey{}, err
	}
	v.kdfRuns.Add(1)
	pwr, err := envelope.NewPasswordRecipient(v.deriver, password, v.policy.New, v.rand)
	if err != nil {
		return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	defer pwr.Destroy()
	recipients := []envelope.Recipient{pwr}
	var pk PersonalKey
	if newPK {
		if pk, err = newPersonalKey(v.rand); err != nil {
			return nil, PersonalKey{}, err
		}
		kb := pk.bytes()
		rr, err := envelope.NewRecoveryRecipient(kb, v.rand)
		clear(kb)
		if err != nil {
			return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
		}
		defer rr.Destroy()
		recipients = append(recipients, rr)
	}
	b := accountBinding(userID)
	var nh *envelope.Header
	if h == nil {
		if v.escrow != nil {
			recipients = append(recipients, v.escrow)
		}
		nh, err = envelope.WrapKey(ctx, key, b, recipients...)
	} else {
		nh, err = h.Rewrap(ctx, key, b, keep, recipients...)
	}
	if err != nil {
		return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	out, err := nh.MarshalBinary()
	if err != nil {
		return nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	return out, pk, nil
}

// keepAllBut returns a Rewrap filter keeping every stanza whose type is
// not one of types.
func keepAllBut(types ...string) func(*envelope.Stanza) bool {
	return func(s *envelope.Stanza) bool {
		for _, t := range types {
			if s.Type == t {
				return false
			}
		}
		return true
	}
}

func countType(h *envelope.Header, typ string) int {
	n := 0
	for _, s := range h.Stanzas {
		if s.Type == typ {
			n++
		}
	}
	return n
}

// countingIdentity hands a password identity only the password stanzas and
// counts them: each is one KDF run.
type countingIdentity struct {
	id   envelope.Identity
	runs interface{ Add(int64) int64 }
}

// Unwrap counts the password stanzas and hands them to the wrapped identity.
func (c *countingIdentity) Unwrap(ctx context.Context, stanzas []*envelope.Stanza, b envelope.Binding) ([]byte, error) {
	var pw []*envelope.Stanza
	for _, s := range stanzas {
		if s.Type == envelope.TypePassword {
			pw = append(pw, s)
		}
	}
	c.runs.Add(int64(len(pw)))
	return c.id.Unwrap(ctx, pw, b)
}
