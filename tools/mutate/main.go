// Command mutate is piivault's mutation suite: it shows that the tests bite.
//
// Each mutation in mutations.go is a small, deliberate bug in code that
// carries a security property (a commitment check, a binding, a cap, a
// KDF-run count, ...). mutate copies the repository to a temporary
// directory once, then for each mutation alone: replaces the mutation's
// exact text (which must occur exactly once in its file), runs the tests of
// the packages named with it, restores the file, and records whether a test
// failed ("caught", with the first failing test) or all passed ("missed").
//
// The run fails (exit 1) when
//   - a property mutation is missed,
//   - a mutation no longer applies (its text moved or changed): the list
//     must follow the code,
//   - a mutation does not compile (it would be caught by the compiler, not
//     by a test, so it proves nothing).
//
// Mutations marked harmless are bugs that by design do not weaken a
// property; they are run and reported, never fail the run, and AUDIT.md
// gives the argument for each.
//
// Usage (from the repository root):
//
//	go run ./tools/mutate            # every mutation (the whole suite)
//	go run ./tools/mutate -fast      # the subset CI runs
//	go run ./tools/mutate -run ID    # mutations whose id matches a regexp
//	go run ./tools/mutate -list      # print the list and exit
//
// mutate is a tool, not part of the library: nothing imports it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A Mutation is one deliberate bug.
type Mutation struct {
	ID       string   // short, unique, kebab-case
	Property string   // the guarantee it breaks, as AUDIT.md words it
	File     string   // path from the repository root
	From     string   // exact text; must occur exactly once in File
	To       string   // its replacement
	Packages []string // packages whose tests must catch it, e.g. "./vault/"
	// Harmless is non-empty for a mutation that by design weakens nothing:
	// the AUDIT.md section that argues why.
	Harmless string
	Fast     bool // part of the subset CI runs
}

type outcome int

const (
	caught outcome = iota
	missed
	stale     // From does not occur exactly once
	noCompile // the mutant does not build
)

func (o outcome) String() string {
	return [...]string{"caught", "MISSED", "STALE", "NO-COMPILE"}[o]
}

type result struct {
	m       Mutation
	outcome outcome
	by      string // first failing test, or a note
	took    time.Duration
}

