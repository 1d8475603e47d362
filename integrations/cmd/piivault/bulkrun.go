package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// parseBulkFlags parses the flags of a bulk command over PostgreSQL
// (escrow rotate/purge, reseal, reseal records) and makes the checks they
// share, in this order: no stray arguments, -dsn (or $PIIVAULT_DSN, filled
// into *dsn), then -actor and -reason. The command checks its own flags
// after.
func parseBulkFlags(e *env, fs *cmdFlags, args []string, dsn, actor, reason *string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *dsn == "" {
		*dsn = e.getenv("PIIVAULT_DSN")
	}
	switch {
	case *dsn == "":
		return usagef("no database: pass -dsn or set PIIVAULT_DSN")
	case *actor == "" || *reason == "":
		return usagef("-actor and -reason are required (they go in every audit record)")
	}
	return nil
}

// endBulkRun ends a bulk run that stopped with runErr (nil: it completed)
// at cursor (the last item done, "" if none): it adds resume_after to the
// summary when the run did not complete, writes the summary to stdout and,
// if the run was interrupted, says so on stderr (interrupted, then the
// -resume-after hint followed by resumeHint). It returns the error the
// command ends with: nil only when the run completed and the summary was
// written.
func endBulkRun(ctx context.Context, e *env, summary map[string]any, runErr error, cursor, interrupted, resumeHint string) error {
	if runErr != nil && cursor != "" {
		summary["resume_after"] = cursor
	}
	if err := json.NewEncoder(e.stdout).Encode(summary); err != nil {
		return err
	}
	if runErr != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "%s", interrupted)
			if cursor != "" {
				fmt.Fprintf(e.stderr, ", or add -resume-after %q%s", cursor, resumeHint)
			}
			fmt.Fprintln(e.stderr)
			return errors.New("interrupted")
		}
		return runErr
	}
	return nil
}

// bulkLabel is the progress and result line label of a run.
func bulkLabel(label string, dryRun bool) string {
	if dryRun {
		label += " (dry run)"
	}
	return label
}
