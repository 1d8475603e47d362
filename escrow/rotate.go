package escrow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/vault"
)

// Store is the compare-and-swap store rotation and purge work through; a
// vault.Store satisfies it. Put must be atomic (the old record or the new
// one, never neither) and must return an error wrapping vault.ErrConflict
// when the version moved.
type Store interface {
	Get(ctx context.Context, userID string) (account []byte, version uint64, err error)
	Put(ctx context.Context, userID string, account []byte, expectVersion uint64) (newVersion uint64, err error)
}

// OwningRecipient is an escrow recipient that recognises its own stanzas
// (Recipient and AEADRecipient are). Rotation uses it to skip accounts
// already rotated, which makes a rotation resumable.
type OwningRecipient interface {
	envelope.Recipient
	Owns(s *envelope.Stanza) bool
}

// IsEscrowStanza reports whether s is an escrow stanza: any stanza that is
// neither the password's nor the personal key's (the vault's rule too).
func IsEscrowStanza(s *envelope.Stanza) bool {
	return s != nil && s.Type != envelope.TypePassword && s.Type != envelope.TypeRecovery
}

// Stats counts what a bulk operation did.
type Stats struct {
	Changed  int // accounts rewritten
	Skipped  int // accounts already in the wanted state
	NoEscrow int // accounts with no escrow stanza (enrolled with escrow off): left alone
	Missing  int // accounts the store no longer holds (vault.ErrNotFound): left alone
}

// Option configures RotateAll, PurgeAll and Purge.
type Option func(*options)

type options struct {
	generations vault.GenerationLog
}

// WithGenerationLog makes a bulk operation keep the deployment's
// generation log (the vault.GenerationLog of vault.Config.Generations) as
// the vault does. Each account whose key the operation unwraps has its
// authenticated generation (the header MAC verified under the unwrapped
// key) checked against log.Floor before anything is written: an account
// below its floor, an older record put back, is refused with
// vault.ErrRolledBack and left as it is, so a bulk run cannot launder a
// rolled-back record by rewriting it at a higher generation. After the
// store confirmed a rewrite, log.Raise records the new generation; Purge,
// which writes nothing itself, raises only the generation it opened (the
// caller raises the new one after its own write). A log error fails
// closed with vault.ErrGenerationLog (or with the context's error when the
// run's context ended meanwhile: audited as cancelled). When Raise fails
// after a confirmed write, that account is rewritten (counted and audited
// as changed, its audit record carrying generation_log=raise_failed) and
// the run stops there with the log's error, the log one generation behind
// until the account's next open raises it. In RotateAll and PurgeAll
// these errors stop the run like any other.
// Accounts skipped unopened (already done, no escrow, missing) are not
// checked.
func WithGenerationLog(log vault.GenerationLog) Option {
	return func(o *options) { o.generations = log }
}

func applyOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// checkFloor refuses an opened account whose authenticated generation is
// below the log's floor for userID.
func (o *options) checkFloor(ctx context.Context, userID string, gen uint64) error {
	if o.generations == nil {
		return nil
	}
	floor, err := o.generations.Floor(ctx, userID)
	if err != nil {
		return logError(ctx, userID, err)
	}
	if gen < floor {
		return fmt.Errorf("escrow: account %q: %w: generation %d, log has seen %d", userID, vault.ErrRolledBack, gen, floor)
	}
	return nil
}

// raise records gen for userID in the log, if there is one.
func (o *options) raise(ctx context.Context, userID string, gen uint64) error {
	if o.generations == nil {
		return nil
	}
	if err := o.generations.Raise(ctx, userID, gen); err != nil {
		return logError(ctx, userID, err)
	}
	return nil
}

// logError wraps an error of the log in vault.ErrGenerationLog, unless the
// run's own context is done: then the cancellation (another account's
// error, or the caller's) is the cause, and the account is audited as
// cancelled, not as a failure of the log.
func logError(ctx context.Context, userID string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("escrow: account %q: %w (generation log: %v)", userID, cerr, err)
	}
	return fmt.Errorf("escrow: account %q: %w: %w", userID, vault.ErrGenerationLog, err)
}

