package main

import (
	"crypto/hpke"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/integrations/pkcs11hsm"
	"github.com/piivault/piivault/vault"
)

var recPW = []byte("correct horse battery staple")

// recFixture is a database of accounts with records in pgstore:
// rotated (escrowed, key rotated after sealing three records, one more
// sealed after: three old records and one current), fresh (escrowed, never
// rotated: all current) and plain (escrow off, rotated).
type recFixture struct {
	dsn                   string
	store                 *pgstore.Store
	key                   keyFiles
	rotated, fresh, plain []string
	plaintext             map[[2]string]string // (user id, label) -> plaintext
	mu                    sync.Mutex
}

func newRecFixture(t *testing.T, rotated, fresh, plain int) *recFixture {
	t.Helper()
	f := &recFixture{dsn: pgtest.DSN(t), key: newKeyFiles(t, "escrow"), plaintext: map[[2]string]string{}}
	return f.fill(t, f.key.r, rotated, fresh, plain)
}

func (f *recFixture) fill(t *testing.T, r envelope.Recipient, rotated, fresh, plain int) *recFixture {
	t.Helper()
	var err error
	f.store, err = pgstore.Open(t.Context(), f.dsn)
	require.NoError(t, err)
	t.Cleanup(f.store.Close)
	withEscrow, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: r})
	require.NoError(t, err)
	without, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	add := func(v *vault.Vault, uid string, rotate bool) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := f.makeUser(t, v, uid, rotate); err != nil {
				t.Error(uid, err)
			}
		})
	}
	for i := range rotated {
		f.rotated = append(f.rotated, fmt.Sprintf("user-%04d", i))
		add(withEscrow, f.rotated[i], true)
	}
	for i := range fresh {
		f.fresh = append(f.fresh, fmt.Sprintf("fresh-%04d", i))
		add(withEscrow, f.fresh[i], false)
	}
	for i := range plain {
		f.plain = append(f.plain, fmt.Sprintf("plain-%04d", i))
		add(without, f.plain[i], true)
	}
	wg.Wait()
	require.False(t, t.Failed())
	return f
}

func (f *recFixture) makeUser(t *testing.T, v *vault.Vault, uid string, rotate bool) error {
	ctx := t.Context()
	u, _, err := v.EnrollUnlockedInStore(ctx, f.store, uid, recPW)
	if err != nil {
		return err
	}
	seal := func(u *vault.Unlocked, label string) error {
		text := fmt.Sprintf("%s's %s", uid, label)
		sealed, err := u.Seal(label, []byte(text))
		if err != nil {
			return err
		}
		if _, err := f.store.PutRecord(ctx, uid, label, sealed, 0); err != nil {
			return err
		}
		f.mu.Lock()
		f.plaintext[[2]string{uid, label}] = text
		f.mu.Unlock()
		return nil
	}
	for _, label := range []string{"addr", "dob", "ssn"} {
		if err := seal(u, label); err != nil {
			return err
		}
	}
	u.Close()
	if !rotate {
		return nil
	}
	account, ver, err := f.store.Get(ctx, uid)
	if err != nil {
		return err
	}
	out, _, nu, err := v.RotateAccountKey(ctx, uid, account, recPW)
	if err != nil {
		return err
	}
	defer nu.Close()
	if _, err := f.store.Put(ctx, uid, out, ver); err != nil {
		return err
	}
	return seal(nu, "zip")
}

// state reports, for uid, how many records are not under the account's
// current key and how many older keys the account carries, after checking
// with the user's password that every record opens to its plaintext.
func (f *recFixture) state(t *testing.T, uid string) (old, olderKeys int) {
	t.Helper()
	ctx := t.Context()
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	account, _, err := f.store.Get(ctx, uid)
	require.NoError(t, err)
	u, _, err := v.Unlock(ctx, uid, account, recPW)
	require.NoError(t, err, uid)
	defer u.Close()
	labels, err := f.store.Labels(ctx, uid)
	require.NoError(t, err)
	require.Len(t, labels, 4, uid)
	for _, label := range labels {
		sealed, _, err := f.store.GetRecord(ctx, uid, label)
		require.NoError(t, err)
		got, err := u.Open(label, sealed)
		require.NoError(t, err, "%s/%s", uid, label)
		require.Equal(t, f.plaintext[[2]string{uid, label}], string(got))
		gen, err := envelope.RecordGeneration(sealed)
		require.NoError(t, err)
		if gen != u.KeyGeneration() {
			old++
		}
	}
	h, err := envelope.ParseHeader(account)
	require.NoError(t, err)
	return old, len(h.OlderKeyGenerations())
}

