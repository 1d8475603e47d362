package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/piivault/piivault/envelope"
)

// Store persists account records with compare-and-swap versions, so that
// two concurrent changes to one account cannot both win. Versions are
// opaque, non-zero, and change on every successful Put. Implementations
// must make Put and Delete atomic: either the new record (or the deletion)
// is in place, or the old record still is.
type Store interface {
	// Get returns the account record of userID and its version, or an
	// error wrapping ErrNotFound.
	Get(ctx context.Context, userID string) (account []byte, version uint64, err error)
	// Put stores account if the current version is expectVersion (0: the
	// account must not exist yet) and returns the new version; otherwise
	// it writes nothing and returns an error wrapping ErrConflict.
	Put(ctx context.Context, userID string, account []byte, expectVersion uint64) (newVersion uint64, err error)
	// Delete removes the account if its version is expectVersion; an error
	// wrapping ErrConflict (other version) or ErrNotFound otherwise.
	Delete(ctx context.Context, userID string, expectVersion uint64) error
}

// MemStore is an in-memory Store, safe for concurrent use. It copies
// records in and out. It is meant for tests and examples: its contents go
// when the process does.
type MemStore struct {
	mu       sync.Mutex
	accounts map[string]memEntry
	next     uint64
}

type memEntry struct {
	data    []byte
	version uint64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{accounts: make(map[string]memEntry)}
}

// Get implements Store.
func (m *MemStore) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.accounts[userID]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return append([]byte(nil), e.data...), e.version, nil
}

// Put implements Store. Versions increase across the whole store.
func (m *MemStore) Put(ctx context.Context, userID string, account []byte, expectVersion uint64) (uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.accounts[userID]
	if (!ok && expectVersion != 0) || (ok && e.version != expectVersion) {
		return 0, ErrConflict
	}
	m.next++
	if ok {
		clear(e.data)
	}
	m.accounts[userID] = memEntry{data: append([]byte(nil), account...), version: m.next}
	return m.next, nil
}

// Delete implements Store; it clears the deleted record's bytes.
func (m *MemStore) Delete(ctx context.Context, userID string, expectVersion uint64) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.accounts[userID]
	switch {
	case !ok:
		return ErrNotFound
	case e.version != expectVersion:
		return ErrConflict
	}
	clear(e.data)
	delete(m.accounts, userID)
	return nil
}

// The Store helpers read the account, run the stateless operation and
// write the result with Put(expectVersion = the version read). Each does
// exactly one write, so a failed or lost write leaves either the old or
// the new record in place: the account always opens with the old or the
// new secret. When two run concurrently on one account, one wins and the
// other returns an error wrapping ErrConflict (or ErrWrongSecret if it read
// the winner's record); no update is lost.
//
// # Lost acknowledgements
//
// A Put that returns an error other than ErrConflict may still have
// landed (a timeout, a dropped connection), and may even land after it
// returned (a cancelled query the database commits anyway). The helpers
// then read the account back: the bytes they wrote mean it landed
// (success). Anything else, even the version they read before, or a
// failed read, is an error wrapping ErrOutcomeUnknown, and an operation
// that issued a new personal key returns that key WITH the error, because
// it may be (or become) the only key that opens the stored account: show
// it to the user, and settle the outcome later with CheckPersonalKey once
// the Store answers. A new personal key is never destroyed while its
// write might land. Only ErrConflict (a compare-and-swap that lost, which
// writes nothing) is a certain failure.
//
// With Config.Generations set, a helper raises the log to the generation
// it wrote only once the write is confirmed (success), never after
// ErrOutcomeUnknown or ErrConflict: see "Rollback" in the package
// documentation.

// putAccount writes account with compare-and-swap and settles a failed
// write by reading back (see "Lost acknowledgements").
func putAccount(ctx context.Context, s Store, userID string, account []byte, expect uint64) error {
	_, err := s.Put(ctx, userID, account, expect)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrConflict) {
		return storeErr(err) // a compare-and-swap that lost wrote nothing
	}
	cur, ver, gerr := s.Get(context.WithoutCancel(ctx), userID)
	switch {
	case gerr == nil && bytes.Equal(cur, account):
		return nil // it landed; only the acknowledgement was lost
	case gerr == nil && expect != 0 && ver == expect,
		errors.Is(gerr, ErrNotFound) && expect == 0:
		// Not there yet, but a write that failed on the client (a
		// timeout, a cancelled context) may still commit on the server
		// after this read: the outcome is unknown, not "did not land".
		return fmt.Errorf("%w: put failed (%w) and has not landed yet; it may still land", ErrOutcomeUnknown, err)
	case gerr != nil:
		return fmt.Errorf("%w: put failed (%w) and reading back failed (%w)", ErrOutcomeUnknown, err, gerr)
	}
	return fmt.Errorf("%w: put failed (%w) and the account changed since", ErrOutcomeUnknown, err)
}

