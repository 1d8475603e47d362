package escrow

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/vault"
)

// rolledBackAccount enrolls userID with escrow to oldR in a vault that
// keeps log, changes its password once (raising the log to the new
// generation), and then puts the first account record back in mem, as a
// restored backup or someone with write access to the table would. It
// returns the vault and the generation the log holds.
func rolledBackAccount(t *testing.T, oldR envelope.Recipient, mem *vault.MemStore, log vault.GenerationLog, userID string) (*vault.Vault, uint64) {
	t.Helper()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
	require.NoError(t, err)
	_, err = v.EnrollInStore(t.Context(), mem, userID, []byte("old password"))
	require.NoError(t, err)
	old, ver, err := mem.Get(t.Context(), userID)
	require.NoError(t, err)
	require.NoError(t, v.ChangePasswordInStore(t.Context(), mem, userID, []byte("old password"), []byte("new password")))
	floor, err := log.Floor(t.Context(), userID)
	require.NoError(t, err)
	require.Greater(t, floor, mustParse(t, old).Generation(), "the password change raised the log")
	_, cur, err := mem.Get(t.Context(), userID)
	require.NoError(t, err)
	_, err = mem.Put(t.Context(), userID, old, cur)
	require.NoError(t, err)
	_ = ver
	return v, floor
}

// TestBulkRotationWithAGenerationLogRefusesToLaunderARolledBackAccount: a
// record rolled back by one generation, rewritten by RotateAll, would come
// out at the generation the log holds and pass the vault's floor check,
// opening with the old password. With WithGenerationLog the run refuses
// it (vault.ErrRolledBack, audited) and leaves the store as it was;
// without, the laundering works (the test can fail), and the old password
// then opens the account.
func TestBulkRotationWithAGenerationLogRefusesToLaunderARolledBackAccount(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	for _, op := range []string{"rotate", "purge"} {
		t.Run(op, func(t *testing.T) {
			run := func(s Store, opts ...Option) error {
				var err error
				if op == "rotate" {
					_, err = RotateAll(t.Context(), s, []string{"user-rb"}, oldID, newR, testAudit(t), 1, nil, opts...)
				} else {
					_, err = PurgeAll(t.Context(), s, []string{"user-rb"}, oldID, testAudit(t), 1, nil, opts...)
				}
				return err
			}
			mem, log := vault.NewMemStore(), vault.NewMemGenerationLog()
			v, floor := rolledBackAccount(t, oldR, mem, log, "user-rb")
			before, _, _ := mem.Get(t.Context(), "user-rb")
			err := run(mem, WithGenerationLog(log))
			require.ErrorIs(t, err, vault.ErrRolledBack)
			after, _, _ := mem.Get(t.Context(), "user-rb")
			require.Equal(t, before, after, "the rolled-back record is left as it was")
			_, err = v.UnlockInStore(t.Context(), mem, "user-rb", []byte("old password"))
			require.ErrorIs(t, err, vault.ErrRolledBack)

			// The same run without the log launders the record.
			mem2, log2 := vault.NewMemStore(), vault.NewMemGenerationLog()
			v2, floor2 := rolledBackAccount(t, oldR, mem2, log2, "user-rb")
			require.Equal(t, floor, floor2)
			require.NoError(t, run(mem2))
			laundered, _, _ := mem2.Get(t.Context(), "user-rb")
			require.Equal(t, floor2, mustParse(t, laundered).Generation(), "rewritten at the generation the log holds")
			u, err := v2.UnlockInStore(t.Context(), mem2, "user-rb", []byte("old password"))
			require.NoError(t, err, "without the log, the old password opens the laundered record")
			u.Close()
		})
	}
}

