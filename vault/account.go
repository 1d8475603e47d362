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
	if v.invalid() {
		return nil, PersonalKey{}, errNilVault
	}
	account, _, pk, err = v.enroll(ctx, userID, password, false)
	v.auditEvent(ctx, EventEnroll, userID, err)
	return account, pk, err
}

// EnrollUnlocked is Enroll that also returns a handle on the new account,
// for a caller that seals records right away (a migration, say): one KDF
// run in all, where Enroll followed by Unlock costs two. The handle is the
// one Unlock of the returned account gives (same user id, generation and
// key generation): records sealed through it open with Unlock, and
// records sealed through Unlock's handle open with it. The caller must
// Close it. The audit event is Enroll's (EventEnroll, one per call).
//
// As with Enroll, the Vault keeps nothing: the caller stores account
// before it stores any record sealed through u (a record under an account
// that was never stored opens with nothing). On error nothing is returned.
func (v *Vault) EnrollUnlocked(ctx context.Context, userID string, password []byte) (account []byte, u *Unlocked, pk PersonalKey, err error) {
	if v.invalid() {
		return nil, nil, PersonalKey{}, errNilVault
	}
	account, u, pk, err = v.enroll(ctx, userID, password, true)
	v.auditEvent(ctx, EventEnroll, userID, err)
	return account, u, pk, err
}

// enroll makes a new account for userID and, when open is set, a handle on
// it built from the key in hand (no second KDF run) exactly as Unlock
// builds one: from the parsed account record.
func (v *Vault) enroll(ctx context.Context, userID string, password []byte, open bool) ([]byte, *Unlocked, PersonalKey, error) {
	if err := checkUserID(userID); err != nil {
		return nil, nil, PersonalKey{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, nil, PersonalKey{}, err
	}
	key, err := envelope.NewKey(v.rand)
	if err != nil {
		return nil, nil, PersonalKey{}, fmt.Errorf("vault: %w", err)
	}
	defer clear(key)
	account, pk, err := v.rewrite(ctx, userID, nil, key, rewriteSpec{password: password, newPK: true})
	if err != nil || !open {
		return account, nil, pk, err
	}
	nh, err := envelope.ParseHeader(account)
	var u *Unlocked
	if err == nil {
		u, err = newUnlockedFrom(userID, nh, key, v.rand)
	}
	if err != nil {
		pk.Destroy()
		clear(account)
		return nil, nil, PersonalKey{}, classify(fmt.Errorf("vault: new account: %w", err))
	}
	return account, u, pk, nil
}

// Unlock opens the account with the password, at the cost of exactly one
// KDF run, and returns a handle that seals and opens the user's records.
// The caller must Close it. It is UnlockWithOptions with no options.
//
// When the account's KDF parameters are below the Vault's policy
// (kdf.Policy.NeedsUpgrade), Unlock also returns an upgraded account
// record, rewrapped for the same password with the policy's New parameters
// (a second KDF run, only then), which the caller should store in place of
// the old one. A version-1 account is upgraded the same way to the
// version-3 header (no KDF run unless its parameters need one). Otherwise
// upgraded is nil. A failed upgrade does not fail the unlock: it is audited
// and upgraded is nil, and it is tried again next time.
//
// A wrong password gives ErrWrongSecret. KDF parameters over the policy's
// caps are refused before any memory is taken (kdf.ErrParamsTooCostly).
func (v *Vault) Unlock(ctx context.Context, userID string, account, password []byte) (u *Unlocked, upgraded []byte, err error) {
	return v.UnlockWithOptions(ctx, userID, account, password, UnlockOptions{})
}

// UnlockOptions are the optional checks of UnlockWithOptions.
type UnlockOptions struct {
	// MinGeneration is the highest account generation the caller has seen
	// for this user (Unlocked.Generation after each unlock,
	// AccountGeneration of each record it wrote), kept somewhere the
	// account row's writers cannot reach. An account whose authenticated
	// generation is lower gives ErrRolledBack. 0: no check. With
	// Config.Generations set, the log's floor applies too (the larger of
	// the two wins), and to every other operation that opens an account.
	MinGeneration uint64
}

// UnlockWithOptions is Unlock with the checks of opts. The account's
// generation is authenticated (covered by the header MAC under the account
// key) before it is compared, so it cannot be raised by editing bytes; a
// rolled-back account returns ErrRolledBack and no handle, and is not
// upgraded.
func (v *Vault) UnlockWithOptions(ctx context.Context, userID string, account, password []byte, opts UnlockOptions) (u *Unlocked, upgraded []byte, err error) {
	if v.invalid() {
		return nil, nil, errNilVault
	}
	h, key, params, err := v.openWithPassword(ctx, userID, account, password)
	if err == nil {
		defer clear(key)
		if h.Generation() < opts.MinGeneration {
			err = fmt.Errorf("%w: account generation %d, caller has seen %d", ErrRolledBack, h.Generation(), opts.MinGeneration)
		} else {
			err = v.checkGeneration(ctx, userID, h)
		}
	}
	v.auditEvent(ctx, EventUnlock, userID, err)
	if err != nil {
		return nil, nil, err
	}
	u, err = newUnlockedFrom(userID, h, key, v.rand)
	if err != nil {
		return nil, nil, err
	}
	if needsPW := v.policy.NeedsUpgrade(params); needsPW || h.Version() != envelope.Version3 {
		sp := rewriteSpec{}
		if needsPW {
			sp.password = password
		}
		var uerr error
		upgraded, _, uerr = v.rewrite(ctx, userID, h, key, sp)
		v.auditEvent(ctx, EventParamsUpgrade, userID, uerr)
		if uerr != nil {
			upgraded = nil
		}
	}
	return u, upgraded, nil
}

// AccountGeneration returns the generation an account record's bytes
// state (0 for a version-1 account), without authenticating it: use it on
// a record this process just wrote, to keep for UnlockOptions.MinGeneration.
func AccountGeneration(account []byte) (uint64, error) {
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return 0, classify(fmt.Errorf("vault: account record: %w", err))
	}
	return h.Generation(), nil
}

