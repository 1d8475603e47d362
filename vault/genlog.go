package vault

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/piivault/piivault/envelope"
)

// GenerationLog keeps, per user, the highest authenticated account
// generation the vault has seen or written: the floor below which an
// account record is a rollback. The caller implements it and keeps it
// where the accounts table's writers cannot reach (another database, a
// signed append-only log, a KMS-backed counter): a log rolled back
// together with the accounts table detects nothing.
//
// Set as Config.Generations, it is consulted by every operation that
// opens an account: Unlock, UnlockWithOptions, UnlockWithEscrow, Recover,
// RecoverWithEscrow, ChangePassword, ChangePasswordAndRotate,
// RotateAccountKey, CheckPersonalKey, their ...InStore helpers and
// ResealInStore's rewrite of the account (see "Rollback" in the package
// documentation for when each calls Floor and Raise). EnrollInStore reads
// the floor too, and refuses to store a new account below it.
//
// Implementations must be safe for concurrent use. Raise must be max-only
// (a Raise below the stored floor changes nothing), atomic per user, and
// must not report success before the new floor is durable. Floor of a
// user the log has never seen is 0. The vault returns a Floor or Raise
// error wrapped in ErrGenerationLog (errors.Is finds both), or, when the
// operation's context ended meanwhile, the context's error.
type GenerationLog interface {
	// Floor returns the highest generation recorded for userID (0 if
	// none).
	Floor(ctx context.Context, userID string) (uint64, error)
	// Raise records gen for userID if it is higher than the floor.
	Raise(ctx context.Context, userID string, gen uint64) error
}

// MemGenerationLog is an in-memory GenerationLog, safe for concurrent use,
// whose Raise is max-only. It is meant for tests and for a single process
// that keeps its accounts elsewhere: its contents go when the process does
// (and with them the floors: a restart detects no rollback older than it).
// The zero value is ready to use.
type MemGenerationLog struct {
	mu     sync.Mutex
	floors map[string]uint64
}

// NewMemGenerationLog returns an empty MemGenerationLog.
func NewMemGenerationLog() *MemGenerationLog { return &MemGenerationLog{} }

// Floor implements GenerationLog.
func (m *MemGenerationLog) Floor(ctx context.Context, userID string) (uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.floors[userID], nil
}

// Raise implements GenerationLog: the floor becomes max(floor, gen).
func (m *MemGenerationLog) Raise(ctx context.Context, userID string, gen uint64) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.floors == nil {
		m.floors = make(map[string]uint64)
	}
	if gen > m.floors[userID] {
		m.floors[userID] = gen
	}
	return nil
}

// Forget removes userID's floor, as if the log had never seen the user:
// for a user id whose account was shredded and is to be enrolled again
// (EnrollInStore refuses while the floor of the earlier account is there).
func (m *MemGenerationLog) Forget(userID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.floors, userID)
}

// checkEnrollFloor refuses to store a new account for userID when the log
// holds a floor above its generation: a user id enrolled before (and
// shredded), whose new account every open would refuse as rolled back.
// Failing here, before the write, leaves no account that cannot open and
// no personal key that opens nothing.
func (v *Vault) checkEnrollFloor(ctx context.Context, userID string, account []byte) error {
	if v.genLog == nil {
		return nil
	}
	floor, err := v.genLog.Floor(ctx, userID)
	if err != nil {
		return logError(ctx, "floor", err)
	}
	gen, err := AccountGeneration(account)
	if err != nil {
		return err
	}
	if floor > gen {
		return fmt.Errorf("%w: the generation log holds generation %d for this user id (an earlier account), above the new account's %d: it would be refused as rolled back; remove the user's entry from the log first", ErrConflict, floor, gen)
	}
	return nil
}

// checkGeneration is the log's half of the rollback check, for an account
// opened through h. It must be called only after h's key was unwrapped
// (envelope.UnwrapKey or Header.OlderKeys verified the header MAC), so
// that h.Generation() is authenticated; the caller's own floor
// (UnlockOptions.MinGeneration) is compared by the caller. With no log it
// does nothing. Otherwise it reads the floor (an error fails closed:
// ErrGenerationLog), refuses a generation below it (ErrRolledBack), and
// raises the floor to the generation seen when that is higher (an error
// fails closed too: nothing has been written yet).
//
// It runs only once a secret has opened the account: a wrong secret or an
// unknown user never reaches the log, so the log's latency tells a guesser
// nothing the error does not.
func (v *Vault) checkGeneration(ctx context.Context, userID string, h *envelope.Header) error {
	if v.genLog == nil {
		return nil
	}
	floor, err := v.genLog.Floor(ctx, userID)
	if err != nil {
		return logError(ctx, "floor", err)
	}
	gen := h.Generation()
	if gen < floor {
		return fmt.Errorf("%w: account generation %d, generation log's floor %d", ErrRolledBack, gen, floor)
	}
	if gen > floor {
		if err := v.genLog.Raise(ctx, userID, gen); err != nil {
			return logError(ctx, "raise to the generation seen", err)
		}
	}
	return nil
}

// logError wraps an error of the log in ErrGenerationLog, unless the
// operation's context ended meanwhile: then the caller's cancellation is
// the cause (the context's error, audited as cancelled), not the log.
// Either way the operation fails closed.
func logError(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("vault: %w (generation log %s: %v)", cerr, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrGenerationLog, what, err)
}

// attrGenerationLog is the audit attribute of an operation whose write
// landed but whose Raise of the new generation failed.
const attrGenerationLog = "generation_log"

// raiseWritten raises the log to the generation of account, a record this
// Vault made and a Store confirmed (Put succeeded, or the read-back found
// these bytes). Its bytes are trusted because this process wrote them.
// The write has happened, so a failure cannot undo the operation: it
// returns the audit attribute that records it, and the log lags until the
// next successful open of the account raises it (checkGeneration). With
// no log, or on success, it returns nil.
func (v *Vault) raiseWritten(ctx context.Context, userID string, account []byte) []slog.Attr {
	if v.genLog == nil {
		return nil
	}
	gen, err := AccountGeneration(account)
	if err == nil {
		err = v.genLog.Raise(context.WithoutCancel(ctx), userID, gen)
	}
	if err != nil {
		return []slog.Attr{slog.String(attrGenerationLog, "raise_failed")}
	}
	return nil
}
