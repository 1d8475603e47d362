package main

import (
	"bytes"
	"crypto/hpke"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/integrations/pkcs11hsm"
	"github.com/piivault/piivault/vault"
)

const testPurpose = "account-recovery"

// escrowKeys writes an escrow key pair's files and returns their paths and
// the public key's fingerprint.
type keyFiles struct {
	priv, pub, fp string
	id            *escrow.Identity
	r             *escrow.Recipient
}

func newKeyFiles(t *testing.T, name string) keyFiles {
	t.Helper()
	priv, err := escrow.GenerateKey(escrow.SuiteP256)
	require.NoError(t, err)
	fp, err := escrow.FingerprintOf(priv.PublicKey())
	require.NoError(t, err)
	privPEM, err := escrow.MarshalPrivateKey(priv)
	require.NoError(t, err)
	pubPEM, err := escrow.MarshalPublicKey(priv.PublicKey())
	require.NoError(t, err)
	dir := t.TempDir()
	k := keyFiles{priv: filepath.Join(dir, name+".key"), pub: filepath.Join(dir, name+".pub"), fp: fp.String()}
	require.NoError(t, os.WriteFile(k.priv, privPEM, 0o600))
	require.NoError(t, os.WriteFile(k.pub, pubPEM, 0o644))
	k.id, err = escrow.NewIdentity(priv, testPurpose)
	require.NoError(t, err)
	k.r, err = escrow.NewRecipient(priv.PublicKey(), fp, testPurpose)
	require.NoError(t, err)
	return k
}

// fixture is a database of n escrowed accounts (and noEscrow without).
type fixture struct {
	dsn      string
	store    *pgstore.Store
	old, new keyFiles
	ids      []string // escrowed
	plain    []string // escrow off
}

func newFixture(t *testing.T, n, noEscrow int) *fixture {
	t.Helper()
	f := &fixture{dsn: pgtest.DSN(t), old: newKeyFiles(t, "old"), new: newKeyFiles(t, "new")}
	var err error
	f.store, err = pgstore.Open(t.Context(), f.dsn)
	require.NoError(t, err)
	t.Cleanup(f.store.Close)
	withEscrow, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: f.old.r})
	require.NoError(t, err)
	without, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	enroll := func(v *vault.Vault, uid string) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := v.EnrollInStore(t.Context(), f.store, uid, []byte("pw")); err != nil {
				t.Error(err)
			}
		})
	}
	for i := range n {
		f.ids = append(f.ids, fmt.Sprintf("user-%04d", i))
		enroll(withEscrow, f.ids[i])
	}
	for i := range noEscrow {
		f.plain = append(f.plain, fmt.Sprintf("plain-%04d", i))
		enroll(without, f.plain[i])
	}
	wg.Wait()
	require.False(t, t.Failed())
	return f
}

func (f *fixture) rotateArgs(extra ...string) []string {
	return append([]string{"escrow", "rotate", "-old-key", f.old.priv, "-new-key", f.new.pub,
		"-new-fingerprint", f.new.fp, "-actor", "agent-7", "-reason", "ticket-1234"}, extra...)
}

// records parses stdout: audit records by user id (each user's results in
// order) and the summary.
func records(t *testing.T, stdout string) (map[string][]string, map[string]any) {
	t.Helper()
	byUser := map[string][]string{}
	var summary map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "stdout line %q", line)
		if rec["msg"] == "piivault summary" {
			require.Nil(t, summary, "two summaries")
			summary = rec
			continue
		}
		require.Nil(t, summary, "a record after the summary")
		require.Equal(t, "agent-7", rec["actor"])
		require.Equal(t, "ticket-1234", rec["reason"])
		uid := rec["user_id"].(string)
		byUser[uid] = append(byUser[uid], rec["result"].(string))
	}
	require.NotNil(t, summary, "no summary record")
	return byUser, summary
}

// onNewKey counts the accounts of ids whose escrow stanza opens with the
// new key (each must open with one of the two).
func (f *fixture) onNewKey(t *testing.T, ids []string) int {
	t.Helper()
	n := 0
	for _, uid := range ids {
		acct, _, err := f.store.Get(t.Context(), uid)
		require.NoError(t, err)
		h, err := envelope.ParseHeader(acct)
		require.NoError(t, err)
		b := envelope.Binding{UserID: uid, Label: vault.AccountLabel}
		if _, err := envelope.UnwrapKey(t.Context(), h, b, f.new.id); err == nil {
			n++
			continue
		}
		_, err = envelope.UnwrapKey(t.Context(), h, b, f.old.id)
		require.NoError(t, err, "account %s opens with neither escrow key", uid)
	}
	return n
}

