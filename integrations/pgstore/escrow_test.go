package pgstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/vault"
)

const purpose = "account-recovery"

func escrowPair(t *testing.T) (*escrow.Recipient, *escrow.Identity) {
	t.Helper()
	priv, err := escrow.GenerateKey(escrow.SuiteP256)
	require.NoError(t, err)
	id, err := escrow.NewIdentity(priv, purpose)
	require.NoError(t, err)
	fp, err := escrow.FingerprintOf(priv.PublicKey())
	require.NoError(t, err)
	r, err := escrow.NewRecipient(priv.PublicKey(), fp, purpose)
	require.NoError(t, err)
	return r, id
}

// enrollMany enrolls n synthetic users with password "pw" through v.
func enrollMany(t *testing.T, v *vault.Vault, s vault.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%04d", i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := v.EnrollInStore(t.Context(), s, ids[i], []byte("pw"))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	return ids
}

// escrowKeys returns, per account, whether the new escrow key opens it
// (else the old one must), checking each holds exactly one escrow stanza.
func escrowKeys(t *testing.T, s vault.Store, ids []string, oldID, newID envelope.Identity) (onOld, onNew int) {
	t.Helper()
	for _, uid := range ids {
		acct, _, err := s.Get(t.Context(), uid)
		require.NoError(t, err)
		h, err := envelope.ParseHeader(acct)
		require.NoError(t, err)
		esc := 0
		for _, st := range h.Stanzas {
			if escrow.IsEscrowStanza(st) {
				esc++
			}
		}
		require.Equal(t, 1, esc, "account %s has exactly one escrow stanza", uid)
		b := envelope.Binding{UserID: uid, Label: vault.AccountLabel}
		if _, err := envelope.UnwrapKey(t.Context(), h, b, newID); err == nil {
			onNew++
			continue
		}
		_, err = envelope.UnwrapKey(t.Context(), h, b, oldID)
		require.NoError(t, err, "account %s opens with neither escrow key", uid)
		onOld++
	}
	return onOld, onNew
}

// crashStore fails every Put after the first okPuts, as a process that
// dies mid-run would stop writing.
type crashStore struct {
	*pgstore.Store
	okPuts int64
	puts   atomic.Int64
}

var errCrash = errors.New("injected crash")

func (c *crashStore) Put(ctx context.Context, uid string, acct []byte, ver uint64) (uint64, error) {
	if c.puts.Add(1) > c.okPuts {
		return 0, errCrash
	}
	return c.Store.Put(ctx, uid, acct, ver)
}

// auditLog collects JSON audit records.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *auditLog) audit() escrow.Audit {
	return escrow.Audit{Logger: slog.New(slog.NewJSONHandler(a, nil)), Actor: "agent-7", Reason: "ticket-1234"}
}

// results returns the audit records' result attribute per user id, each
// user's records in order.
func (a *auditLog) results(t *testing.T) map[string][]string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(a.buf.Bytes()))
	for dec.More() {
		var rec map[string]any
		require.NoError(t, dec.Decode(&rec))
		uid, _ := rec["user_id"].(string)
		res, _ := rec["result"].(string)
		out[uid] = append(out[uid], res)
	}
	return out
}

func TestRotateAllOnPostgresCrashMidwayLeavesEveryAccountRecoverableAndResumes(t *testing.T) {
	ctx := t.Context()
	oldR, oldID := escrowPair(t)
	newR, newID := escrowPair(t)
	s := pgtest.Store(t)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: oldR})
	require.NoError(t, err)
	ids := enrollMany(t, v, s, 40)

	cs := &crashStore{Store: s, okPuts: 13}
	st, err := escrow.RotateAll(ctx, cs, ids, oldID, newR, (&auditLog{}).audit(), 4, nil)
	require.ErrorIs(t, err, errCrash)
	// The first failure cancels the run: a write in flight then is
	// reported as failed, yet may land (now or a moment later: the server
	// may commit after the client gave up). Either way the account is whole.
	require.LessOrEqual(t, st.Changed, 13)
	onOld, onNew := escrowKeys(t, s, ids, oldID, newID)
	require.GreaterOrEqual(t, onNew, st.Changed)
	require.Equal(t, 40, onOld+onNew)

	st, err = escrow.RotateAll(ctx, s, ids, oldID, newR, (&auditLog{}).audit(), 4, nil)
	require.NoError(t, err)
	require.Equal(t, 40, st.Changed+st.Skipped)
	require.GreaterOrEqual(t, st.Skipped, onNew, "the second run skips what the first did")
	require.LessOrEqual(t, st.Skipped, 13+4, "at most the 13 writes allowed and the ones in flight landed")
	onOld, onNew = escrowKeys(t, s, ids, oldID, newID)
	require.Equal(t, 40, onNew)
	require.Zero(t, onOld)
	u, err := v.UnlockInStore(ctx, s, ids[7], []byte("pw"))
	require.NoError(t, err, "passwords still open after the rotation")
	u.Close()
}