// ChangePassword rewraps the account key for newPassword (with the
// policy's New parameters) after checking oldPassword (two KDF runs in
// all). The account key does not change (see ChangePasswordAndRotate): no
// record is touched, every record still opens, the personal key stays as
// it was, and oldPassword stops opening the returned account. The result
// is canonical (see the package documentation, "Canonical accounts"). The
// caller must replace the stored account with the returned one (see
// ChangePasswordInStore for a compare-and-swap).
func (v *Vault) ChangePassword(ctx context.Context, userID string, account, oldPassword, newPassword []byte) ([]byte, error) {
	if v.invalid() {
		return nil, errNilVault
	}
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
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, err
	}
	out, _, err := v.rewrite(ctx, userID, h, key, rewriteSpec{password: newPassword})
	return out, err
}

// ChangePasswordAndRotate is ChangePassword that also gives the account a
// new account key (two KDF runs, as ChangePassword). Because the personal
// key wraps only the old account key, a NEW personal key is issued and
// returned, to show the user once; the old one stops opening the returned
// account. The escrow stanza, if escrow is on, is made afresh. The new
// account carries the older keys wrapped under the new key, so every
// record still opens (and is resealed lazily, see Unlocked.OpenReseal, or
// in bulk, see ResealInStore); records sealed under the new key open with
// no secret of before the rotation, even with the old account record.
func (v *Vault) ChangePasswordAndRotate(ctx context.Context, userID string, account, oldPassword, newPassword []byte) ([]byte, PersonalKey, error) {
	if v.invalid() {
		return nil, PersonalKey{}, errNilVault
	}
	out, pk, err := v.changePasswordAndRotate(ctx, userID, account, oldPassword, newPassword)
	v.auditEvent(ctx, EventRotate, userID, err)
	return out, pk, err
}

func (v *Vault) changePasswordAndRotate(ctx context.Context, userID string, account, oldPassword, newPassword []byte) ([]byte, PersonalKey, error) {
	if err := checkNewPassword(newPassword); err != nil {
		return nil, PersonalKey{}, err
	}
	h, key, _, err := v.openWithPassword(ctx, userID, account, oldPassword)
	if err != nil {
		return nil, PersonalKey{}, err
	}
	defer clear(key)
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, PersonalKey{}, err
	}
	return v.rewrite(ctx, userID, h, key, rewriteSpec{password: newPassword, newPK: true, rotate: true})
}

