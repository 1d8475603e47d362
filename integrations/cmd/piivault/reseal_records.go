package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/vault"
)

// Audit event and results of reseal records (the "result" attribute).
const (
	eventRecordsReseal   = "records_reseal"
	resultRecordsDone    = "resealed"  // opened with the escrow key, records resealed
	resultRecordsCurrent = "current"   // nothing to do: not opened
	resultRecordsNoEsc   = "no_escrow" // no escrow stanza: needs the user's password
	resultRecordsMissing = "missing"   // account deleted meanwhile
	resultRecordsConf    = "conflict"  // account changed meanwhile: run again
	resultRecordsWould   = "would_reseal"
	resultRecordsStopped = "interrupted" // Ctrl-C while resealing it: run again
)

const resealRecordsAbout = "Reseal records reseals, under each account's current key, the records\n" +
	"(pgstore's piivault_records) still sealed under an older account key, after\n" +
	"account-key rotations (vault.RotateAccountKey, recoveries), with no password:\n" +
	"each account is opened with the escrow private key (-key, a private key file,\n" +
	"or -key-pkcs11, a key held in an HSM) by vault.UnlockWithEscrow, which changes\n" +
	"nothing and is audited with -actor and -reason; vault.ResealInStore rewrites\n" +
	"each old record by compare-and-swap (same plaintext) and then drops the older\n" +
	"keys from the account; the handle is closed before the next account.\n" +
	"Accounts whose records are all current and that carry no older key are not\n" +
	"opened. Accounts without escrow are reported (no_escrow) and left alone: only\n" +
	"the user's password opens them.\n\n" +
	"Over PostgreSQL (-dsn or PIIVAULT_DSN), one account at a time in user id order,\n" +
	"one shard of n if asked. stdout: one JSON audit record per account, then a\n" +
	"summary; stderr: progress and errors. -dry-run reads only (no key needed,\n" +
	"nothing opened or written) and counts the records that would be resealed.\n" +
	"Ctrl-C stops cleanly (every record opens, under the old key or the new); run\n" +
	"the same command again to resume, or pass the -resume-after value it prints."

// recordsStats counts a reseal records run.
type recordsStats struct {
	accounts, resealedAccounts, current, noEscrow, missing, conflicts int
	records, recordsCurrent, wouldRecords, dropped                    int
}