func TestShardHashInSQLMatchesGo(t *testing.T) {
	s := pgtest.Store(t)
	ids := []string{"a", "user-0001", "jane.q.sample@example.test", "ünïcødé-user", "用户", "\x7f", "a b"}
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("synthetic-%d", i))
	}
	for _, uid := range ids {
		_, err := s.Put(t.Context(), uid, []byte{1}, 0)
		require.NoError(t, err)
	}
	for _, n := range []int{2, 3, 7, 1000, pgstore.MaxShards} {
		seen := map[string]int{}
		for i := range min(n, 8) {
			sh := pgstore.Shard{Index: i, Count: n}
			got, err := s.UserIDs(t.Context(), sh, "", pgstore.MaxPage)
			require.NoError(t, err)
			var want []string
			for _, uid := range ids {
				if sh.Has(uid) {
					want = append(want, uid)
				}
			}
			require.ElementsMatch(t, want, got, "shard %v", sh)
			cnt, err := s.Count(t.Context(), sh, "")
			require.NoError(t, err)
			require.Equal(t, len(want), cnt)
			for _, uid := range got {
				seen[uid]++
			}
		}
		if n <= 8 {
			require.Len(t, seen, len(ids), "the %d shards cover every account", n)
		}
	}
}

func TestUserIDsPagesInOrderWithoutGapOrRepeat(t *testing.T) {
	s := pgtest.Store(t)
	for i := range 25 {
		_, err := s.Put(t.Context(), fmt.Sprintf("u%02d", i), []byte{1}, 0)
		require.NoError(t, err)
	}
	var all []string
	after := ""
	for {
		page, err := s.UserIDs(t.Context(), pgstore.Shard{}, after, 7)
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1]
	}
	require.Len(t, all, 25)
	for i := range all {
		require.Equal(t, fmt.Sprintf("u%02d", i), all[i])
	}
}

func TestConcurrentShardsRotateEveryAccountExactlyOnce(t *testing.T) {
	ctx := t.Context()
	oldR, oldID := escrowPair(t)
	newR, newID := escrowPair(t)
	dsn := pgtest.DSN(t)
	s, err := pgstore.Open(ctx, dsn)
	require.NoError(t, err)
	defer s.Close()
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: oldR})
	require.NoError(t, err)
	ids := enrollMany(t, v, s, 60)

	// Four workers, each with its own pool (as on four machines), run
	// concurrently, each on its shard.
	const n = 4
	logs := make([]*auditLog, n)
	stats := make([]escrow.Stats, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		logs[i] = &auditLog{}
		wg.Go(func() {
			w, err := pgstore.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Close()
			mine, err := w.UserIDs(ctx, pgstore.Shard{Index: i, Count: n}, "", pgstore.MaxPage)
			if err != nil {
				errs[i] = err
				return
			}
			stats[i], errs[i] = escrow.RotateAll(ctx, w, mine, oldID, newR, logs[i].audit(), 2, nil)
		})
	}
	wg.Wait()
	total := 0
	byUser := map[string][]string{}
	for i := range n {
		require.NoError(t, errs[i])
		require.Zero(t, stats[i].Skipped, "shard %d skipped an account: another shard rotated it", i)
		total += stats[i].Changed
		for uid, res := range logs[i].results(t) {
			byUser[uid] = append(byUser[uid], res...)
		}
	}
	require.Equal(t, len(ids), total)
	require.Len(t, byUser, len(ids))
	for _, uid := range ids {
		require.Equal(t, []string{escrow.ResultChanged}, byUser[uid], "account %s done exactly once", uid)
	}
	onOld, onNew := escrowKeys(t, s, ids, oldID, newID)
	require.Equal(t, len(ids), onNew)
	require.Zero(t, onOld)
}
