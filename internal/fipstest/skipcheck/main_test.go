package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"
)

// stream builds go test -json lines: one test that passed, and the given
// test skipped with msg as its output.
func stream(t *testing.T, skipped, msg string) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, e := range []event{
		{Action: "run", Package: "p", Test: "TestRan"},
		{Action: "pass", Package: "p", Test: "TestRan"},
		{Action: "run", Package: "p", Test: skipped},
		{Action: "output", Package: "p", Test: skipped, Output: "    x_test.go:9: " + msg + "\n"},
		{Action: "skip", Package: "p", Test: skipped},
		{Action: "pass", Package: "p"},
	} {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func run(t *testing.T, in string, fips bool, allow, want *regexp.Regexp) []string {
	t.Helper()
	var wants []*regexp.Regexp
	if want != nil {
		wants = append(wants, want)
	}
	r, err := check(strings.NewReader(in), fips, allow, wants...)
	if err != nil {
		t.Fatal(err)
	}
	return r.problems
}

// TestSkipWithoutFipstestReasonFailsTheCheck: a plain t.Skip (the way a
// broken envelope package once made every vault test skip) is a problem in
// the FIPS run; the same test skipped through fipstest.Skip is not.
func TestSkipWithoutFipstestReasonFailsTheCheck(t *testing.T) {
	bad := stream(t, "TestVault", "SKIP under fips140=only: the envelope package fails: boom")
	if p := run(t, bad, true, nil, nil); len(p) != 1 || !strings.Contains(p[0], "TestVault") {
		t.Fatalf("plain skip not reported: %q", p)
	}
	good := stream(t, "TestVault", fipstest.Marker+" "+fipstest.Argon2id.String())
	if p := run(t, good, true, nil, nil); len(p) != 0 {
		t.Fatalf("fipstest skip reported: %q", p)
	}
	// Without -fips, even a fipstest skip is refused (the kdf run without
	// -race must run everything).
	if p := run(t, good, false, nil, nil); len(p) != 1 {
		t.Fatalf("fipstest skip accepted without -fips: %q", p)
	}
}

// TestSkipNamingAnUndeclaredReasonFailsTheCheck: copying the marker with a
// reason fipstest does not declare does not pass.
func TestSkipNamingAnUndeclaredReasonFailsTheCheck(t *testing.T) {
	in := stream(t, "TestX", fipstest.Marker+" (envelope-broken): it fails")
	if p := run(t, in, true, nil, nil); len(p) != 1 {
		t.Fatalf("undeclared reason accepted: %q", p)
	}
}

// TestAllowListAndWantRun: -allow accepts a skip by name only; -want-run
// fails when the named test did not pass.
func TestAllowListAndWantRun(t *testing.T) {
	in := stream(t, "TestWriteGolden", "set PIIVAULT_WRITE_GOLDEN=1")
	if p := run(t, in, true, regexp.MustCompile(`^p TestWriteGolden$`), nil); len(p) != 0 {
		t.Fatalf("allowed skip reported: %q", p)
	}
	if p := run(t, in, true, regexp.MustCompile(`^p TestOther$`), nil); len(p) != 1 {
		t.Fatalf("skip outside the allow list accepted: %q", p)
	}
	allow := regexp.MustCompile(`TestWriteGolden`)
	if p := run(t, in, true, allow, regexp.MustCompile(`^p TestRan$`)); len(p) != 0 {
		t.Fatalf("want-run of a passed test reported: %q", p)
	}
	if p := run(t, in, true, allow, regexp.MustCompile(`^p TestWriteGolden$`)); len(p) != 1 {
		t.Fatalf("want-run of a skipped test not reported: %q", p)
	}
}

// TestFailuresAndEmptyRunsFailTheCheck: a failed test, a build failure and
// a run where nothing passed are all problems.
func TestFailuresAndEmptyRunsFailTheCheck(t *testing.T) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, e := range []event{
		{Action: "build-output", ImportPath: "q [q.test]", Output: "q.go:1: syntax error\n"},
		{Action: "build-fail", ImportPath: "q [q.test]"},
		{Action: "fail", Package: "p", Test: "TestBroken"},
	} {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	p := run(t, b.String(), true, nil, nil)
	if len(p) != 3 {
		t.Fatalf("want build failure, test failure and no-pass reported, got %q", p)
	}
}
