package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/vault"
)

const escrowUsage = `Usage: piivault escrow <rotate|purge> [flags]

  rotate   rewrap every account's escrow stanza from the old escrow key to a new one
  purge    remove every account's escrow stanzas

Both work over the PostgreSQL store of integrations/pgstore (-dsn or
PIIVAULT_DSN), in pages of -batch accounts ordered by user id, optionally on
one shard of n (-shard i/n: n workers on n machines split the table with no
overlap). Each account is one compare-and-swap write: a stop at any point
leaves every account valid. Ctrl-C stops between accounts; run the same
command again to resume (accounts already done are skipped), or pass the
-resume-after value it prints to skip the finished pages.

stdout: one JSON audit record per account (actor, reason, result), then a
summary record. stderr: progress (a bar on a terminal) and errors.
Run "piivault escrow rotate -h" for the flags.
`

func runEscrow(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("escrow: want rotate or purge")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, escrowUsage)
		return flag.ErrHelp
	case "rotate":
		return runEscrowBulk(ctx, e, "rotate", args[1:])
	case "purge":
		return runEscrowBulk(ctx, e, "purge", args[1:])
	}
	return usagef("escrow: unknown subcommand %q: want rotate or purge", args[0])
}

// maxKeyFile bounds a key file read.
const maxKeyFile = 16 << 10

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		clear(b)
		return nil, fmt.Errorf("%s: over %d bytes", path, maxKeyFile)
	}
	return b, nil
}

func loadIdentity(path, purpose string) (*escrow.Identity, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	priv, err := escrow.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return escrow.NewIdentity(priv, purpose)
}

// hsmIdentity opens the escrow key labelled label in a PKCS#11 token: the
// ECDH runs in the token, the private key never leaves it. The PIN comes
// from the environment only (a flag would show in the process list).
func hsmIdentity(e *env, module, token, label, purpose string) (io.Closer, *escrow.Identity, error) {
	if module == "" {
		module = e.getenv("PIIVAULT_PKCS11_MODULE")
	}
	if token == "" {
		token = e.getenv("PIIVAULT_PKCS11_TOKEN")
	}
	pin := e.getenv("PIIVAULT_PKCS11_PIN")
	if module == "" || token == "" || pin == "" {
		return nil, nil, usagef("a PKCS#11 key needs -pkcs11-module (or $PIIVAULT_PKCS11_MODULE), -pkcs11-token (or $PIIVAULT_PKCS11_TOKEN) and $PIIVAULT_PKCS11_PIN")
	}
	tok, k, err := openTokenECKey(module, token, pin, label)
	if err != nil {
		return nil, nil, err
	}
	id, err := escrow.NewKeyExchangerIdentity(k, purpose)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return tok, id, nil
}

func loadRecipient(path, fingerprint, purpose string) (*escrow.Recipient, error) {
	fp, err := escrow.ParseFingerprint(fingerprint)
	if err != nil {
		return nil, usageError{fmt.Errorf("-new-fingerprint: %w", err)}
	}
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := escrow.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return escrow.NewRecipient(pub, fp, purpose)
}

// Dry-run results (the "result" attribute of a dry run's records).
const resultWouldChange = "would_change"