// RotateAccountKey gives the account a new account key, keeping its
// password: ChangePasswordAndRotate with the same password (two KDF runs),
// and also returns a handle on the new account, so that the caller can
// reseal records without a third KDF run. The caller must Close it.
func (v *Vault) RotateAccountKey(ctx context.Context, userID string, account, password []byte) (newAccount []byte, newPK PersonalKey, u *Unlocked, err error) {
	if v.invalid() {
		return nil, PersonalKey{}, nil, errNilVault
	}
	newAccount, newPK, u, err = v.rotateAccountKey(ctx, userID, account, password)
	v.auditEvent(ctx, EventRotate, userID, err)
	return newAccount, newPK, u, err
}

func (v *Vault) rotateAccountKey(ctx context.Context, userID string, account, password []byte) ([]byte, PersonalKey, *Unlocked, error) {
	h, key, _, err := v.openWithPassword(ctx, userID, account, password)
	if err != nil {
		return nil, PersonalKey{}, nil, err
	}
	defer clear(key)
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, PersonalKey{}, nil, err
	}
	out, pk, newKey, err := v.rewriteKey(ctx, userID, h, key, rewriteSpec{password: password, newPK: true, rotate: true})
	if err != nil {
		return nil, PersonalKey{}, nil, err
	}
	defer clear(newKey)
	nh, err := envelope.ParseHeader(out)
	var u *Unlocked
	if err == nil {
		u, err = newUnlockedFrom(userID, nh, newKey, v.rand)
	}
	if err != nil {
		pk.Destroy()
		return nil, PersonalKey{}, nil, err
	}
	return out, pk, u, nil
}

// Recover opens the account with the user's personal key, sets newPassword
// and issues a NEW personal key, returned once for the user to write down.
// Unless Config.KeepKeyOnRecover is set (or the account already carries
// envelope.MaxOlderKeys older keys: reseal its records first, see
// ResealInStore; a recovery never fails for that), it also rotates the
// account key
// (a personal key in use may mean a compromise): the new account carries
// the older keys wrapped under the new one, so every record still opens,
// and records sealed afterwards open with no secret of before, even with
// the old account record. Recovery costs one KDF run, rotation or not.
// The old personal key and the old password stop opening the returned
// account; an escrow stanza is made afresh when rotating and kept
// otherwise (see "Canonical accounts"); no record is touched. A personal
// key that does not open the account gives ErrWrongSecret; an account
// record without a personal-key stanza (the vault always writes one) gives
// ErrCorrupt; a shredded one ErrUnrecoverable.
func (v *Vault) Recover(ctx context.Context, userID string, account []byte, pk PersonalKey, newPassword []byte) (newAccount []byte, newPK PersonalKey, err error) {
	if v.invalid() {
		return nil, PersonalKey{}, errNilVault
	}
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
		// The vault always writes one: a record without is damaged.
		return nil, PersonalKey{}, fmt.Errorf("%w: account record has no personal key stanza: %w", ErrCorrupt, envelope.ErrMalformed)
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
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, PersonalKey{}, err
	}
	return v.rewrite(ctx, userID, h, key, rewriteSpec{password: newPassword, newPK: true, rotate: v.rotateOnRecover(h)})
}

// rotateOnRecover reports whether a recovery of h rotates the key: unless
// Config.KeepKeyOnRecover, and unless h already carries
// envelope.MaxOlderKeys older keys (MaxOlderKeys rotations without a
// reseal): a recovery must not fail for that, so it keeps the key, and
// ResealInStore makes room again.
func (v *Vault) rotateOnRecover(h *envelope.Header) bool {
	return !v.keepKeyOnRecover && len(h.OlderKeyGenerations()) < envelope.MaxOlderKeys
}