// maxCASRetries bounds retries of one account after a lost compare-and-swap.
const maxCASRetries = 4

// Audit event names of the bulk operations (the "event" attribute).
const (
	EventEscrowRotate = "escrow_rotate"
	EventEscrowPurge  = "escrow_purge"
)

// Audit result values (the "result" attribute): what happened to one account.
const (
	ResultChanged  = "changed"   // rewritten (its account key was unwrapped)
	ResultSkipped  = "skipped"   // already in the wanted state; not unwrapped
	ResultNoEscrow = "no_escrow" // no escrow stanza; left alone, not unwrapped
	ResultMissing  = "missing"   // not in the store any more
	ResultFailed   = "failed"    // the error that stopped the run
)

// MaxAuditFieldLen bounds Audit.Actor and Audit.Reason.
const MaxAuditFieldLen = 1024

// ErrAuditRequired: a bulk operation was called without an audit logger,
// an actor or a reason. Every escrow operation that can unwrap account
// keys is attributed to someone, for a stated reason, in the audit log.
var ErrAuditRequired = errors.New("escrow: audit logger, actor and reason are required")

// Audit says who runs an escrow operation, why, and where its events go.
// RotateAll, PurgeAll and Purge write one record per account they touch to
// Logger, with the message vault.AuditMessage and the attributes event
// (EventEscrowRotate or EventEscrowPurge), user_id, outcome
// (vault.OutcomeSuccess or vault.OutcomeFailure), result (ResultChanged,
// ...), key_unwrapped (whether the account key was unwrapped), actor,
// reason and, on failure, error (a fixed word, never the error's text);
// an account rewritten whose generation-log Raise then failed also gets
// generation_log=raise_failed (see WithGenerationLog). No key or record
// content is logged.
type Audit struct {
	Logger *slog.Logger // required
	Actor  string       // required: the operator or service, 1..MaxAuditFieldLen bytes
	Reason string       // required: ticket, legal basis; 1..MaxAuditFieldLen bytes
}

func (a Audit) check() error {
	switch {
	case a.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrAuditRequired)
	case a.Actor == "" || len(a.Actor) > MaxAuditFieldLen:
		return fmt.Errorf("%w: actor must be 1 to %d bytes", ErrAuditRequired, MaxAuditFieldLen)
	case a.Reason == "" || len(a.Reason) > MaxAuditFieldLen:
		return fmt.Errorf("%w: reason must be 1 to %d bytes", ErrAuditRequired, MaxAuditFieldLen)
	}
	return nil
}

// maxAuditUserIDLen bounds a user id copied into the audit log (vault's
// MaxUserIDLen); a longer one is logged as "(invalid)".
const maxAuditUserIDLen = vault.MaxUserIDLen

// event writes one audit record for userID.
func (a Audit) event(ctx context.Context, event, userID, result string, unwrapped bool, err error, extra ...slog.Attr) {
	level, outcome := slog.LevelInfo, vault.OutcomeSuccess
	if err != nil {
		level, outcome = slog.LevelWarn, vault.OutcomeFailure
	}
	if userID == "" || len(userID) > maxAuditUserIDLen {
		userID = "(invalid)"
	}
	attrs := []slog.Attr{
		slog.String("event", event),
		slog.String("user_id", userID),
		slog.String("outcome", outcome),
		slog.String("result", result),
		slog.Bool("key_unwrapped", unwrapped),
		slog.String("actor", a.Actor),
		slog.String("reason", a.Reason),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errorClass(err)))
	}
	attrs = append(attrs, extra...)
	// An audit sink failure must not change the outcome; slog has no
	// error return here. A context already cancelled still logs.
	a.Logger.LogAttrs(context.WithoutCancel(ctx), level, vault.AuditMessage, attrs...)
}

