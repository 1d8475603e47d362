// Command piivault is the operators' tool for piivault deployments.
//
//	piivault inspect [-json] [-policy default|fips] [FILE|-]
//	piivault calibrate [-target 500ms] [-memory 64MiB] [-threads 4]
//	piivault bench [-params TEXT] [-long]
//	piivault vectors [-dir testdata]
//	piivault escrow rotate|purge [flags]   (over PostgreSQL; -h for flags)
//	piivault reseal [flags]                (shred's key table over PostgreSQL)
//	piivault reseal records [flags]        (vault records, with the escrow key, over PostgreSQL)
//
// inspect reads an account record or a sealed record and prints what can
// be read without any key: format version, generations, stanza types,
// escrow key fingerprints, KDF parameters and whether they meet the
// policy, sizes. It never prints a secret, a salt or a wrapped key.
//
// escrow rotate and escrow purge work through a PostgreSQL store
// (integrations/pgstore; DSN from -dsn or PIIVAULT_DSN), one shard of n
// (-shard i/n) if asked, in pages, with a progress bar on a terminal (plain
// lines otherwise), one JSON audit record per account on stdout and a
// summary record last. Ctrl-C stops cleanly between accounts; running the
// same command again resumes (accounts already done are skipped), and
// -resume-after skips the pages the interrupted run finished. reseal and
// reseal records (vault records under older account keys, opened with the
// escrow key through vault.UnlockWithEscrow) work the same way.
//
// Exit status: 0 success, 1 failure, 2 usage error. Results go to stdout,
// diagnostics (progress, errors) to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is the process's world, replaced in tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stderr is a terminal (progress bar).
	isTerminal bool
}

// errUsage marks an error as a usage error (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"inspect", "describe an account or record (never a secret)", runInspect},
		{"calibrate", "pick Argon2id parameters for a target latency and memory", runCalibrate},
		{"bench", "time KDF, unlock and seal on this machine", runBench},
		{"vectors", "check that the test vectors in testdata open", runVectors},
		{"escrow", "escrow rotate / purge over PostgreSQL", runEscrow},
		{"reseal", "re-wrap shred's user keys under the current data key; \"reseal records\": reseal vault records (PostgreSQL)", runReseal},
	}
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, "piivault is the operators' tool for piivault deployments.\n\nUsage:\n\n\tpiivault <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"piivault <command> -h\" for a command's flags.\nExit status: 0 success, 1 failure, 2 usage error.\n")
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		mainUsage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		mainUsage(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ue usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(e.stderr, "piivault %s: %v\nRun \"piivault %s -h\" for usage.\n", c.name, err, c.name)
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "piivault %s: %v\n", c.name, err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "piivault: unknown command %q\n", args[0])
	mainUsage(e.stderr)
	return exitUsage
}

// cmdFlags is a subcommand's FlagSet with its help text.
type cmdFlags struct {
	*flag.FlagSet
	help func()
}

// newFlags returns a FlagSet whose -h prints usage to stdout (a result)
// and whose errors are usage errors (the message goes to stderr).
func newFlags(e *env, name, args, about string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, help: func() {
		fmt.Fprintf(e.stdout, "Usage: piivault %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}}
}

// parse parses args; -h prints usage and returns flag.ErrHelp, a bad flag
// is a usage error.
func parse(fs *cmdFlags, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.help()
		return err
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, the next one kills the process the
		// default way: a stuck stop can still be forced.
		<-ctx.Done()
		stop()
	}()
	e := &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: isTerminal(os.Stderr.Fd()),
	}
	os.Exit(run(ctx, e, os.Args[1:]))
}