func runResealRecords(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reseal records", "-key FILE|-key-pkcs11 LABEL -actor WHO -reason WHY [flags]", resealRecordsAbout)
	dsn := fs.String("dsn", "", "PostgreSQL DSN (default: $PIIVAULT_DSN)")
	shardFlag := fs.String("shard", "", "process shard i of n only (i/n, by SHA-256 of the user id)")
	dryRun := fs.Bool("dry-run", false, "count what would be resealed; open nothing, write nothing")
	batch := fs.Int("batch", 500, "accounts per page")
	after := fs.String("resume-after", "", "start after this user id (printed by an interrupted run)")
	actor := fs.String("actor", "", "who runs this (audit; required)")
	reason := fs.String("reason", "", "why: ticket, change number (audit; required)")
	purpose := fs.String("purpose", "account-recovery", "the escrow purpose the key was made for")
	keyFile := fs.String("key", "", "escrow private key file (PEM)")
	keyHSM := fs.String("key-pkcs11", "", "or: label of the escrow key (EC P-256) in a PKCS#11 token")
	p11Module := fs.String("pkcs11-module", "", "PKCS#11 module path (default: $PIIVAULT_PKCS11_MODULE); the PIN is read from $PIIVAULT_PKCS11_PIN only")
	p11Token := fs.String("pkcs11-token", "", "PKCS#11 token label (default: $PIIVAULT_PKCS11_TOKEN)")
	vaultAudit := fs.String("vault-audit", "", "also append the vault's own audit events (unlock_with_escrow, reseal) to this file, as JSON lines")
	if err := parseBulkFlags(e, fs, args, dsn, actor, reason); err != nil {
		return err
	}
	switch {
	case *batch < 1 || *batch > pgstore.MaxPage:
		return usagef("-batch %d: want 1..%d", *batch, pgstore.MaxPage)
	case *keyFile != "" && *keyHSM != "":
		return usagef("give the escrow key as a file or as a PKCS#11 label, not both")
	case *keyFile == "" && *keyHSM == "" && !*dryRun:
		return usagef("-key or -key-pkcs11 is required")
	}
	shard, err := pgstore.ParseShard(*shardFlag)
	if err != nil {
		return usageError{err}
	}

	var (
		id *escrow.Identity
		v  *vault.Vault
	)
	if !*dryRun {
		switch {
		case *keyFile != "":
			if id, err = loadIdentity(*keyFile, *purpose); err != nil {
				return err
			}
		default:
			tok, hid, err := hsmIdentity(e, *p11Module, *p11Token, *keyHSM, *purpose)
			if err != nil {
				return err
			}
			defer tok.Close()
			id = hid
		}
		// The vault rewrites each account once, to drop its older keys: it
		// must keep the escrow stanza, so Config.Escrow is the same key
		// (its public half). Without it the rewrite would drop escrow.
		r, err := escrow.NewRecipient(id.PublicKey(), id.Fingerprint(), *purpose)
		if err != nil {
			return err
		}
		cfg := vault.Config{Escrow: r}
		if *vaultAudit != "" {
			f, err := os.OpenFile(*vaultAudit, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			cfg.Audit = slog.New(slog.NewJSONHandler(f, nil))
		}
		if v, err = vault.New(cfg); err != nil {
			return err
		}
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
	label := bulkLabel(fmt.Sprintf("reseal records %s", shard), *dryRun)
	prog := newProgress(e.stderr, e.isTerminal, label, total)
	rr := &recordsResealer{
		v: v, id: id, store: store, dryRun: *dryRun, actor: *actor, reason: *reason,
		log: slog.New(slog.NewJSONHandler(e.stdout, nil)),
	}

	var (
		cursor = *after
		runErr error
	)
pages:
	for {
		ids, err := store.UserIDs(ctx, shard, cursor, *batch)
		if err != nil {
			runErr = err
			break
		}
		for _, uid := range ids {
			if err := ctx.Err(); err != nil {
				runErr = err
				break pages
			}
			if err := rr.one(ctx, uid); err != nil {
				runErr = err
				break pages
			}
			cursor = uid // every account up to here is done
			prog.set(rr.st.accounts)
		}
		if len(ids) < *batch {
			break
		}
	}
	prog.finish()
	st := rr.st
	summary := map[string]any{
		"msg": "piivault summary", "event": eventRecordsReseal, "shard": shard.String(), "dry_run": *dryRun,
		"accounts": st.accounts, "resealed_accounts": st.resealedAccounts, "current": st.current,
		"no_escrow": st.noEscrow, "missing": st.missing, "conflicts": st.conflicts,
		"records_resealed": st.records, "records_current": st.recordsCurrent, "older_keys_dropped": st.dropped,
		"complete": runErr == nil,
	}
	if *dryRun {
		summary["would_reseal_records"] = st.wouldRecords
	}
	if err := endBulkRun(ctx, e, summary, runErr, cursor,
		"interrupted: every record opens (old or new key); run the same command again to resume", " to skip the finished accounts"); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d accounts, %d resealed (%d records), %d current, %d without escrow, %d missing, %d conflicts",
		label, st.accounts, st.resealedAccounts, st.records, st.current, st.noEscrow, st.missing, st.conflicts)
	if *dryRun {
		fmt.Fprintf(e.stderr, ", %d records would be resealed", st.wouldRecords)
	}
	fmt.Fprintln(e.stderr)
	if st.conflicts > 0 {
		fmt.Fprintln(e.stderr, "conflicts: accounts changed meanwhile; run again")
	}
	return nil
}

// recordsResealer reseals one account at a time.
type recordsResealer struct {
	v             *vault.Vault // nil in a dry run
	id            *escrow.Identity
	store         *pgstore.Store
	dryRun        bool
	actor, reason string
	log           *slog.Logger
	st            recordsStats
}

// plan reads, without any key, what the account needs: whether it has an
// escrow stanza, how many records are not under its current key
// generation, and whether it carries older keys (to drop). The key
// generations read here are not authenticated: they only decide whether
// the account is opened (a forged "current" leaves work for a later run,
// never a wrong write).
func (r *recordsResealer) plan(ctx context.Context, uid string, account []byte) (hasEscrow bool, old, current int, older bool, err error) {
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return false, 0, 0, false, fmt.Errorf("account %q: %w", uid, err)
	}
	for _, s := range h.Stanzas {
		hasEscrow = hasEscrow || escrow.IsEscrowStanza(s)
	}
	labels, err := r.store.Labels(ctx, uid)
	if err != nil {
		return false, 0, 0, false, err
	}
	for _, label := range labels {
		sealed, _, err := r.store.GetRecord(ctx, uid, label)
		if errors.Is(err, vault.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, 0, 0, false, err
		}
		if gen, err := envelope.RecordGeneration(sealed); err == nil && gen == h.KeyGeneration() {
			current++
		} else {
			old++
		}
	}
	return hasEscrow, old, current, len(h.OlderKeyGenerations()) > 0, nil
}