func runEscrowBulk(ctx context.Context, e *env, op string, args []string) error {
	about := "Rotate rewraps each account's escrow stanzas from the old escrow key (-old-key,\n" +
		"a private key file, or -old-key-pkcs11, a key held in an HSM) to the new one\n" +
		"(-new-key, a public key file, pinned by -new-fingerprint). Accounts already\n" +
		"rotated are skipped; accounts without escrow are left alone. No password is needed."
	argsText := "-old-key FILE|-old-key-pkcs11 LABEL -new-key FILE -new-fingerprint HEX -actor WHO -reason WHY [flags]"
	if op == "purge" {
		about = "Purge removes every escrow stanza of each account, opening it with the escrow\n" +
			"key (-key, a private key file, or -key-pkcs11, a key held in an HSM). A purge is\n" +
			"final only once each account key is rotated: older copies of the records\n" +
			"(backups) still hold an escrow stanza."
		argsText = "-key FILE|-key-pkcs11 LABEL -actor WHO -reason WHY [flags]"
	}
	fs := newFlags(e, "escrow "+op, argsText, about+"\n\n"+
		"Over PostgreSQL (-dsn or PIIVAULT_DSN). stdout: one JSON audit record per account,\n"+
		"then a summary; stderr: progress and errors. Ctrl-C stops cleanly; run again to resume.")
	dsn := fs.String("dsn", "", "PostgreSQL DSN (default: $PIIVAULT_DSN)")
	shardFlag := fs.String("shard", "", "process shard i of n only (i/n, by SHA-256 of the user id)")
	dryRun := fs.Bool("dry-run", false, "read and report what would change; write nothing, unwrap nothing")
	workers := fs.Int("workers", 4, "concurrent accounts")
	batch := fs.Int("batch", 500, "accounts per page")
	after := fs.String("resume-after", "", "start after this user id (printed by an interrupted run)")
	actor := fs.String("actor", "", "who runs this (audit; required)")
	reason := fs.String("reason", "", "why: ticket, legal basis (audit; required)")
	purpose := fs.String("purpose", "account-recovery", "the escrow purpose the keys were made for")
	var oldKey, newKey, newFP, key *string
	keyHSM := new(string)
	if op == "rotate" {
		oldKey = fs.String("old-key", "", "old escrow private key file (PEM)")
		fs.StringVar(keyHSM, "old-key-pkcs11", "", "or: label of the old escrow key (EC P-256) in a PKCS#11 token")
		newKey = fs.String("new-key", "", "new escrow public key file (PEM)")
		newFP = fs.String("new-fingerprint", "", "the new key's fingerprint (hex), as pinned in the deployment")
	} else {
		key = fs.String("key", "", "escrow private key file (PEM)")
		fs.StringVar(keyHSM, "key-pkcs11", "", "or: label of the escrow key (EC P-256) in a PKCS#11 token")
		oldKey = key
	}
	p11Module := fs.String("pkcs11-module", "", "PKCS#11 module path (default: $PIIVAULT_PKCS11_MODULE); the PIN is read from $PIIVAULT_PKCS11_PIN only")
	p11Token := fs.String("pkcs11-token", "", "PKCS#11 token label (default: $PIIVAULT_PKCS11_TOKEN)")
	if err := parseBulkFlags(e, fs, args, dsn, actor, reason); err != nil {
		return err
	}
	switch {
	case *workers < 1 || *workers > 256:
		return usagef("-workers %d: want 1..256", *workers)
	case *batch < 1 || *batch > pgstore.MaxPage:
		return usagef("-batch %d: want 1..%d", *batch, pgstore.MaxPage)
	case op == "rotate" && (*newKey == "" || *newFP == ""):
		return usagef("-new-key and -new-fingerprint are required")
	case *oldKey != "" && *keyHSM != "":
		return usagef("give the escrow key as a file or as a PKCS#11 label, not both")
	case op == "rotate" && *oldKey == "" && *keyHSM == "" && !*dryRun:
		return usagef("-old-key or -old-key-pkcs11 is required")
	case op == "purge" && *key == "" && *keyHSM == "" && !*dryRun:
		return usagef("-key or -key-pkcs11 is required")
	}
	shard, err := pgstore.ParseShard(*shardFlag)
	if err != nil {
		return usageError{err}
	}

	var (
		id     envelope.Identity
		newR   *escrow.Recipient
		event  = escrow.EventEscrowPurge
		isDone = func(h *envelope.Header) bool { // purge: no escrow stanza left
			for _, st := range h.Stanzas {
				if escrow.IsEscrowStanza(st) {
					return false
				}
			}
			return true
		}
	)
	if op == "rotate" {
		event = escrow.EventEscrowRotate
		if newR, err = loadRecipient(*newKey, *newFP, *purpose); err != nil {
			return err
		}
		isDone = func(h *envelope.Header) bool {
			has, other := false, false
			for _, st := range h.Stanzas {
				if newR.Owns(st) {
					has = true
				} else if escrow.IsEscrowStanza(st) {
					other = true
				}
			}
			return has && !other
		}
	}
	switch {
	case *oldKey != "":
		if id, err = loadIdentity(*oldKey, *purpose); err != nil {
			return err
		}
	case *keyHSM != "":
		tok, hid, err := hsmIdentity(e, *p11Module, *p11Token, *keyHSM, *purpose)
		if err != nil {
			return err
		}
		defer tok.Close()
		id = hid
	}

	store, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	total, err := store.Count(ctx, shard, *after)
	if err != nil {
		return err
	}
	audit := escrow.Audit{Logger: slog.New(slog.NewJSONHandler(e.stdout, nil)), Actor: *actor, Reason: *reason}
	label := bulkLabel(fmt.Sprintf("escrow %s %s", op, shard), *dryRun)
	prog := newProgress(e.stderr, e.isTerminal, label, total)

	var (
		sum    escrow.Stats
		would  int
		done   int
		cursor = *after
		runErr error
	)
	for runErr == nil {
		ids, err := store.UserIDs(ctx, shard, cursor, *batch)
		if err != nil {
			runErr = err
			break
		}
		if len(ids) == 0 {
			break
		}
		base := done
		var st escrow.Stats
		if *dryRun {
			var w int
			st, w, err = dryRunPage(ctx, store, ids, isDone, audit, event, func(n int) { prog.set(base + n) })
			would += w
		} else if op == "rotate" {
			st, err = escrow.RotateAll(ctx, store, ids, id, newR, audit, *workers, func(n, _ int) { prog.set(base + n) })
		} else {
			st, err = escrow.PurgeAll(ctx, store, ids, id, audit, *workers, func(n, _ int) { prog.set(base + n) })
		}
		sum.Changed += st.Changed
		sum.Skipped += st.Skipped
		sum.NoEscrow += st.NoEscrow
		sum.Missing += st.Missing
		done += len(ids)
		if err != nil {
			runErr = err
			break
		}
		cursor = ids[len(ids)-1] // every account up to here is done
		if len(ids) < *batch {
			break
		}
	}
	prog.finish()
	summary := map[string]any{
		"msg": "piivault summary", "event": event, "shard": shard.String(), "dry_run": *dryRun,
		"changed": sum.Changed, "skipped": sum.Skipped, "no_escrow": sum.NoEscrow, "missing": sum.Missing,
		"complete": runErr == nil,
	}
	if *dryRun {
		summary["would_change"] = would
	}
	if err := endBulkRun(ctx, e, summary, runErr, cursor,
		"interrupted: every account is valid (old or new state); run the same command again to resume", " to skip the finished pages"); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d changed, %d skipped, %d without escrow, %d missing", label, sum.Changed, sum.Skipped, sum.NoEscrow, sum.Missing)
	if *dryRun {
		fmt.Fprintf(e.stderr, ", %d would change", would)
	}
	fmt.Fprintln(e.stderr)
	return nil
}