// escrowOpens reports whether the escrow key still opens uid's account.
func (f *recFixture) escrowOpens(t *testing.T, uid string, id envelope.Identity) bool {
	t.Helper()
	account, _, err := f.store.Get(t.Context(), uid)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(account)
	require.NoError(t, err)
	key, err := envelope.UnwrapKey(t.Context(), h, envelope.Binding{UserID: uid, Label: vault.AccountLabel}, id)
	clear(key)
	return err == nil
}

func (f *recFixture) args(extra ...string) []string {
	return append([]string{"reseal", "records", "-dsn", f.dsn, "-key", f.key.priv,
		"-actor", "agent-7", "-reason", "ticket-1234"}, extra...)
}

// normalized is stdout with each JSON record's time removed (keys sorted).
func normalized(t *testing.T, stdout string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		delete(m, "time")
		out, err := json.Marshal(m)
		require.NoError(t, err)
		b.Write(out)
		b.WriteByte('\n')
	}
	return b.String()
}

// recordLines returns stdout's per-account records by user id.
func recordLines(t *testing.T, stdout string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if uid, ok := m["user_id"].(string); ok {
			out[uid] = append(out[uid], m)
		}
	}
	return out
}

// TestResealRecordsGoldenDryRunRunRerun: the dry run counts the records to
// reseal and writes nothing; the run opens each escrowed account that
// needs it with the escrow key (never the others), reseals its old
// records, drops its older keys and keeps its escrow stanza; every record
// then opens with the user's password under the current key; a second run
// opens nothing. stdout (time removed) and stderr are golden.
func TestResealRecordsGoldenDryRunRunRerun(t *testing.T) {
	f := newRecFixture(t, 3, 1, 1)
	var transcript strings.Builder
	step := func(name string, args ...string) result {
		r := runBin(t, nil, nil, args...)
		require.Equal(t, 0, r.code, r.stderr)
		fmt.Fprintf(&transcript, "== %s: stdout\n%s== %s: stderr\n%s", name, normalized(t, r.stdout), name, r.stderr)
		return r
	}

	r := step("dry run", f.args("-dry-run", "-batch", "2")...)
	_, sum := records(t, r.stdout)
	require.Equal(t, float64(9), sum["would_reseal_records"])
	for _, uid := range f.rotated {
		old, older := f.state(t, uid)
		require.Equal(t, 3, old, "a dry run wrote nothing")
		require.Equal(t, 1, older)
	}

	vaultAudit := filepath.Join(t.TempDir(), "vault-audit.jsonl")
	r = step("run", f.args("-batch", "2", "-vault-audit", vaultAudit)...)
	byUser, sum := records(t, r.stdout)
	va, err := os.ReadFile(vaultAudit)
	require.NoError(t, err)
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(va)), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		events[m["event"].(string)]++
		if m["event"] == vault.EventUnlockWithEscrow {
			require.Equal(t, "agent-7", m["actor"])
			require.Equal(t, "ticket-1234", m["reason"])
			require.True(t, slicesContain(f.rotated, m["user_id"].(string)), "only accounts that need it are opened")
		}
	}
	require.Equal(t, map[string]int{vault.EventUnlockWithEscrow: 3, vault.EventReseal: 3}, events, "the vault's own audit events")
	require.Equal(t, true, sum["complete"])
	require.Equal(t, float64(9), sum["records_resealed"])
	for _, uid := range f.rotated {
		require.Equal(t, []string{resultRecordsDone}, byUser[uid])
		old, older := f.state(t, uid)
		require.Zero(t, old, uid)
		require.Zero(t, older, "%s keeps older keys", uid)
		require.True(t, f.escrowOpens(t, uid, f.key.id), "%s lost its escrow stanza", uid)
	}
	require.Equal(t, []string{resultRecordsCurrent}, byUser[f.fresh[0]])
	require.Equal(t, []string{resultRecordsNoEsc}, byUser[f.plain[0]])
	old, older := f.state(t, f.plain[0])
	require.Equal(t, 3, old, "an account without escrow is left alone")
	require.Equal(t, 1, older)
	for uid, recs := range recordLines(t, r.stdout) {
		require.Equal(t, slicesContain(f.rotated, uid), recs[0]["key_unwrapped"], "%s: only accounts that need it are opened", uid)
	}

	r = step("rerun", f.args()...)
	_, sum = records(t, r.stdout)
	require.Equal(t, float64(0), sum["records_resealed"], "a second run reseals nothing")
	require.Equal(t, float64(4), sum["current"])
	for uid, recs := range recordLines(t, r.stdout) {
		require.Equal(t, false, recs[0]["key_unwrapped"], "%s opened on the rerun", uid)
	}
	golden(t, "reseal-records-run.txt", transcript.String())
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestResealRecordsShardsRunConcurrentlyDoEveryAccountOnce: three shards
// at once on one database: each account is resealed by exactly one.
func TestResealRecordsShardsRunConcurrentlyDoEveryAccountOnce(t *testing.T) {
	f := newRecFixture(t, 30, 0, 0)
	const n = 3
	outs := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { outs[i] = runBin(t, nil, nil, f.args("-shard", fmt.Sprintf("%d/%d", i, n), "-batch", "4")...) })
	}
	wg.Wait()
	seen := map[string]int{}
	for i, r := range outs {
		require.Equal(t, 0, r.code, r.stderr)
		byUser, sum := records(t, r.stdout)
		require.Equal(t, fmt.Sprintf("%d/%d", i, n), sum["shard"])
		for uid, res := range byUser {
			require.Equal(t, []string{resultRecordsDone}, res, "shard %d, %s", i, uid)
			require.True(t, pgstore.Shard{Index: i, Count: n}.Has(uid))
			seen[uid]++
		}
	}
	require.Len(t, seen, len(f.rotated))
	for uid, c := range seen {
		require.Equal(t, 1, c, "account %s done by %d shards", uid, c)
		old, older := f.state(t, uid)
		require.Zero(t, old+older, uid)
	}
}