func TestEscrowRotateDryRunThenRunThenRerunSkips(t *testing.T) {
	f := newFixture(t, 12, 3)
	env := []string{"PIIVAULT_DSN=" + f.dsn}

	r := runBin(t, nil, env, f.rotateArgs("-dry-run")...)
	require.Equal(t, 0, r.code, r.stderr)
	byUser, sum := records(t, r.stdout)
	require.Len(t, byUser, 15)
	for _, uid := range f.ids {
		require.Equal(t, []string{resultWouldChange}, byUser[uid])
	}
	for _, uid := range f.plain {
		require.Equal(t, []string{escrow.ResultNoEscrow}, byUser[uid])
	}
	require.Equal(t, float64(12), sum["would_change"])
	require.Equal(t, true, sum["dry_run"])
	require.Zero(t, f.onNewKey(t, f.ids), "a dry run wrote nothing")
	require.Contains(t, r.stderr, "escrow rotate 0/1 (dry run): 15/15 (100%)", "plain progress lines when not a terminal")

	r = runBin(t, nil, env, f.rotateArgs("-batch", "4", "-workers", "3")...)
	require.Equal(t, 0, r.code, r.stderr)
	byUser, sum = records(t, r.stdout)
	for _, uid := range f.ids {
		require.Equal(t, []string{escrow.ResultChanged}, byUser[uid])
	}
	require.Equal(t, float64(12), sum["changed"])
	require.Equal(t, float64(3), sum["no_escrow"])
	require.Equal(t, true, sum["complete"])
	require.Equal(t, 12, f.onNewKey(t, f.ids))

	r = runBin(t, nil, env, f.rotateArgs()...)
	require.Equal(t, 0, r.code, r.stderr)
	_, sum = records(t, r.stdout)
	require.Equal(t, float64(12), sum["skipped"], "a second run changes nothing")
	require.Equal(t, float64(0), sum["changed"])
}

func TestEscrowRotateShardsRunConcurrentlyDoEveryAccountOnce(t *testing.T) {
	f := newFixture(t, 40, 0)
	const n = 3
	outs := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outs[i] = runBin(t, nil, nil, f.rotateArgs("-dsn", f.dsn, "-shard", fmt.Sprintf("%d/%d", i, n), "-batch", "5")...)
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, r := range outs {
		require.Equal(t, 0, r.code, r.stderr)
		byUser, sum := records(t, r.stdout)
		require.Equal(t, fmt.Sprintf("%d/%d", i, n), sum["shard"])
		for uid, res := range byUser {
			require.Equal(t, []string{escrow.ResultChanged}, res, "shard %d, %s", i, uid)
			require.True(t, pgstore.Shard{Index: i, Count: n}.Has(uid))
			seen[uid]++
		}
	}
	require.Len(t, seen, len(f.ids), "every account done")
	for uid, c := range seen {
		require.Equal(t, 1, c, "account %s done by %d shards", uid, c)
	}
	require.Equal(t, len(f.ids), f.onNewKey(t, f.ids))
}

func TestEscrowRotateStopsCleanlyOnInterruptAndResumes(t *testing.T) {
	f := newFixture(t, 150, 0)
	stdout, stderr := runBinInterrupted(t, f.rotateArgs("-dsn", f.dsn, "-batch", "10", "-workers", "1")...)
	require.Contains(t, stderr, "interrupted: every account is valid")
	byUser, sum := records(t, stdout)
	require.Equal(t, false, sum["complete"])
	cursor, _ := sum["resume_after"].(string)
	require.NotEmpty(t, cursor, "stderr: %s", stderr)
	require.Contains(t, stderr, fmt.Sprintf("-resume-after %q", cursor))
	first := f.onNewKey(t, f.ids)
	require.Less(t, first, len(f.ids), "the interrupt stopped the run early")
	require.GreaterOrEqual(t, first, 15)

	r := runBin(t, nil, nil, f.rotateArgs("-dsn", f.dsn, "-resume-after", cursor)...)
	require.Equal(t, 0, r.code, r.stderr)
	byUser2, sum2 := records(t, r.stdout)
	require.Equal(t, true, sum2["complete"])
	for _, uid := range f.ids {
		changed := 0
		for _, res := range append(byUser[uid], byUser2[uid]...) {
			if res == escrow.ResultChanged {
				changed++
			}
		}
		if changed == 0 {
			// Its write was in flight at the interrupt: reported as failed,
			// it landed anyway (atomically), and the second run skipped it.
			require.Contains(t, byUser[uid], escrow.ResultFailed, "account %s never changed", uid)
		}
		require.LessOrEqual(t, changed, 1, "account %s changed twice over the two runs", uid)
		if uid <= cursor {
			require.Empty(t, byUser2[uid], "the resumed run skipped the finished pages")
		}
	}
	require.Equal(t, len(f.ids), f.onNewKey(t, f.ids))
}