// RecoverWithEscrow opens the account with an escrow identity (the private
// half of Config.Escrow, typically held in a KMS or HSM), sets newPassword
// and issues a new personal key, exactly as Recover does, rotating the
// account key likewise. actor (who did it) and reason (why: a ticket
// number, not PII) are required and go to the audit log with the event.
//
// An account with no stanza besides password and personal key (enrolled
// with escrow off) gives ErrUnrecoverable; an escrow identity that does not
// open it gives ErrWrongSecret.
func (v *Vault) RecoverWithEscrow(ctx context.Context, userID string, account []byte, escrow envelope.Identity, newPassword []byte, actor, reason string) ([]byte, PersonalKey, error) {
	if v.invalid() {
		return nil, PersonalKey{}, errNilVault
	}
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
	if err := v.checkGeneration(ctx, userID, h); err != nil {
		return nil, PersonalKey{}, err
	}
	return v.rewrite(ctx, userID, h, key, rewriteSpec{password: newPassword, newPK: true, rotate: v.rotateOnRecover(h)})
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
	if v.invalid() {
		return errNilVault
	}
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
		return classify(fmt.Errorf("vault: new password: %w", err))
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
	if len(account) > envelope.MaxHeaderSize {
		// Before anything reads the whole record.
		return nil, fmt.Errorf("%w: account record of %d bytes, limit %d: %w", ErrCorrupt, len(account), envelope.MaxHeaderSize, envelope.ErrTooLarge)
	}
	if isShredded(account) {
		return nil, fmt.Errorf("%w: account record is empty or shredded", ErrUnrecoverable)
	}
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return nil, classify(fmt.Errorf("vault: account record: %w", err))
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
		// The vault always writes one: a record without is damaged (a
		// flipped stanza-type byte, say), not an account of another kind.
		return nil, nil, kdf.Params{}, fmt.Errorf("%w: account record has no password stanza: %w", ErrCorrupt, envelope.ErrMalformed)
	case 1:
		for _, s := range h.Stanzas {
			if s.Type == envelope.TypePassword {
				st = s
			}
		}
	default:
		// One password stanza is what makes an unlock cost one KDF run.
		return nil, nil, kdf.Params{}, fmt.Errorf("%w: account record has %d password stanzas, want 1: %w", ErrCorrupt, n, envelope.ErrMalformed)
	}
	params, err := envelope.PasswordParams(st)
	if err != nil {
		return nil, nil, kdf.Params{}, classify(fmt.Errorf("vault: account record: %w", err))
	}
	// Refuse costly or disallowed parameters before any memory is taken.
	if err := v.policy.Check(params); err != nil {
		return nil, nil, kdf.Params{}, fmt.Errorf("vault: account record: %w", err)
	}
	id, err := envelope.NewPasswordIdentity(v.deriver, password)
	if err != nil {
		return nil, nil, kdf.Params{}, classify(fmt.Errorf("vault: %w", err))
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
		return nil, classify(fmt.Errorf("vault: %w", err))
	}
	return key, nil
}

// rewriteSpec says what a rewrite of an account changes. Everything else
// is kept, in canonical form: exactly one password stanza, at most one
// recovery stanza, the escrow stanzas Config.Escrow asks for, and nothing
// else (see "Canonical accounts" in the package documentation).
type rewriteSpec struct {
	password []byte // a new password stanza (one KDF run); nil keeps the current one
	newPK    bool   // a new personal key; false keeps the current recovery stanza
	rotate   bool   // a new account key (needs password and newPK: both old stanzas wrap the old key)
	// keepOlder selects the older keys kept (nil: all); never used with rotate.
	keepOlder func(uint32) bool
}

// escrowOwner is an escrow recipient that recognises its own stanzas (the
// escrow package's recipients are).
type escrowOwner interface {
	Owns(*envelope.Stanza) bool
}

// rewrite returns a new version-3 account record: for enrollment (h nil) a
// new header for key at generation 1; otherwise h rewritten under sp, its
// generation raised by one. See rewriteKey.
func (v *Vault) rewrite(ctx context.Context, userID string, h *envelope.Header, key []byte, sp rewriteSpec) ([]byte, PersonalKey, error) {
	out, pk, newKey, err := v.rewriteKey(ctx, userID, h, key, sp)
	clear(newKey)
	return out, pk, err
}