// errorClass maps an error to a fixed word for the audit log.
func errorClass(err error) string {
	switch {
	case errors.Is(err, vault.ErrGenerationLog):
		// First, as in the vault: the log's own error, wrapped, could be
		// anything (a timeout would read "cancelled").
		return "generation_log"
	case errors.Is(err, envelope.ErrNoMatch), errors.Is(err, ErrStanzaOpen):
		return "no_match"
	case errors.Is(err, vault.ErrConflict):
		return "conflict"
	case errors.Is(err, vault.ErrNotFound):
		return "not_found"
	case errors.Is(err, envelope.ErrHeaderAuth), errors.Is(err, envelope.ErrCommitment),
		errors.Is(err, envelope.ErrMalformed), errors.Is(err, envelope.ErrTooLarge),
		errors.Is(err, envelope.ErrVersion):
		return "bad_record"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, vault.ErrRolledBack):
		return "rolled_back"
	}
	return "internal"
}

// RotateAll rewraps the escrow stanza of every account in userIDs from the
// old escrow key (opened with old, e.g. an HSM- or KMS-held Identity) to
// newRecipient, with workers goroutines, calling progress(done, total)
// after each account (from any goroutine, one call at a time, done rising
// by one each call; may be nil). No password is
// needed.
//
// Each account is rewritten by one compare-and-swap Put that replaces all
// its escrow stanzas by one for newRecipient and keeps its password and
// personal-key stanzas; the header is re-authenticated under the unchanged
// account key. So an interruption (crash, error, cancelled ctx) leaves every
// account with a valid escrow stanza, old or new. Accounts already holding
// a stanza of newRecipient and no other escrow stanza are skipped: running
// RotateAll again after a crash finishes the job. A lost compare-and-swap
// (the user changed the password meanwhile) is retried. Accounts without
// any escrow stanza (enrolled with escrow off, or purged) are left alone and
// counted in NoEscrow: escrow is never added without the user's secret.
// Accounts deleted meanwhile are counted in Missing. The first other error
// stops the run and is returned with the counts so far.
//
// Every account processed gets one audit record (see Audit), the account
// that stopped the run included; accounts not reached get none. Without a
// valid audit (ErrAuditRequired) nothing is read. A deployment that keeps
// a vault.GenerationLog passes it with WithGenerationLog: without it, a
// run rewrites a rolled-back record at a higher generation, which may then
// pass the vault's own floor check.
func RotateAll(ctx context.Context, s Store, userIDs []string, old envelope.Identity, newRecipient OwningRecipient, audit Audit, workers int, progress func(done, total int), opts ...Option) (Stats, error) {
	if old == nil || newRecipient == nil {
		return Stats{}, fmt.Errorf("escrow: rotate: nil identity or recipient: %w", envelope.ErrInvalidRecipient)
	}
	if err := audit.check(); err != nil {
		return Stats{}, err
	}
	done := func(h *envelope.Header) bool {
		has, other := false, false
		for _, st := range h.Stanzas {
			if newRecipient.Owns(st) {
				has = true
			} else if IsEscrowStanza(st) {
				other = true
			}
		}
		return has && !other
	}
	return bulk(ctx, s, userIDs, old, done, []envelope.Recipient{newRecipient}, audit, EventEscrowRotate, workers, progress, applyOptions(opts))
}

// PurgeAll removes every escrow stanza from the accounts in userIDs,
// opening each with id (the escrow Identity, or any identity that opens the
// account). Same concurrency, atomicity and resumption as RotateAll.
//
// A purge is final only once the account key itself is rotated
// (RotateAccountKey): older copies of the account record (backups,
// replicas, logs) still hold an escrow stanza that opens the same key.
// Each account processed gets one audit record, as for RotateAll, and
// WithGenerationLog applies as for RotateAll.
func PurgeAll(ctx context.Context, s Store, userIDs []string, id envelope.Identity, audit Audit, workers int, progress func(done, total int), opts ...Option) (Stats, error) {
	if id == nil {
		return Stats{}, fmt.Errorf("escrow: purge: nil identity: %w", envelope.ErrInvalidRecipient)
	}
	if err := audit.check(); err != nil {
		return Stats{}, err
	}
	done := func(h *envelope.Header) bool {
		for _, st := range h.Stanzas {
			if IsEscrowStanza(st) {
				return false
			}
		}
		return true
	}
	return bulk(ctx, s, userIDs, id, done, nil, audit, EventEscrowPurge, workers, progress, applyOptions(opts))
}