// dryRunPage classifies each account of ids as the real run would, reading
// only: no key is unwrapped, nothing is written. One record per account.
func dryRunPage(ctx context.Context, s vault.Store, ids []string, isDone func(*envelope.Header) bool, audit escrow.Audit, event string, progress func(int)) (escrow.Stats, int, error) {
	var st escrow.Stats
	would := 0
	for i, uid := range ids {
		if err := ctx.Err(); err != nil {
			return st, would, err
		}
		result := ""
		account, _, err := s.Get(ctx, uid)
		switch {
		case errors.Is(err, vault.ErrNotFound):
			result = escrow.ResultMissing
			st.Missing++
		case err != nil:
			return st, would, err
		default:
			h, err := envelope.ParseHeader(account)
			if err != nil {
				return st, would, fmt.Errorf("account %q: %w", uid, err)
			}
			hasEscrow := false
			for _, s := range h.Stanzas {
				hasEscrow = hasEscrow || escrow.IsEscrowStanza(s)
			}
			switch {
			case !hasEscrow:
				result = escrow.ResultNoEscrow
				st.NoEscrow++
			case isDone(h):
				result = escrow.ResultSkipped
				st.Skipped++
			default:
				result = resultWouldChange
				would++
			}
		}
		audit.Logger.LogAttrs(ctx, slog.LevelInfo, "piivault dry-run",
			slog.String("event", event), slog.String("user_id", uid), slog.String("result", result),
			slog.Bool("key_unwrapped", false), slog.String("actor", audit.Actor), slog.String("reason", audit.Reason))
		progress(i + 1)
	}
	return st, would, nil
}
