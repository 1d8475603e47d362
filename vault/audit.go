package vault

import (
	"context"
	"errors"
	"log/slog"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// Audit event names: the value of the "event" attribute.
const (
	EventEnroll         = "enroll"
	EventUnlock         = "unlock"
	EventChangePassword = "change_password"
	EventRecover        = "recover"
	EventEscrowRecover  = "escrow_recover"
	EventShred          = "shred"
	EventParamsUpgrade  = "params_upgrade"
	EventRotate         = "rotate_key"
	EventReseal         = "reseal"
	// EventUnlockWithEscrow is UnlockWithEscrow: a maintenance open with
	// the escrow key, with the caller's actor and reason.
	EventUnlockWithEscrow = "unlock_with_escrow"
)

// AuditMessage is the message of every audit record.
const AuditMessage = "piivault audit"

// Audit outcomes: the value of the "outcome" attribute.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Audit attribute keys.
const (
	attrEvent   = "event"
	attrUserID  = "user_id"
	attrOutcome = "outcome"
	attrError   = "error"
	attrActor   = "actor"
	attrReason  = "reason"
)

// auditEvent writes one audit record. It never receives a password, key,
// personal key or record content: only the event name, the opaque user id,
// the outcome, an error class (a fixed word, not the error's text) and, for
// escrow recovery and escrow unlock, the caller's actor and reason.
func (v *Vault) auditEvent(ctx context.Context, event, userID string, err error, extra ...slog.Attr) {
	level, outcome := slog.LevelInfo, OutcomeSuccess
	if err != nil {
		level, outcome = slog.LevelWarn, OutcomeFailure
	}
	h := v.audit.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(v.now(), level, AuditMessage, 0)
	if checkUserID(userID) != nil {
		userID = "(invalid)" // do not copy arbitrary input into the log
	}
	r.AddAttrs(
		slog.String(attrEvent, event),
		slog.String(attrUserID, userID),
		slog.String(attrOutcome, outcome),
	)
	if err != nil {
		r.AddAttrs(slog.String(attrError, errorClass(err)))
	}
	for _, a := range extra {
		if a.Value.Kind() == slog.KindString && len(a.Value.String()) > maxActorReasonLen {
			a.Value = slog.StringValue("(too long)")
		}
		r.AddAttrs(a)
	}
	_ = h.Handle(ctx, r) // an audit sink failure must not change the outcome
}

// errorClass maps an error to a fixed word for the audit log. The error's
// text is never logged: it could quote input.
func errorClass(err error) string {
	switch {
	case errors.Is(err, ErrGenerationLog):
		// First: the log's own error, wrapped, could be anything.
		return "generation_log"
	case errors.Is(err, errUnknownUser):
		return "not_found"
	case errors.Is(err, ErrWrongSecret):
		return "wrong_secret"
	case errors.Is(err, ErrUnrecoverable):
		return "unrecoverable"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrRolledBack):
		return "rolled_back"
	case errors.Is(err, ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, ErrInvalidInput), errors.Is(err, kdf.ErrPasswordRejected):
		return "invalid_input"
	case errors.Is(err, kdf.ErrParamsTooCostly), errors.Is(err, kdf.ErrParamsNotAllowed),
		errors.Is(err, kdf.ErrMalformedParams), errors.Is(err, kdf.ErrOverBudget):
		return "params_refused"
	case errors.Is(err, envelope.ErrHeaderAuth), errors.Is(err, envelope.ErrCommitment),
		errors.Is(err, envelope.ErrMalformed), errors.Is(err, envelope.ErrTooLarge),
		errors.Is(err, envelope.ErrVersion), errors.Is(err, ErrCorrupt):
		return "bad_record"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "internal"
}