// Purge returns account (a vault account record for userID) without its
// escrow stanzas, opening it with id (the escrow Identity, or a password or
// personal-key identity). See PurgeAll for why a purge is final only once
// the account key is rotated. It writes one audit record (EventEscrowPurge)
// whatever the outcome, or returns ErrAuditRequired without reading
// anything. With WithGenerationLog, an account below its floor is refused
// (vault.ErrRolledBack) and the generation opened is raised; the caller
// raises the returned account's generation after storing it.
func Purge(ctx context.Context, userID string, account []byte, id envelope.Identity, audit Audit, opts ...Option) ([]byte, error) {
	if err := audit.check(); err != nil {
		return nil, err
	}
	o := applyOptions(opts)
	r, err := rewrapAccount(ctx, userID, account, id, func(*envelope.Header) bool { return false }, nil, &o)
	if err == nil {
		// Purge writes nothing: the caller's write may never happen, so
		// only the generation opened is recorded.
		err = o.raise(ctx, userID, r.opened)
	}
	result := ResultChanged
	if err != nil {
		result = ResultFailed
		r.out = nil
	}
	audit.event(ctx, EventEscrowPurge, userID, result, r.unwrapped, err)
	return r.out, err
}

func accountBinding(userID string) envelope.Binding {
	return envelope.Binding{UserID: userID, Label: vault.AccountLabel}
}

// rewrapped is what rewrapAccount did to one account.
type rewrapped struct {
	out       []byte // the rewritten account; nil when not changed
	opened    uint64 // the authenticated generation of the account opened
	written   uint64 // the generation of out
	changed   bool   // false when isDone said the account needs nothing
	unwrapped bool   // the account key was unwrapped (for the audit record), whatever the error
}

// rewrapAccount opens account with id, checks its authenticated generation
// against o's log, and returns it rewrapped: non-escrow stanzas kept, add
// appended.
func rewrapAccount(ctx context.Context, userID string, account []byte, id envelope.Identity, isDone func(*envelope.Header) bool, add []envelope.Recipient, o *options) (rewrapped, error) {
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return rewrapped{}, fmt.Errorf("escrow: account %q: %w", userID, err)
	}
	if isDone(h) {
		return rewrapped{}, nil
	}
	b := accountBinding(userID)
	key, err := envelope.UnwrapKey(ctx, h, b, id)
	if err != nil {
		return rewrapped{}, fmt.Errorf("escrow: account %q: %w", userID, err)
	}
	defer clear(key)
	r := rewrapped{opened: h.Generation(), unwrapped: true}
	// The header MAC verified under key: h.Generation is authentic now.
	if err := o.checkFloor(ctx, userID, r.opened); err != nil {
		return r, err
	}
	keep := func(s *envelope.Stanza) bool { return !IsEscrowStanza(s) }
	nh, err := h.Rewrap(ctx, key, b, keep, add...)
	if err != nil {
		return r, fmt.Errorf("escrow: account %q: %w", userID, err)
	}
	if r.out, err = nh.MarshalBinary(); err != nil {
		return r, fmt.Errorf("escrow: account %q: %w", userID, err)
	}
	r.written, r.changed = nh.Generation(), true
	return r, nil
}