// EnrollInStore enrolls userID (see Enroll) and creates its record in s.
// An existing account gives ErrConflict, and so does, with
// Config.Generations set, a log floor above the new account's generation
// (an earlier account of the same user id, shredded: the new one would be
// refused as rolled back at every open; remove the user's entry from the
// log first). Nothing is written then. The personal key is returned for
// the user; it is not stored. If the write's outcome is unknown the error
// wraps ErrOutcomeUnknown and the personal key is returned with it (see
// "Lost acknowledgements"); a write that landed but whose acknowledgement
// was lost is a success.
func (v *Vault) EnrollInStore(ctx context.Context, s Store, userID string, password []byte) (PersonalKey, error) {
	if v.invalid() {
		return PersonalKey{}, errNilVault
	}
	_, pk, lag, err := v.enrollInStore(ctx, s, userID, password, false)
	v.auditEvent(ctx, EventEnroll, userID, err, lag...)
	return pk, err
}

// EnrollUnlockedInStore is EnrollInStore that also returns a handle on the
// new account (see EnrollUnlocked): one KDF run in all. The handle is
// returned only when the record is known to be stored; the personal key
// follows EnrollInStore's rules. If the write's outcome is unknown the
// error wraps ErrOutcomeUnknown, the handle is nil (records sealed under an
// account that may not exist could open with nothing) and the personal key
// is returned with the error: settle the outcome with CheckPersonalKey
// once the Store answers, then UnlockInStore. The caller must Close the
// handle.
func (v *Vault) EnrollUnlockedInStore(ctx context.Context, s Store, userID string, password []byte) (*Unlocked, PersonalKey, error) {
	if v.invalid() {
		return nil, PersonalKey{}, errNilVault
	}
	u, pk, lag, err := v.enrollInStore(ctx, s, userID, password, true)
	v.auditEvent(ctx, EventEnroll, userID, err, lag...)
	return u, pk, err
}

func (v *Vault) enrollInStore(ctx context.Context, s Store, userID string, password []byte, open bool) (*Unlocked, PersonalKey, []slog.Attr, error) {
	if s == nil {
		return nil, PersonalKey{}, nil, errNilStore
	}
	account, u, pk, err := v.enroll(ctx, userID, password, open)
	if err != nil {
		return nil, PersonalKey{}, nil, err
	}
	if err := v.checkEnrollFloor(ctx, userID, account); err != nil {
		u.Close()
		pk.Destroy()
		clear(account)
		return nil, PersonalKey{}, nil, err
	}
	if err := putAccount(ctx, s, userID, account, 0); err != nil {
		u.Close() // nil-safe; the key is in the account if the write landed
		if errors.Is(err, ErrOutcomeUnknown) {
			return nil, pk, nil, err
		}
		pk.Destroy()
		return nil, PersonalKey{}, nil, err
	}
	return u, pk, v.raiseWritten(ctx, userID, account), nil
}

// UnlockInStore unlocks userID's account from s (see Unlock). When the
// account needs an upgrade (KDF parameters, or a version-1 header), the
// upgraded record is written back with compare-and-swap; a lost race or a
// failed write is ignored (the upgrade is retried at the next unlock; the
// upgrade changes no secret, so either record opens with the same ones).
func (v *Vault) UnlockInStore(ctx context.Context, s Store, userID string, password []byte) (*Unlocked, error) {
	return v.UnlockInStoreWithOptions(ctx, s, userID, password, UnlockOptions{})
}