// TestBulkOperationsRaiseTheLogOnlyAfterAConfirmedWrite: after a run, the
// log holds each rewritten account's generation; a write that failed
// leaves the log where it was (never ahead of a record that may not
// exist); a Floor error stops the run before any write.
func TestBulkOperationsRaiseTheLogOnlyAfterAConfirmedWrite(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	log := vault.NewMemGenerationLog()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
	require.NoError(t, err)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 6)

	cs := &crashStore{MemStore: mem, okPuts: 3}
	_, err = RotateAll(t.Context(), cs, ids, oldID, newR, testAudit(t), 1, nil, WithGenerationLog(log))
	require.ErrorIs(t, err, errCrash)
	for _, id := range ids {
		acct, _, err := mem.Get(t.Context(), id)
		require.NoError(t, err)
		floor, err := log.Floor(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, mustParse(t, acct).Generation(), floor, "%s: the log follows the stored record, written or not", id)
	}

	failing := &floorFailingLog{GenerationLog: log}
	before, _, _ := mem.Get(t.Context(), ids[5])
	_, err = RotateAll(t.Context(), mem, ids[5:], oldID, newR, testAudit(t), 1, nil, WithGenerationLog(failing))
	require.ErrorIs(t, err, vault.ErrGenerationLog)
	require.ErrorIs(t, err, errLogDown)
	after, _, _ := mem.Get(t.Context(), ids[5])
	require.Equal(t, before, after, "a Floor error writes nothing")
}

var errLogDown = errors.New("generation log unreachable")

type floorFailingLog struct{ vault.GenerationLog }

func (floorFailingLog) Floor(context.Context, string) (uint64, error) { return 0, errLogDown }

// TestPurgeWithAGenerationLogRefusesARolledBackAccountAndRaisesWhatItOpened:
// the stateless Purge checks the floor like the bulk runs, and records
// only the generation it opened (its output may never be stored).
func TestPurgeWithAGenerationLogRefusesARolledBackAccountAndRaisesWhatItOpened(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	mem, log := vault.NewMemStore(), vault.NewMemGenerationLog()
	_, floor := rolledBackAccount(t, oldR, mem, log, "user-p")
	old, _, _ := mem.Get(t.Context(), "user-p")
	out, err := Purge(t.Context(), "user-p", old, oldID, testAudit(t), WithGenerationLog(log))
	require.ErrorIs(t, err, vault.ErrRolledBack)
	require.Nil(t, out)

	fresh := vault.NewMemGenerationLog()
	out, err = Purge(t.Context(), "user-p", old, oldID, testAudit(t), WithGenerationLog(fresh))
	require.NoError(t, err)
	got, err := fresh.Floor(t.Context(), "user-p")
	require.NoError(t, err)
	require.Equal(t, mustParse(t, old).Generation(), got, "the generation opened, not the one returned")
	require.Equal(t, got+1, mustParse(t, out).Generation())
	require.Less(t, got, floor)
}

// cancelAfterPut is a Store whose context is cancelled right after a Put
// succeeds: the caller gave up while the write was landing.
type cancelAfterPut struct {
	*vault.MemStore
	cancel context.CancelFunc
}

func (c *cancelAfterPut) Put(ctx context.Context, userID string, account []byte, expect uint64) (uint64, error) {
	ver, err := c.MemStore.Put(ctx, userID, account, expect)
	if err == nil {
		c.cancel()
	}
	return ver, err
}

// TestBulkOperationsRaiseTheLogAfterAConfirmedWriteEvenOnceCancelled: a
// run cancelled just after the store confirmed a rewrite still raises the
// log to the generation written (as the vault does, with a context
// without cancellation), so the log does not lag behind a record that
// exists and the replaced one cannot be put back undetected.
func TestBulkOperationsRaiseTheLogAfterAConfirmedWriteEvenOnceCancelled(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	log := vault.NewMemGenerationLog()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
	require.NoError(t, err)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, _ = RotateAll(ctx, &cancelAfterPut{MemStore: mem, cancel: cancel}, ids, oldID, newR, testAudit(t), 1, nil, WithGenerationLog(log))
	require.Error(t, ctx.Err(), "the store cancelled the run")
	acct, _, err := mem.Get(t.Context(), ids[0])
	require.NoError(t, err)
	floor, err := log.Floor(t.Context(), ids[0])
	require.NoError(t, err)
	require.Equal(t, mustParse(t, acct).Generation(), floor, "the log holds the generation the store confirmed")
	require.Greater(t, floor, uint64(1), "the account was rewritten")
}

type raiseFailingLog struct{ vault.GenerationLog }

func (raiseFailingLog) Raise(context.Context, string, uint64) error { return errLogDown }

