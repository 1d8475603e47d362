package escrow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/vault"
)

// testAudit is an Audit that discards its records.
func testAudit(t testing.TB) Audit {
	return Audit{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Actor: "agent-7", Reason: "ticket-1234"}
}

// recordedAudit is an Audit whose records can be read back.
type recordedAudit struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recordedAudit) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recordedAudit) audit(actor, reason string) Audit {
	return Audit{Logger: slog.New(slog.NewJSONHandler(r, nil)), Actor: actor, Reason: reason}
}

// records returns the audit records written so far, by user id, and
// fails if a user id has more than one.
func (r *recordedAudit) records(t *testing.T) map[string]map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(r.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		uid, _ := m["user_id"].(string)
		require.NotContains(t, out, uid, "two audit records for %s", uid)
		out[uid] = m
	}
	r.buf.Reset()
	return out
}

// TestBulkEscrowOperationsAuditEveryAccountWithActorReasonAndOutcome:
// RotateAll, PurgeAll and Purge, which unwrap account keys with the escrow
// key and no password, write one audit record per account: event, actor,
// reason, outcome, what happened (result) and whether the key was
// unwrapped; a deleted account, an escrow-off account and one already in
// the wanted state are recorded too, and nothing secret is.
func TestBulkEscrowOperationsAuditEveryAccountWithActorReasonAndOutcome(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, newID := pair(t, dhSuite())
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, oldR), mem, 4)
	_, err := newVault(t, nil).EnrollInStore(t.Context(), mem, "user-no-escrow", []byte("pw"))
	require.NoError(t, err)
	ids = append(ids, "user-no-escrow", "user-deleted")
	rec := &recordedAudit{}

	st, err := RotateAll(t.Context(), mem, ids, oldID, newR, rec.audit("agent-7", "ticket-1234: key rotation"), 2, nil)
	require.NoError(t, err)
	require.Equal(t, Stats{Changed: 4, NoEscrow: 1, Missing: 1}, st)
	got := rec.records(t)
	require.Len(t, got, len(ids), "one record per account")
	for _, uid := range ids {
		m := got[uid]
		require.Equal(t, vault.AuditMessage, m["msg"])
		require.Equal(t, EventEscrowRotate, m["event"])
		require.Equal(t, "agent-7", m["actor"])
		require.Equal(t, "ticket-1234: key rotation", m["reason"])
		require.Equal(t, vault.OutcomeSuccess, m["outcome"])
		want, unwrapped := ResultChanged, true
		switch uid {
		case "user-no-escrow":
			want, unwrapped = ResultNoEscrow, false
		case "user-deleted":
			want, unwrapped = ResultMissing, false
		}
		require.Equal(t, want, m["result"], uid)
		require.Equal(t, unwrapped, m["key_unwrapped"], uid)
	}

	// Resumed: already rotated accounts are recorded as skipped, not unwrapped.
	_, err = RotateAll(t.Context(), mem, ids[:4], oldID, newR, rec.audit("agent-7", "resume"), 1, nil)
	require.NoError(t, err)
	for uid, m := range rec.records(t) {
		require.Equal(t, ResultSkipped, m["result"], uid)
		require.Equal(t, false, m["key_unwrapped"], uid)
	}

	// A purge of one account, then of all.
	acct, ver, err := mem.Get(t.Context(), ids[0])
	require.NoError(t, err)
	out, err := Purge(t.Context(), ids[0], acct, newID, rec.audit("dpo-1", "erasure request 77"))
	require.NoError(t, err)
	_, err = mem.Put(t.Context(), ids[0], out, ver)
	require.NoError(t, err)
	m := rec.records(t)[ids[0]]
	require.Equal(t, EventEscrowPurge, m["event"])
	require.Equal(t, "dpo-1", m["actor"])
	require.Equal(t, ResultChanged, m["result"])

	st, err = PurgeAll(t.Context(), mem, ids, newID, rec.audit("dpo-1", "erasure request 78"), 3, nil)
	require.NoError(t, err)
	require.Equal(t, Stats{Changed: 3, NoEscrow: 2, Missing: 1}, st)
	got = rec.records(t)
	require.Len(t, got, len(ids))
	for _, m := range got {
		require.Equal(t, EventEscrowPurge, m["event"])
		require.Equal(t, "erasure request 78", m["reason"])
	}
}

// TestFailedEscrowOperationIsAuditedAsFailure: the account whose key the
// identity cannot open is recorded with outcome failure and a fixed error
// word (not the error's text), and so is a failed single Purge.
func TestFailedEscrowOperationIsAuditedAsFailure(t *testing.T) {
	oldR, _ := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	_, strangerID := pair(t, dhSuite())
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, oldR), mem, 1)
	rec := &recordedAudit{}
	_, err := RotateAll(t.Context(), mem, ids, strangerID, newR, rec.audit("agent-7", "ticket-9"), 1, nil)
	require.ErrorIs(t, err, envelope.ErrNoMatch)
	m := rec.records(t)[ids[0]]
	require.Equal(t, vault.OutcomeFailure, m["outcome"])
	require.Equal(t, ResultFailed, m["result"])
	require.Equal(t, "no_match", m["error"])
	require.Equal(t, false, m["key_unwrapped"])

	acct, _, err := mem.Get(t.Context(), ids[0])
	require.NoError(t, err)
	_, err = Purge(t.Context(), ids[0], acct, strangerID, rec.audit("agent-7", "ticket-10"))
	require.ErrorIs(t, err, envelope.ErrNoMatch)
	require.Equal(t, vault.OutcomeFailure, rec.records(t)[ids[0]]["outcome"])
}

// countingStore counts Gets.
type countingStore struct {
	*vault.MemStore
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, uid string) ([]byte, uint64, error) {
	c.gets.Add(1)
	return c.MemStore.Get(ctx, uid)
}

// TestEscrowOperationsRefuseToRunUnaudited: without a logger, an actor or a
// reason, RotateAll, PurgeAll and Purge return ErrAuditRequired before
// reading any account.
func TestEscrowOperationsRefuseToRunUnaudited(t *testing.T) {
	r, id := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	mem := vault.NewMemStore()
	ids := enrollMany(t, newVault(t, r), mem, 1)
	cs := &countingStore{MemStore: mem}
	acct, _, _ := mem.Get(t.Context(), ids[0])
	ok := testAudit(t)
	long := string(make([]byte, MaxAuditFieldLen+1))
	for name, a := range map[string]Audit{
		"no logger":   {Actor: ok.Actor, Reason: ok.Reason},
		"no actor":    {Logger: ok.Logger, Reason: ok.Reason},
		"no reason":   {Logger: ok.Logger, Actor: ok.Actor},
		"long actor":  {Logger: ok.Logger, Actor: long, Reason: ok.Reason},
		"long reason": {Logger: ok.Logger, Actor: ok.Actor, Reason: long},
	} {
		_, err := RotateAll(t.Context(), cs, ids, id, newR, a, 1, nil)
		require.ErrorIs(t, err, ErrAuditRequired, name)
		_, err = PurgeAll(t.Context(), cs, ids, id, a, 1, nil)
		require.ErrorIs(t, err, ErrAuditRequired, name)
		out, err := Purge(t.Context(), ids[0], acct, id, a)
		require.ErrorIs(t, err, ErrAuditRequired, name)
		require.Nil(t, out)
	}
	require.Zero(t, cs.gets.Load(), "an unaudited operation read accounts")
}
