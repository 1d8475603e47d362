// Command skipcheck reads `go test -json` output on standard input and
// fails (exit 1) if any test failed, if any package failed to build, if no
// test passed, or if a test skipped without an accepted reason. It is how
// CI makes sure that a run under GODEBUG=fips140=only really ran what it
// should: a test may step aside there only through fipstest.Skip, naming
// one of fipstest.Reasons.
//
//	GODEBUG=fips140=only go test -json ./... > fips.json
//	go run ./internal/fipstest/skipcheck -fips < fips.json
//
// Flags:
//
//	-fips           accept skips made by fipstest.Skip with a declared reason
//	-allow RE       accept skips of tests whose "package TestName" matches RE
//	                (tests that skip everywhere by design, such as opt-in
//	                golden-file writers)
//	-want-run RE    fail unless a passed test matches RE; may be given more
//	                than once (each must match); shows that what must run ran
//
// It prints a summary: passed, skipped by reason, and the output of each
// failing or wrongly skipped test.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/piivault/piivault/internal/fipstest"
)

type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

type key struct{ pkg, test string }

func main() {
	fips := flag.Bool("fips", false, "accept skips made by fipstest.Skip with a declared reason")
	allow := flag.String("allow", "", `regexp of "package TestName" allowed to skip`)
	var wantRE []*regexp.Regexp
	flag.Func("want-run", `regexp of "package TestName" that a passed test must match (repeatable)`, func(v string) error {
		re, err := regexp.Compile(v)
		wantRE = append(wantRE, re)
		return err
	})
	flag.Parse()
	var allowRE *regexp.Regexp
	var err error
	if *allow != "" {
		if allowRE, err = regexp.Compile(*allow); err != nil {
			fatalf("-allow: %v", err)
		}
	}
	r, err := check(os.Stdin, *fips, allowRE, wantRE...)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Print(r.summary)
	if len(r.problems) > 0 {
		fmt.Printf("\nskipcheck: %d problem(s):\n", len(r.problems))
		for _, p := range r.problems {
			fmt.Println(p)
		}
		os.Exit(1)
	}
	fmt.Println("skipcheck: ok")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "skipcheck: "+format+"\n", args...)
	os.Exit(2)
}

type result struct {
	summary  string
	problems []string
}

// skipReason returns the declared fipstest reason named in a skipped
// test's output, or "" if there is none.
func skipReason(out string) string {
	i := strings.Index(out, fipstest.Marker+" (")
	if i < 0 {
		return ""
	}
	rest := out[i+len(fipstest.Marker)+2:]
	j := strings.IndexByte(rest, ')')
	if j < 0 {
		return ""
	}
	name := rest[:j]
	for _, r := range fipstest.Reasons() {
		if r.Name() == name {
			return name
		}
	}
	return ""
}

func check(in io.Reader, fips bool, allow *regexp.Regexp, wantRun ...*regexp.Regexp) (result, error) {
	var res result
	output := map[key]*strings.Builder{}
	buildOut := map[string]*strings.Builder{}
	var passed, pkgsOK int
	wantSeen := make([]bool, len(wantRun))
	skippedBy := map[string]int{}
	var badSkips, fails []string
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var e event
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return res, fmt.Errorf("reading go test -json: %v", err)
		}
		k := key{e.Package, e.Test}
		name := strings.TrimSpace(e.Package + " " + e.Test)
		switch e.Action {
		case "output":
			b := output[k]
			if b == nil {
				b = &strings.Builder{}
				output[k] = b
			}
			b.WriteString(e.Output)
		case "build-output":
			b := buildOut[e.ImportPath]
			if b == nil {
				b = &strings.Builder{}
				buildOut[e.ImportPath] = b
			}
			b.WriteString(e.Output)
		case "build-fail":
			fails = append(fails, fmt.Sprintf("BUILD FAIL %s\n%s", e.ImportPath, text(buildOut[e.ImportPath])))
		case "pass":
			if e.Test == "" {
				pkgsOK++
				continue
			}
			passed++
			for i, re := range wantRun {
				if re.MatchString(name) {
					wantSeen[i] = true
				}
			}
		case "fail":
			fails = append(fails, fmt.Sprintf("FAIL %s\n%s", name, text(output[k])))
		case "skip":
			if e.Test == "" {
				continue // a package with no test files
			}
			out := text(output[k])
			switch reason := skipReason(out); {
			case fips && reason != "":
				skippedBy["fipstest:"+reason]++
			case allow != nil && allow.MatchString(name):
				skippedBy["allowed by name"]++
			default:
				badSkips = append(badSkips, fmt.Sprintf("SKIP WITHOUT AN ACCEPTED REASON %s\n%s", name, out))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "skipcheck: %d packages passed, %d tests passed\n", pkgsOK, passed)
	reasons := make([]string, 0, len(skippedBy))
	for r := range skippedBy {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "skipcheck: %d skipped (%s)\n", skippedBy[r], r)
	}
	res.summary = b.String()
	res.problems = append(fails, badSkips...)
	if passed == 0 {
		res.problems = append(res.problems, "NO TEST PASSED")
	}
	for i, re := range wantRun {
		if !wantSeen[i] {
			res.problems = append(res.problems, fmt.Sprintf("NO PASSED TEST MATCHES -want-run %q", re))
		}
	}
	return res, nil
}

func text(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}