// TestBulkRunWhoseRaiseFailsAfterTheWriteAuditsTheAccountAsChanged: when
// the store confirmed a rewrite and the log's Raise then fails, the
// account has changed (its escrow stanza is rotated or purged): its audit
// record says so (outcome success, result changed) with
// generation_log=raise_failed, Stats counts it, and the run stops with the
// log's error (vault.ErrGenerationLog). An audit trail that called a
// landed purge "failed" would mislead whoever relies on it.
func TestBulkRunWhoseRaiseFailsAfterTheWriteAuditsTheAccountAsChanged(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	for _, op := range []string{"rotate", "purge"} {
		t.Run(op, func(t *testing.T) {
			log := vault.NewMemGenerationLog()
			v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
			require.NoError(t, err)
			mem := vault.NewMemStore()
			ids := enrollMany(t, v, mem, 1)
			before, _, err := mem.Get(t.Context(), ids[0])
			require.NoError(t, err)
			rec := &recordedAudit{}
			var st Stats
			opt := WithGenerationLog(raiseFailingLog{log})
			if op == "rotate" {
				st, err = RotateAll(t.Context(), mem, ids, oldID, newR, rec.audit("agent-7", "ticket-1"), 1, nil, opt)
			} else {
				st, err = PurgeAll(t.Context(), mem, ids, oldID, rec.audit("agent-7", "ticket-1"), 1, nil, opt)
			}
			require.ErrorIs(t, err, vault.ErrGenerationLog)
			require.ErrorIs(t, err, errLogDown)
			after, _, err := mem.Get(t.Context(), ids[0])
			require.NoError(t, err)
			require.NotEqual(t, before, after, "the rewrite landed")
			require.Equal(t, 1, st.Changed)
			got := rec.records(t)[ids[0]]
			require.Equal(t, vault.OutcomeSuccess, got["outcome"])
			require.Equal(t, ResultChanged, got["result"])
			require.Equal(t, "raise_failed", got["generation_log"])
			require.NotContains(t, got, "error")
		})
	}
}

type timingOutLog struct{ vault.GenerationLog }

func (timingOutLog) Floor(context.Context, string) (uint64, error) {
	return 0, fmt.Errorf("log query: %w", context.DeadlineExceeded)
}

// TestGenerationLogErrorIsAuditedAsSuchWhateverItWraps: a log that fails
// with a timeout of its own is audited as generation_log (as the vault
// audits it), not as a cancelled run: the operator must look at the log,
// not at the caller's context.
func TestGenerationLogErrorIsAuditedAsSuchWhateverItWraps(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	log := vault.NewMemGenerationLog()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
	require.NoError(t, err)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 1)
	rec := &recordedAudit{}
	_, err = RotateAll(t.Context(), mem, ids, oldID, newR, rec.audit("agent-7", "ticket-1"), 1, nil, WithGenerationLog(timingOutLog{log}))
	require.ErrorIs(t, err, vault.ErrGenerationLog)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, "generation_log", rec.records(t)[ids[0]]["error"])
}

// cancellingLog cancels the run while its Floor is in flight, and fails
// with the context's error, as a log honouring its context does.
type cancellingLog struct {
	vault.GenerationLog
	cancel context.CancelFunc
}

func (c cancellingLog) Floor(ctx context.Context, _ string) (uint64, error) {
	c.cancel()
	return 0, ctx.Err()
}

// TestRunCancelledDuringAFloorReadIsAuditedAsCancelled: when the run's
// context ends while the log is being read (the caller gave up, or another
// account's error stopped the run), the account is audited as cancelled:
// the log did nothing wrong, and a generation_log class would send the
// operator to the wrong place.
func TestRunCancelledDuringAFloorReadIsAuditedAsCancelled(t *testing.T) {
	oldR, oldID := pair(t, dhSuite())
	newR, _ := pair(t, dhSuite())
	log := vault.NewMemGenerationLog()
	v, err := vault.New(vault.Config{Policy: testPolicy(), Escrow: oldR, Generations: log})
	require.NoError(t, err)
	mem := vault.NewMemStore()
	ids := enrollMany(t, v, mem, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &recordedAudit{}
	_, err = RotateAll(ctx, mem, ids, oldID, newR, rec.audit("agent-7", "ticket-1"), 1, nil, WithGenerationLog(cancellingLog{log, cancel}))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "cancelled", rec.records(t)[ids[0]]["error"])
}