// UnlockInStoreWithOptions is UnlockInStore with the checks of opts (see
// UnlockWithOptions). For an unknown user it runs one derivation at the
// policy's New parameters and returns an error wrapping ErrWrongSecret,
// so that an unknown user and a wrong password cost the same and fall in
// the same class; the error also wraps the Store's error (ErrNotFound) for
// the operator's use: a front end tests ErrWrongSecret first.
func (v *Vault) UnlockInStoreWithOptions(ctx context.Context, s Store, userID string, password []byte, opts UnlockOptions) (*Unlocked, error) {
	if v.invalid() {
		return nil, errNilVault
	}
	if s == nil {
		return nil, errNilStore
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	account, ver, err := s.Get(ctx, userID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			err = v.dummyUnlock(ctx, userID, password, storeErr(err))
		} else {
			err = storeErr(err)
		}
		v.auditEvent(ctx, EventUnlock, userID, err)
		return nil, err
	}
	u, upgraded, err := v.UnlockWithOptions(ctx, userID, account, password, opts)
	if err != nil {
		return nil, err
	}
	if upgraded != nil {
		if _, err := s.Put(ctx, userID, upgraded, ver); err == nil {
			// Only a write the Store confirmed raises the log; a failed
			// one leaves it at the generation seen (the upgrade is tried
			// again, and the next open raises the log to what it finds).
			_ = v.raiseWritten(ctx, userID, upgraded)
		}
	}
	return u, nil
}

// ChangePasswordInStore changes userID's password (see ChangePassword) and
// writes the new record with compare-and-swap. If the account changed in
// between, nothing is written and the error wraps ErrConflict. A write
// whose outcome is unknown gives ErrOutcomeUnknown: the account opens with
// the old or the new password.
func (v *Vault) ChangePasswordInStore(ctx context.Context, s Store, userID string, oldPassword, newPassword []byte) error {
	if v.invalid() {
		return errNilVault
	}
	lag, err := v.changePasswordInStore(ctx, s, userID, oldPassword, newPassword)
	v.auditEvent(ctx, EventChangePassword, userID, err, lag...)
	return err
}

func (v *Vault) changePasswordInStore(ctx context.Context, s Store, userID string, oldPassword, newPassword []byte) ([]slog.Attr, error) {
	if s == nil {
		return nil, errNilStore
	}
	account, ver, err := s.Get(ctx, userID)
	if err != nil {
		return nil, storeErr(err)
	}
	out, err := v.changePassword(ctx, userID, account, oldPassword, newPassword)
	if err != nil {
		return nil, err
	}
	if err := putAccount(ctx, s, userID, out, ver); err != nil {
		return nil, err
	}
	return v.raiseWritten(ctx, userID, out), nil
}

// ChangePasswordAndRotateInStore is ChangePasswordAndRotate on a Store,
// with compare-and-swap and the lost-acknowledgement handling of
// RecoverInStore. Records are resealed lazily (Unlocked.OpenReseal) or in
// bulk (ResealInStore).
func (v *Vault) ChangePasswordAndRotateInStore(ctx context.Context, s Store, userID string, oldPassword, newPassword []byte) (PersonalKey, error) {
	if v.invalid() {
		return PersonalKey{}, errNilVault
	}
	newPK, lag, err := v.recoverInStore(ctx, s, userID, func(account []byte) ([]byte, PersonalKey, error) {
		return v.changePasswordAndRotate(ctx, userID, account, oldPassword, newPassword)
	})
	v.auditEvent(ctx, EventRotate, userID, err, lag...)
	return newPK, err
}

// RecoverInStore recovers userID's account with the personal key (see
// Recover) and writes the new record with compare-and-swap. The new
// personal key is returned when the write succeeded, and also, with an
// error wrapping ErrOutcomeUnknown, when the write may have landed (see
// "Lost acknowledgements"); it is destroyed only when the write certainly
// did not land (then the old personal key still opens the account).
func (v *Vault) RecoverInStore(ctx context.Context, s Store, userID string, pk PersonalKey, newPassword []byte) (PersonalKey, error) {
	if v.invalid() {
		return PersonalKey{}, errNilVault
	}
	newPK, lag, err := v.recoverInStore(ctx, s, userID, func(account []byte) ([]byte, PersonalKey, error) {
		return v.recover(ctx, userID, account, pk, newPassword)
	})
	v.auditEvent(ctx, EventRecover, userID, err, lag...)
	return newPK, err
}