// rewriteKey is rewrite that also returns the new account key when sp
// rotates (the caller clears it). A new personal key is made only when
// sp.newPK is set; otherwise pk is the zero value.
func (v *Vault) rewriteKey(ctx context.Context, userID string, h *envelope.Header, key []byte, sp rewriteSpec) (out []byte, pk PersonalKey, newKey []byte, err error) {
	if err := ctxErr(ctx); err != nil {
		return nil, PersonalKey{}, nil, err
	}
	enrolling := h == nil
	if (enrolling || sp.rotate) && (sp.password == nil || !sp.newPK) {
		return nil, PersonalKey{}, nil, fmt.Errorf("vault: internal: a new key needs a new password and personal key stanza: %w", ErrInvalidInput)
	}
	if sp.rotate && len(h.OlderKeyGenerations()) >= envelope.MaxOlderKeys {
		// Not corruption: MaxOlderKeys rotations without a reseal.
		return nil, PersonalKey{}, nil, fmt.Errorf("vault: the account carries %d older keys; reseal its records (ResealInStore) before rotating again: %w", envelope.MaxOlderKeys, envelope.ErrTooLarge)
	}
	var keepEscrow *envelope.Stanza
	if !enrolling && !sp.rotate {
		// The stanzas kept must be the canonical ones.
		if sp.password == nil && countType(h, envelope.TypePassword) != 1 {
			return nil, PersonalKey{}, nil, fmt.Errorf("%w: account record has %d password stanzas, want 1", ErrCorrupt, countType(h, envelope.TypePassword))
		}
		if !sp.newPK && countType(h, envelope.TypeRecovery) > 1 {
			return nil, PersonalKey{}, nil, fmt.Errorf("%w: account record has %d personal key stanzas, want at most 1", ErrCorrupt, countType(h, envelope.TypeRecovery))
		}
		if o, ok := v.escrow.(escrowOwner); ok {
			n := 0
			for _, s := range h.Stanzas {
				if o.Owns(s) {
					keepEscrow, n = s, n+1
				}
			}
			if n != 1 {
				keepEscrow = nil // none, or several: wrap one afresh
			}
		}
	}
	var recipients []envelope.Recipient
	if sp.password != nil {
		v.kdfRuns.Add(1)
		pwr, err := envelope.NewPasswordRecipient(v.deriver, sp.password, v.policy.New, v.rand)
		if err != nil {
			return nil, PersonalKey{}, nil, classify(fmt.Errorf("vault: %w", err))
		}
		defer pwr.Destroy()
		recipients = append(recipients, pwr)
	}
	if sp.newPK {
		if pk, err = newPersonalKey(v.rand); err != nil {
			return nil, PersonalKey{}, nil, err
		}
		kb := pk.bytes()
		rr, err := envelope.NewRecoveryRecipient(kb, v.rand)
		clear(kb)
		if err != nil {
			pk.Destroy()
			return nil, PersonalKey{}, nil, fmt.Errorf("vault: %w", err)
		}
		defer rr.Destroy()
		recipients = append(recipients, rr)
	}
	if v.escrow != nil && keepEscrow == nil {
		recipients = append(recipients, v.escrow)
	}
	b := accountBinding(userID)
	var nh *envelope.Header
	switch {
	case enrolling:
		nh, err = envelope.WrapKeyV3(ctx, key, b, recipients...)
	case sp.rotate:
		newKey, err = envelope.NewKey(v.rand)
		if err == nil {
			nh, err = h.Rotate(ctx, key, newKey, b, v.rand, recipients...)
		}
	default:
		keep := func(s *envelope.Stanza) bool {
			switch s.Type {
			case envelope.TypePassword:
				return sp.password == nil
			case envelope.TypeRecovery:
				return !sp.newPK
			}
			// An escrow stanza of Config.Escrow is kept; any other stanza
			// (an escrow key no longer configured, a type this vault does
			// not know) is dropped.
			return s == keepEscrow
		}
		nh, err = h.RewrapWith(ctx, key, b, envelope.RewrapOptions{Keep: keep, Add: recipients, KeepOlder: sp.keepOlder})
	}
	if err == nil {
		out, err = nh.MarshalBinary()
	}
	if err != nil {
		pk.Destroy()
		clear(newKey)
		return nil, PersonalKey{}, nil, classify(fmt.Errorf("vault: %w", err))
	}
	return out, pk, newKey, nil
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