// one handles one account and writes its audit record. An error stops the
// run; a conflict or an account without escrow does not.
func (r *recordsResealer) one(ctx context.Context, uid string) error {
	r.st.accounts++
	account, _, err := r.store.Get(ctx, uid)
	if errors.Is(err, vault.ErrNotFound) {
		r.st.missing++
		r.record(ctx, uid, resultRecordsMissing, false, nil)
		return nil
	}
	if err != nil {
		r.record(ctx, uid, resultFailed, false, err)
		return err
	}
	hasEscrow, old, current, older, err := r.plan(ctx, uid, account)
	if err != nil {
		r.record(ctx, uid, resultFailed, false, err)
		return err
	}
	counts := []slog.Attr{slog.Int("records_old", old), slog.Int("records_current", current)}
	switch {
	case old == 0 && !older:
		r.st.current++
		r.st.recordsCurrent += current
		r.record(ctx, uid, resultRecordsCurrent, false, nil, counts...)
		return nil
	case !hasEscrow:
		r.st.noEscrow++
		r.record(ctx, uid, resultRecordsNoEsc, false, nil, counts...)
		return nil
	case r.dryRun:
		r.st.wouldRecords += old
		r.st.recordsCurrent += current
		r.record(ctx, uid, resultRecordsWould, false, nil, counts...)
		return nil
	}
	u, err := r.v.UnlockWithEscrow(ctx, uid, account, r.id, r.actor, r.reason)
	if err != nil {
		r.record(ctx, uid, resultFailed, false, err)
		return fmt.Errorf("account %q: %w", uid, err)
	}
	st, err := r.v.ResealInStore(ctx, u, r.store, r.store, nil)
	u.Close()
	r.st.records += st.Resealed
	r.st.recordsCurrent += st.Current
	done := []slog.Attr{slog.Int("records_resealed", st.Resealed), slog.Int("records_current", st.Current),
		slog.Int("records_missing", st.Missing), slog.Bool("older_keys_dropped", st.DroppedOlderKeys)}
	switch {
	case err == nil:
		r.st.resealedAccounts++
		if st.DroppedOlderKeys {
			r.st.dropped++
		}
		r.record(ctx, uid, resultRecordsDone, true, nil, done...)
		return nil
	case errors.Is(err, vault.ErrConflict):
		r.st.conflicts++
		r.record(ctx, uid, resultRecordsConf, true, nil, done...)
		return nil
	case ctx.Err() != nil:
		r.record(ctx, uid, resultRecordsStopped, true, err, done...)
		return err
	}
	r.record(ctx, uid, resultFailed, true, err, done...)
	return fmt.Errorf("account %q: %w", uid, err)
}

// record writes the account's audit record: never a key or record content.
func (r *recordsResealer) record(ctx context.Context, uid, result string, unwrapped bool, err error, extra ...slog.Attr) {
	level, outcome := slog.LevelInfo, "success"
	if err != nil {
		level, outcome = slog.LevelWarn, "failure"
	}
	msg := "piivault audit"
	if r.dryRun {
		msg = "piivault dry-run"
	}
	attrs := []slog.Attr{
		slog.String("event", eventRecordsReseal), slog.String("user_id", uid), slog.String("result", result),
		slog.String("outcome", outcome), slog.Bool("key_unwrapped", unwrapped),
		slog.String("actor", r.actor), slog.String("reason", r.reason),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errClass(err)))
	}
	attrs = append(attrs, extra...)
	r.log.LogAttrs(context.WithoutCancel(ctx), level, msg, attrs...)
}

// errClass maps an error to a fixed word for the audit record (its text
// could quote input).
func errClass(err error) string {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, vault.ErrWrongSecret):
		return "wrong_secret"
	case errors.Is(err, vault.ErrUnrecoverable):
		return "unrecoverable"
	case errors.Is(err, vault.ErrCorrupt), errors.Is(err, envelope.ErrMalformed), errors.Is(err, envelope.ErrHeaderAuth):
		return "bad_record"
	case errors.Is(err, vault.ErrInvalidInput):
		return "invalid_input"
	}
	return "internal"
}