// RecoverWithEscrowInStore is RecoverWithEscrow on a Store, with
// compare-and-swap and the lost-acknowledgement handling of RecoverInStore.
func (v *Vault) RecoverWithEscrowInStore(ctx context.Context, s Store, userID string, escrow envelope.Identity, newPassword []byte, actor, reason string) (PersonalKey, error) {
	if v.invalid() {
		return PersonalKey{}, errNilVault
	}
	newPK, lag, err := v.recoverInStore(ctx, s, userID, func(account []byte) ([]byte, PersonalKey, error) {
		return v.recoverWithEscrow(ctx, userID, account, escrow, newPassword, actor, reason)
	})
	v.auditEvent(ctx, EventEscrowRecover, userID, err, append([]slog.Attr{slog.String(attrActor, actor), slog.String(attrReason, reason)}, lag...)...)
	return newPK, err
}

func (v *Vault) recoverInStore(ctx context.Context, s Store, userID string, op func([]byte) ([]byte, PersonalKey, error)) (PersonalKey, []slog.Attr, error) {
	if s == nil {
		return PersonalKey{}, nil, errNilStore
	}
	if err := ctxErr(ctx); err != nil {
		return PersonalKey{}, nil, err
	}
	account, ver, err := s.Get(ctx, userID)
	if err != nil {
		return PersonalKey{}, nil, storeErr(err)
	}
	out, newPK, err := op(account)
	if err != nil {
		return PersonalKey{}, nil, err
	}
	if err := putAccount(ctx, s, userID, out, ver); err != nil {
		// ErrOutcomeUnknown raises nothing: the log must never be ahead
		// of a record that may not exist (see "Rollback").
		if errors.Is(err, ErrOutcomeUnknown) {
			return newPK, nil, err
		}
		newPK.Destroy()
		return PersonalKey{}, nil, err
	}
	return newPK, v.raiseWritten(ctx, userID, out), nil
}

// ShredInStore deletes userID's account record from s (compare-and-swap on
// the version read), after which no secret opens the user's sealed
// records. Copies of the record outside s (backups, replicas) are the
// caller's to delete.
func (v *Vault) ShredInStore(ctx context.Context, s Store, userID string) error {
	if v.invalid() {
		return errNilVault
	}
	err := v.shredInStore(ctx, s, userID)
	v.auditEvent(ctx, EventShred, userID, err)
	return err
}

func (v *Vault) shredInStore(ctx context.Context, s Store, userID string) error {
	if s == nil {
		return errNilStore
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	account, ver, err := s.Get(ctx, userID)
	if err != nil {
		return storeErr(err)
	}
	clear(account)
	if err := s.Delete(ctx, userID, ver); err != nil {
		return storeErr(err)
	}
	return nil
}

var errNilStore = fmt.Errorf("%w: nil Store", ErrInvalidInput)

// storeErr prefixes a Store's error, keeping it visible to errors.Is.
func storeErr(err error) error {
	return fmt.Errorf("vault: store: %w", err)
}

// CheckPersonalKey reports whether pk opens userID's account record (nil),
// or not (an error wrapping ErrWrongSecret), without changing anything and
// without a KDF run (a personal key costs one HKDF). It is how a caller
// settles ErrOutcomeUnknown once the Store answers again: read the account
// and check the new personal key; if it opens, the write landed and the
// new key is the one to keep. It tests the key as Recover would, so it
// gives a guesser nothing Recover does not. With Config.Generations set it
// also refuses an account below the log's floor (ErrRolledBack) and
// raises the log to the generation it opened, which settles the log too
// (see "Rollback" in the package documentation).
func (v *Vault) CheckPersonalKey(ctx context.Context, userID string, account []byte, pk PersonalKey) error {
	if v.invalid() {
		return errNilVault
	}
	if pk.IsZero() {
		return fmt.Errorf("%w: zero personal key", ErrInvalidInput)
	}
	h, err := v.parseAccount(ctx, userID, account)
	if err != nil {
		return err
	}
	kb := pk.bytes()
	defer clear(kb)
	id, err := envelope.NewRecoveryIdentity(kb)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	defer id.Destroy()
	key, err := unwrap(ctx, h, userID, id)
	clear(key)
	if err != nil {
		return err
	}
	return v.checkGeneration(ctx, userID, h)
}