func main() {
	fast := flag.Bool("fast", false, "run only the mutations marked Fast (the CI subset)")
	runRe := flag.String("run", "", "run only mutations whose id matches this regexp")
	list := flag.Bool("list", false, "print the mutations and exit")
	timeout := flag.Duration("timeout", 6*time.Minute, "time limit for one mutation's tests")
	keep := flag.Bool("keep", false, "keep the temporary copy of the repository")
	flag.Parse()

	muts, err := selectMutations(mutations, *fast, *runRe)
	if err != nil {
		fatal(err)
	}
	if err := checkList(mutations); err != nil {
		fatal(err)
	}
	if *list {
		for _, m := range muts {
			kind := "property"
			if m.Harmless != "" {
				kind = "harmless"
			}
			fmt.Printf("%-34s %-8s %-5v %s\n", m.ID, kind, m.Fast, m.Property)
		}
		return
	}
	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	// Every mutation of the list, not only those selected: a -fast run in
	// CI then fails as soon as an edit leaves any mutation stale.
	if err := checkTexts(root, mutations); err != nil {
		fatal(err)
	}
	tmp, err := os.MkdirTemp("", "piivault-mutate-")
	if err != nil {
		fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	}
	if err := copyTree(root, tmp); err != nil {
		fatal(err)
	}
	fmt.Printf("mutate: %d mutations on a copy in %s\n", len(muts), tmp)

	var results []result
	for i, m := range muts {
		fmt.Printf("[%d/%d] %s ... ", i+1, len(muts), m.ID)
		r := runOne(tmp, m, *timeout)
		fmt.Printf("%s %s (%s)\n", r.outcome, r.by, r.took.Round(time.Second))
		results = append(results, r)
	}
	if printTable(os.Stdout, results) {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(1)
}

func selectMutations(all []Mutation, fast bool, runRe string) ([]Mutation, error) {
	var re *regexp.Regexp
	if runRe != "" {
		var err error
		if re, err = regexp.Compile(runRe); err != nil {
			return nil, err
		}
	}
	var out []Mutation
	for _, m := range all {
		if fast && !m.Fast {
			continue
		}
		if re != nil && !re.MatchString(m.ID) {
			continue
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("no mutation selected")
	}
	return out, nil
}

// checkList refuses a list with duplicate ids or incomplete entries.
func checkList(all []Mutation) error {
	seen := map[string]bool{}
	for _, m := range all {
		switch {
		case m.ID == "" || m.File == "" || m.From == "" || len(m.Packages) == 0 || m.Property == "":
			return fmt.Errorf("mutation %q: id, property, file, from and packages are required", m.ID)
		case seen[m.ID]:
			return fmt.Errorf("mutation %q listed twice", m.ID)
		case m.From == m.To:
			return fmt.Errorf("mutation %q changes nothing", m.ID)
		}
		seen[m.ID] = true
	}
	return nil
}

// checkTexts reports every mutation whose From text does not occur exactly
// once in its file (a stale mutation would test nothing).
func checkTexts(root string, all []Mutation) error {
	var stale []string
	for _, m := range all {
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			stale = append(stale, fmt.Sprintf("%s: %v", m.ID, err))
			continue
		}
		if n := bytes.Count(src, []byte(m.From)); n != 1 {
			stale = append(stale, fmt.Sprintf("%s: text found %d times in %s", m.ID, n, m.File))
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%d stale mutations (update From to the code as it is now):\n  %s", len(stale), strings.Join(stale, "\n  "))
	}
	return nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w (run from inside the repository)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies the module tree without .git and build outputs.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "node_modules":
				if rel != "." {
					return filepath.SkipDir
				}
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

var failRe = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

func runOne(dir string, m Mutation, timeout time.Duration) result {
	start := time.Now()
	r := result{m: m}
	path := filepath.Join(dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		r.outcome, r.by = stale, "file missing"
		return r
	}
	if n := bytes.Count(orig, []byte(m.From)); n != 1 {
		r.outcome, r.by = stale, fmt.Sprintf("text found %d times in %s", n, m.File)
		return r
	}
	mutant := bytes.Replace(orig, []byte(m.From), []byte(m.To), 1)
	if err := os.WriteFile(path, mutant, 0o644); err != nil {
		fatal(err)
	}
	defer func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			fatal(err)
		}
	}()

	// Build first, so a compile error is told apart from a failing test.
	vet := exec.Command("go", append([]string{"test", "-count=1", "-run", "^$"}, m.Packages...)...)
	vet.Dir = dir
	if out, err := vet.CombinedOutput(); err != nil {
		r.outcome, r.by = noCompile, firstLine(out)
		r.took = time.Since(start)
		return r
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"test", "-count=1", "-short", "-failfast"}, m.Packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	r.took = time.Since(start)
	switch {
	case ctx.Err() != nil:
		r.outcome, r.by = caught, "timeout (the tests hung)"
	case err == nil:
		r.outcome, r.by = missed, "-"
	default:
		r.outcome = caught
		if mm := failRe.FindAllSubmatch(out, -1); len(mm) > 0 {
			r.by = string(mm[0][1]) // the top-level test; its subtests follow it

		} else {
			r.by = "test binary failed: " + firstLine(out)
		}
	}
	return r
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			if len(l) > 120 {
				l = l[:120] + "..."
			}
			return l
		}
	}
	return "?"
}

// printTable prints the results as a Markdown table and reports whether the
// run failed.
func printTable(w io.Writer, results []result) (failed bool) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| mutation | property | result | by |")
	fmt.Fprintln(w, "|---|---|---|---|")
	var nCaught, nProp, nHarmless int
	for _, r := range results {
		res := r.outcome.String()
		if r.m.Harmless != "" {
			nHarmless++
			res = "harmless by design (" + r.m.Harmless + "), " + strings.ToLower(res)
			if r.outcome == stale || r.outcome == noCompile {
				failed = true
			}
		} else {
			nProp++
			if r.outcome == caught {
				nCaught++
			} else {
				failed = true
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.m.ID, r.m.Property, res, r.by)
	}
	fmt.Fprintf(w, "\n%d of %d property mutations caught; %d harmless by design (see AUDIT.md)\n", nCaught, nProp, nHarmless)
	if failed {
		fmt.Fprintln(w, "FAIL: a property mutation was missed, or a mutation no longer applies or does not compile")
	}
	return failed
}
