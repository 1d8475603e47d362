package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
)

// Audit event and results of reseal.
const (
	eventShredKeyReseal = "shred_key_reseal"
	resultResealed      = "resealed"
	resultCurrent       = "current"
	resultConflict      = "conflict"
	resultWouldReseal   = "would_reseal"
	resultFailed        = "failed"
)

// dataKeyFlag collects -current / -older values: ID=FILE, FILE holding the
// wrapped data key bytes exactly as serverkey.GenerateDataKey returned them.
type dataKeyFlag struct{ keys []serverkey.WrappedKey }

func (d *dataKeyFlag) String() string { return "" }

func (d *dataKeyFlag) Set(v string) error {
	id, path, ok := strings.Cut(v, "=")
	if !ok || id == "" || path == "" {
		return fmt.Errorf("want ID=FILE, got %q", v)
	}
	b, err := readKeyFile(path)
	if err != nil {
		return err
	}
	d.keys = append(d.keys, serverkey.WrappedKey{ID: id, Wrapped: b})
	return nil
}

func runReseal(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "records" {
		return runResealRecords(ctx, e, args[1:])
	}
	fs := newFlags(e, "reseal", "-kek-pkcs11 LABEL -current ID=FILE [-older ID=FILE]... -actor WHO -reason WHY [flags]",
		"Reseal re-wraps every user key of shred's key table (shred.SQLKeyStore on\n"+
			"PostgreSQL) under the current serverkey data key, after a data key rotation,\n"+
			"with serverkey.Rotate: keys already current are left alone (no KMS call), each\n"+
			"change is one compare-and-swap UPDATE, a key changed meanwhile is counted as a\n"+
			"conflict for the next run. Keep the older data keys until a run ends with no\n"+
			"conflict. The key-encrypting key is an AES key in a PKCS#11 token\n"+
			"(pkcs11hsm.KWPAEAD; PIN from $PIIVAULT_PKCS11_PIN only); each data key file holds\n"+
			"the wrapped bytes serverkey.GenerateDataKey returned.\n\n"+
			"Over PostgreSQL (-dsn or PIIVAULT_DSN), one shard of n if asked. stdout: one JSON\n"+
			"audit record per user key, then a summary; stderr: progress and errors. Ctrl-C\n"+
			"stops between keys; run again to resume (or pass -resume-after).\n\n"+
			"\"piivault reseal records\" reseals vault records after account-key rotations,\n"+
			"with the escrow key: run \"piivault reseal records -h\" for its flags.")
	dsn := fs.String("dsn", "", "PostgreSQL DSN (default: $PIIVAULT_DSN)")
	table := fs.String("table", "piivault_shred_keys", "shred key table")
	shardFlag := fs.String("shard", "", "process shard i of n only (i/n, by SHA-256 of the user id)")
	dryRun := fs.Bool("dry-run", false, "report which keys would be resealed; no KMS call, nothing written")
	batch := fs.Int("batch", 256, "keys per page")
	after := fs.String("resume-after", "", "start after this user id (printed by an interrupted run)")
	actor := fs.String("actor", "", "who runs this (audit; required)")
	reason := fs.String("reason", "", "why (audit; required)")
	kekLabel := fs.String("kek-pkcs11", "", "label of the AES key-encrypting key in the PKCS#11 token")
	p11Module := fs.String("pkcs11-module", "", "PKCS#11 module path (default: $PIIVAULT_PKCS11_MODULE)")
	p11Token := fs.String("pkcs11-token", "", "PKCS#11 token label (default: $PIIVAULT_PKCS11_TOKEN)")
	var current, older dataKeyFlag
	fs.Var(&current, "current", "the current data key: ID=FILE (wrapped bytes)")
	fs.Var(&older, "older", "an older data key still in use, ID=FILE; repeat, newest first")
	if err := parseBulkFlags(e, fs, args, dsn, actor, reason); err != nil {
		return err
	}
	switch {
	case len(current.keys) != 1:
		return usagef("exactly one -current ID=FILE is required")
	case *kekLabel == "":
		return usagef("-kek-pkcs11 is required")
	case *batch < 1 || *batch > pgstore.MaxPage:
		return usagef("-batch %d: want 1..%d", *batch, pgstore.MaxPage)
	}
	shard, err := pgstore.ParseShard(*shardFlag)
	if err != nil {
		return usageError{err}
	}
	module, token, pin := *p11Module, *p11Token, e.getenv("PIIVAULT_PKCS11_PIN")
	if module == "" {
		module = e.getenv("PIIVAULT_PKCS11_MODULE")
	}
	if token == "" {
		token = e.getenv("PIIVAULT_PKCS11_TOKEN")
	}
	if module == "" || token == "" || pin == "" {
		return usagef("the key-encrypting key needs -pkcs11-module (or $PIIVAULT_PKCS11_MODULE), -pkcs11-token (or $PIIVAULT_PKCS11_TOKEN) and $PIIVAULT_PKCS11_PIN")
	}
	tok, kek, err := openTokenKWP(module, token, pin, *kekLabel)
	if err != nil {
		return err
	}
	defer tok.Close()
	kr, err := serverkey.New(serverkey.Config{KEK: kek, Current: current.keys[0], Older: older.keys})
	if err != nil {
		return err
	}
	defer kr.Close()

	db, err := sql.Open("pgx", *dsn)
	if err != nil {
		return errors.New("invalid DSN")
	}
	defer db.Close()
	keys, err := shred.NewSQLKeyStore(db, shred.PostgreSQL, *table)
	if err != nil {
		return usageError{err}
	}
	// The table name passed shred's check ([a-z0-9_]): safe in SQL.
	q := "SELECT count(*) FROM " + *table + " WHERE user_id > $1"
	qargs := []any{*after}
	if shard.Count > 1 {
		q += " AND " + pgstore.ShardCondition("user_id", 2, 3)
		qargs = append(qargs, int64(shard.Count), int64(shard.Index))
	}
	var total int
	if err := db.QueryRowContext(ctx, q, qargs...).Scan(&total); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	label := bulkLabel("reseal "+shard.String(), *dryRun)
	a := &auditedKeys{
		inner: keys, shard: shard, kr: kr, dryRun: *dryRun,
		log:  slog.New(slog.NewJSONHandler(e.stdout, nil)),
		prog: newProgress(e.stderr, e.isTerminal, label, total),
		attrs: []slog.Attr{
			slog.String("event", eventShredKeyReseal), slog.String("actor", *actor), slog.String("reason", *reason),
		},
	}
	var (
		p      serverkey.Progress
		runErr error
	)
	if *dryRun {
		p, runErr = a.classify(ctx, *after, *batch)
	} else {
		p, runErr = serverkey.Rotate(ctx, kr, a, serverkey.RotateOptions{PageSize: *batch, Cursor: *after, StopOnError: true})
		a.endPage(runErr)
	}
	a.prog.finish()
	summary := map[string]any{
		"msg": "piivault summary", "event": eventShredKeyReseal, "shard": shard.String(), "dry_run": *dryRun,
		"scanned": a.scanned, "resealed": p.Rotated, "current": a.current, "conflicts": p.Conflicts,
		"failed": p.Failed, "complete": runErr == nil,
	}
	if *dryRun {
		summary["would_reseal"] = a.would
	}
	if err := endBulkRun(ctx, e, summary, runErr, p.Cursor,
		"interrupted: every key is valid (old or new data key); run the same command again to resume", ""); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d resealed, %d current, %d conflicts", label, p.Rotated, a.current, p.Conflicts)
	if *dryRun {
		fmt.Fprintf(e.stderr, ", %d would be resealed", a.would)
	}
	fmt.Fprintln(e.stderr)
	if p.Conflicts > 0 {
		fmt.Fprintln(e.stderr, "conflicts: keys changed meanwhile; run again before retiring the older data keys")
	}
	return nil
}