// TestResealRecordsStopsCleanlyOnInterruptAndResumes: SIGINT stops the run
// with exit 1 and a resume point; every record still opens; the resumed
// run finishes, and no record is resealed twice over the two runs.
func TestResealRecordsStopsCleanlyOnInterruptAndResumes(t *testing.T) {
	f := newRecFixture(t, 100, 0, 0)
	stdout, stderr := runBinInterrupted(t, f.args("-batch", "10")...)
	require.Contains(t, stderr, "interrupted: every record opens")
	_, sum := records(t, stdout)
	require.Equal(t, false, sum["complete"])
	cursor, _ := sum["resume_after"].(string)
	require.NotEmpty(t, cursor, "stderr: %s", stderr)
	require.Contains(t, stderr, fmt.Sprintf("-resume-after %q", cursor))
	first := sum["records_resealed"].(float64)
	require.Less(t, first, float64(3*len(f.rotated)), "the interrupt stopped the run early")
	for _, uid := range f.rotated {
		f.state(t, uid) // every record opens with the password
	}

	r := runBin(t, nil, nil, f.args("-resume-after", cursor)...)
	require.Equal(t, 0, r.code, r.stderr)
	byUser2, sum2 := records(t, r.stdout)
	require.Equal(t, true, sum2["complete"])
	for uid := range byUser2 {
		require.Greater(t, uid, cursor, "the resumed run skipped the finished accounts")
	}
	// An account cut off mid-way (or a write in flight at the interrupt)
	// may be left for a run without -resume-after: run it.
	r = runBin(t, nil, nil, f.args()...)
	require.Equal(t, 0, r.code, r.stderr)
	_, sum3 := records(t, r.stdout)
	total := first + sum2["records_resealed"].(float64) + sum3["records_resealed"].(float64)
	require.LessOrEqual(t, total, float64(3*len(f.rotated)), "a record resealed twice")
	require.GreaterOrEqual(t, total, float64(3*len(f.rotated)-1), "only a write in flight at the interrupt may go uncounted")
	for _, uid := range f.rotated {
		old, older := f.state(t, uid)
		require.Zero(t, old+older, uid)
	}
}