func TestEscrowPurgeRemovesEveryEscrowStanza(t *testing.T) {
	f := newFixture(t, 6, 2)
	r := runBin(t, nil, nil, "escrow", "purge", "-dsn", f.dsn, "-key", f.old.priv, "-actor", "agent-7", "-reason", "ticket-1234")
	require.Equal(t, 0, r.code, r.stderr)
	byUser, sum := records(t, r.stdout)
	require.Equal(t, float64(6), sum["changed"])
	require.Equal(t, float64(2), sum["no_escrow"])
	for _, uid := range f.ids {
		require.Equal(t, []string{escrow.ResultChanged}, byUser[uid])
		acct, _, err := f.store.Get(t.Context(), uid)
		require.NoError(t, err)
		h, err := envelope.ParseHeader(acct)
		require.NoError(t, err)
		for _, st := range h.Stanzas {
			require.False(t, escrow.IsEscrowStanza(st), "account %s still has an escrow stanza", uid)
		}
	}
}

func TestEscrowRotateWithTheWrongOldKeyFailsAndChangesNothing(t *testing.T) {
	f := newFixture(t, 5, 0)
	other := newKeyFiles(t, "other")
	args := f.rotateArgs("-dsn", f.dsn)
	for i, a := range args {
		if a == f.old.priv {
			args[i] = other.priv
		}
	}
	r := runBin(t, nil, nil, args...)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "piivault escrow:")
	_, sum := records(t, r.stdout)
	require.Equal(t, false, sum["complete"])
	require.Zero(t, f.onNewKey(t, f.ids))
}

func TestInspectShowsTheEscrowFingerprint(t *testing.T) {
	f := newFixture(t, 1, 0)
	acct, _, err := f.store.Get(t.Context(), f.ids[0])
	require.NoError(t, err)
	r := runBin(t, acct, nil, "inspect", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var ins Inspection
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))
	require.Equal(t, []string{f.old.fp}, ins.Escrow)
	require.Len(t, ins.Stanzas, 3)
	require.Equal(t, "escrow", ins.Stanzas[2].Role)
	require.Equal(t, "hpke (DHKEM(P-256))", ins.Stanzas[2].Type)
}

func TestProgressBarOnATerminalPlainLinesOtherwise(t *testing.T) {
	f := newFixture(t, 30, 0)
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	cmd := exec.Command(binPath, f.rotateArgs("-dsn", f.dsn, "-batch", "7")...)
	var so bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, tty
	require.NoError(t, cmd.Start())
	tty.Close()
	var termOut bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&termOut, ptmx) // ends with EIO once the child exits
		close(done)
	}()
	require.NoError(t, cmd.Wait())
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("terminal output did not end")
	}
	out := termOut.String()
	require.Contains(t, out, "\r\x1b[K", "the bar redraws its line in place")
	require.Contains(t, out, "["+strings.Repeat("=", barWidth)+"] 30/30 100%")
	require.NotContains(t, out, "(10%)", "no plain lines on a terminal")
	require.Contains(t, out, "30 changed")
	_, sum := records(t, so.String())
	require.Equal(t, float64(30), sum["changed"], "stdout stays JSON: the bar goes to the terminal only")
}

func TestEscrowRotateFromAKeyInAnHSM(t *testing.T) {
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

	dsn := pgtest.DSN(t)
	s, err := pgstore.Open(t.Context(), dsn)
	require.NoError(t, err)
	defer s.Close()
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: hsmR})
	require.NoError(t, err)
	ids := []string{"user-a", "user-b", "user-c"}
	for _, uid := range ids {
		_, err := v.EnrollInStore(t.Context(), s, uid, []byte("pw"))
		require.NoError(t, err)
	}
	newK := newKeyFiles(t, "new")
	r := runBin(t, nil, nil, "escrow", "rotate", "-dsn", dsn, "-old-key-pkcs11", label,
		"-new-key", newK.pub, "-new-fingerprint", newK.fp, "-actor", "agent-7", "-reason", "ticket-1234")
	require.Equal(t, 0, r.code, r.stderr)
	_, sum := records(t, r.stdout)
	require.Equal(t, float64(3), sum["changed"])
	f := &fixture{store: s, new: newK}
	require.Equal(t, 3, f.onNewKey(t, ids))

	// Without the PIN in the environment: a usage error, nothing read.
	r = runBin(t, nil, []string{"PIIVAULT_PKCS11_PIN="}, "escrow", "purge", "-dsn", dsn, "-key-pkcs11", label, "-actor", "a", "-reason", "r")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "PIIVAULT_PKCS11_PIN")
}