func bulk(ctx context.Context, s Store, userIDs []string, id envelope.Identity, isDone func(*envelope.Header) bool, add []envelope.Recipient, audit Audit, event string, workers int, progress func(done, total int), o options) (Stats, error) {
	if s == nil {
		return Stats{}, fmt.Errorf("escrow: nil store: %w", envelope.ErrInvalidRecipient)
	}
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		counters [numResults]atomic.Int64
		doneN    atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		pmu      sync.Mutex
	)
	jobs := make(chan string)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for uid := range jobs {
				res, unwrapped, err := one(ctx, s, uid, id, isDone, add, &o)
				var late *raisedLateError
				if errors.As(err, &late) {
					// Written, but the log's Raise failed after it: the
					// account is changed (audited and counted as such,
					// with the lag recorded, as the vault does), and the
					// run stops with the log's error.
					audit.event(ctx, event, uid, resultNames[res], unwrapped, nil, slog.String(attrGenerationLog, "raise_failed"))
					counters[res].Add(1)
					if progress != nil {
						pmu.Lock()
						progress(int(doneN.Add(1)), len(userIDs))
						pmu.Unlock()
					}
					errOnce.Do(func() { firstErr = err; cancel(err) })
					continue
				}
				if err != nil {
					// An account reached after another one's error (or
					// a cancellation) stops at its first ctx check:
					// audited as failed, its key never unwrapped.
					audit.event(ctx, event, uid, ResultFailed, unwrapped, err)
					errOnce.Do(func() { firstErr = err; cancel(err) })
					continue
				}
				audit.event(ctx, event, uid, resultNames[res], unwrapped, nil)
				counters[res].Add(1)
				if progress != nil {
					pmu.Lock() // done counts rise in order
					progress(int(doneN.Add(1)), len(userIDs))
					pmu.Unlock()
				}
			}
		}()
	}
feed:
	for _, uid := range userIDs {
		select {
		case jobs <- uid:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	st := Stats{
		Changed:  int(counters[resChanged].Load()),
		Skipped:  int(counters[resSkipped].Load()),
		NoEscrow: int(counters[resNoEscrow].Load()),
		Missing:  int(counters[resMissing].Load()),
	}
	if firstErr != nil {
		return st, firstErr
	}
	if err := context.Cause(ctx); err != nil {
		return st, fmt.Errorf("escrow: %w", err)
	}
	return st, nil
}

// raisedLateError is the log's error when its Raise failed after the
// store confirmed a rewrite: the account is changed all the same.
type raisedLateError struct{ err error }

func (e *raisedLateError) Error() string { return e.err.Error() }
func (e *raisedLateError) Unwrap() error { return e.err }

// attrGenerationLog is the audit attribute of an account whose rewrite
// landed but whose Raise failed (the vault's attribute too).
const attrGenerationLog = "generation_log"

type result int

const (
	resChanged result = iota
	resSkipped
	resNoEscrow
	resMissing
	numResults
)

var resultNames = [numResults]string{ResultChanged, ResultSkipped, ResultNoEscrow, ResultMissing}

func hasEscrow(account []byte) bool {
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return true // let rewrapAccount report the parse error
	}
	for _, st := range h.Stanzas {
		if IsEscrowStanza(st) {
			return true
		}
	}
	return false
}

// one processes one account with compare-and-swap retries. unwrapped
// reports whether its account key was unwrapped in any try.
func one(ctx context.Context, s Store, userID string, id envelope.Identity, isDone func(*envelope.Header) bool, add []envelope.Recipient, o *options) (res result, unwrapped bool, err error) {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return 0, unwrapped, fmt.Errorf("escrow: %w", err)
		}
		account, ver, err := s.Get(ctx, userID)
		if errors.Is(err, vault.ErrNotFound) {
			return resMissing, unwrapped, nil
		}
		if err != nil {
			return 0, unwrapped, fmt.Errorf("escrow: get %q: %w", userID, err)
		}
		if !hasEscrow(account) {
			return resNoEscrow, unwrapped, nil
		}
		r, err := rewrapAccount(ctx, userID, account, id, isDone, add, o)
		unwrapped = unwrapped || r.unwrapped
		if err != nil {
			return 0, unwrapped, err
		}
		if !r.changed {
			return resSkipped, unwrapped, nil
		}
		_, err = s.Put(ctx, userID, r.out, ver)
		if err == nil {
			// Raised only once the store confirmed the write: never
			// ahead of a record that may not exist. The write has
			// happened, so a cancellation now must not skip the Raise
			// (as the vault's raiseWritten).
			if err := o.raise(context.WithoutCancel(ctx), userID, r.written); err != nil {
				return resChanged, unwrapped, &raisedLateError{err}
			}
			return resChanged, unwrapped, nil
		}
		if !errors.Is(err, vault.ErrConflict) || try+1 >= maxCASRetries {
			return 0, unwrapped, fmt.Errorf("escrow: put %q: %w", userID, err)
		}
	}
}