// TestResealRecordsWithTheWrongKeyFailsAndWritesNothing: an escrow key
// that is not the accounts' stops the run (exit 1) at the first account,
// audited as failed with wrong_secret, and nothing is written.
func TestResealRecordsWithTheWrongKeyFailsAndWritesNothing(t *testing.T) {
	f := newRecFixture(t, 3, 0, 0)
	other := newKeyFiles(t, "other")
	args := f.args()
	for i, a := range args {
		if a == f.key.priv {
			args[i] = other.priv
		}
	}
	r := runBin(t, nil, nil, args...)
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "piivault reseal:")
	lines := recordLines(t, r.stdout)
	require.Len(t, lines, 1, "the run stops at the first failure")
	rec := lines[f.rotated[0]][0]
	require.Equal(t, resultFailed, rec["result"])
	require.Equal(t, "wrong_secret", rec["error"])
	_, sum := records(t, r.stdout)
	require.Equal(t, false, sum["complete"])
	for _, uid := range f.rotated {
		old, _ := f.state(t, uid)
		require.Equal(t, 3, old)
	}
}

// TestResealRecordsFromAKeyInAnHSM: the escrow key held in a PKCS#11 token
// (the ECDH runs in the token) reseals the records likewise.
func TestResealRecordsFromAKeyInAnHSM(t *testing.T) {
	module := itest.Env(t, "PIIVAULT_PKCS11_MODULE")
	useCLIToken(t)
	tokLabel, pin := itest.Env(t, "PIIVAULT_PKCS11_TOKEN"), itest.Env(t, "PIIVAULT_PKCS11_PIN")
	label := itest.Env(t, "PIIVAULT_PKCS11_EC_LABEL")
	tok, err := pkcs11hsm.Open(module, tokLabel, pin)
	require.NoError(t, err)
	k, err := tok.ECKey(label)
	require.NoError(t, err)
	pub, err := hpke.NewDHKEMPublicKey(k.PublicKey())
	require.NoError(t, err)
	require.NoError(t, tok.Close()) // the CLI opens its own session
	fp, err := escrow.FingerprintOf(pub)
	require.NoError(t, err)
	hsmR, err := escrow.NewRecipient(pub, fp, testPurpose)
	require.NoError(t, err)

	f := &recFixture{dsn: pgtest.DSN(t), plaintext: map[[2]string]string{}}
	f.fill(t, hsmR, 3, 0, 0)
	r := runBin(t, nil, nil, "reseal", "records", "-dsn", f.dsn, "-key-pkcs11", label, "-actor", "agent-7", "-reason", "ticket-1234")
	require.Equal(t, 0, r.code, r.stderr)
	_, sum := records(t, r.stdout)
	require.Equal(t, float64(9), sum["records_resealed"])
	ids := append([]string(nil), f.rotated...)
	sort.Strings(ids)
	for _, uid := range ids {
		old, older := f.state(t, uid)
		require.Zero(t, old+older, uid)
		h, _, err := f.store.Get(t.Context(), uid)
		require.NoError(t, err)
		hdr, err := envelope.ParseHeader(h)
		require.NoError(t, err)
		owned := false
		for _, s := range hdr.Stanzas {
			owned = owned || hsmR.Owns(s)
		}
		require.True(t, owned, "%s lost its escrow stanza", uid)
	}
}