// auditedKeys is the key table seen by serverkey.Rotate through one shard,
// writing one audit record per key: current ones when their page is read
// (Rotate skips them), the others at their Replace, and the one that
// stopped the run (StopOnError) as failed.
type auditedKeys struct {
	inner  *shred.SQLKeyStore
	shard  pgstore.Shard
	kr     *serverkey.Keyring
	dryRun bool
	log    *slog.Logger
	attrs  []slog.Attr
	prog   *progress

	pending                 []string // this page's keys needing a reseal, not yet replaced
	scanned, current, would int
}

func (a *auditedKeys) record(ctx context.Context, userID, result string, err error) {
	level, outcome := slog.LevelInfo, "success"
	attrs := append([]slog.Attr{slog.String("user_id", userID)}, a.attrs...)
	attrs = append(attrs, slog.String("result", result))
	if err != nil {
		level, outcome = slog.LevelWarn, "failure"
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	a.log.LogAttrs(context.WithoutCancel(ctx), level, "piivault audit", attrs...)
}

// Page implements serverkey.AttributeStore: the next keys of the shard.
func (a *auditedKeys) Page(ctx context.Context, cursor string, limit int) ([]serverkey.Attribute, string, error) {
	a.endPage(nil)
	for {
		page, next, err := a.inner.Page(ctx, cursor, limit)
		if err != nil || len(page) == 0 {
			return nil, next, err
		}
		var mine []serverkey.Attribute
		for _, at := range page {
			if !a.shard.Has(at.UserID) {
				continue
			}
			mine = append(mine, at)
			a.scanned++
			if !a.kr.NeedsRotation(at.Ciphertext) {
				if _, err := serverkey.KeyIDOf(at.Ciphertext); err == nil {
					a.current++
					a.record(ctx, at.UserID, resultCurrent, nil)
					a.prog.set(a.scanned - len(a.pending))
					continue
				}
			}
			a.pending = append(a.pending, at.UserID)
		}
		if len(mine) > 0 {
			return mine, next, nil
		}
		cursor = next
	}
}

// Replace implements serverkey.AttributeStore, auditing the outcome.
func (a *auditedKeys) Replace(ctx context.Context, userID, name string, old, next []byte) error {
	err := a.inner.Replace(ctx, userID, name, old, next)
	switch {
	case err == nil:
		a.record(ctx, userID, resultResealed, nil)
	case errors.Is(err, serverkey.ErrConflict):
		a.record(ctx, userID, resultConflict, nil)
	default:
		a.record(ctx, userID, resultFailed, err)
	}
	if i := indexOf(a.pending, userID); i >= 0 {
		a.pending = append(a.pending[:i], a.pending[i+1:]...)
	}
	a.prog.set(a.scanned - len(a.pending))
	return err
}

// endPage settles the page just processed: with runErr (StopOnError), the
// first key still pending is the one that failed; the rest were not
// reached (no record).
func (a *auditedKeys) endPage(runErr error) {
	if runErr != nil && len(a.pending) > 0 && !errors.Is(runErr, context.Canceled) {
		a.record(context.Background(), a.pending[0], resultFailed, runErr)
	}
	a.pending = a.pending[:0]
}

// classify (the dry run) classifies every key of the shard: no KMS call, nothing written.
func (a *auditedKeys) classify(ctx context.Context, cursor string, limit int) (serverkey.Progress, error) {
	p := serverkey.Progress{Cursor: cursor}
	for {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		page, next, err := a.inner.Page(ctx, p.Cursor, limit)
		if err != nil {
			return p, err
		}
		if len(page) == 0 {
			return p, nil
		}
		for _, at := range page {
			if !a.shard.Has(at.UserID) {
				continue
			}
			a.scanned++
			p.Scanned++
			result := resultWouldReseal
			if _, err := serverkey.KeyIDOf(at.Ciphertext); err == nil && !a.kr.NeedsRotation(at.Ciphertext) {
				result = resultCurrent
				a.current++
			} else {
				a.would++
			}
			a.record(ctx, at.UserID, result, nil)
			a.prog.set(a.scanned)
		}
		p.Cursor = next
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
