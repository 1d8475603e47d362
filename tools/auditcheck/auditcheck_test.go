package auditcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A reference in AUDIT.md: `pkg/path.TestName` (also Fuzz, Example,
// Benchmark), with pkg/path relative to the repository root.
var testRef = regexp.MustCompile("`([a-z0-9_/]+)\\.((?:Test|Fuzz|Example|Benchmark)[A-Za-z0-9_]*)`")

// A file reference: `testdata/...`, or any backticked path with an
// extension under a directory of the repository.
var fileRef = regexp.MustCompile("`((?:testdata|[a-z0-9_]+/)[A-Za-z0-9_./-]*\\.(?:json|md|txt|py|sql|go|sh))`")

const root = "../.."

func TestEveryTestNamedInAuditMdExists(t *testing.T) {
	audit, err := os.ReadFile(filepath.Join(root, "AUDIT.md"))
	if err != nil {
		t.Fatal(err)
	}
	refs := testRef.FindAllStringSubmatch(string(audit), -1)
	if len(refs) < 20 {
		t.Fatalf("AUDIT.md names only %d tests; the parser or the file is broken", len(refs))
	}
	cache := map[string]string{}
	for _, r := range refs {
		pkg, name := r[1], r[2]
		src, ok := cache[pkg]
		if !ok {
			src = testSources(t, pkg)
			cache[pkg] = src
		}
		if src == "" {
			t.Errorf("AUDIT.md names %s.%s, but %s has no _test.go files", pkg, name, pkg)
			continue
		}
		if !regexp.MustCompile(`(?m)^func ` + name + `\(`).MatchString(src) {
			t.Errorf("AUDIT.md names %s.%s, which does not exist", pkg, name)
		}
	}
	t.Logf("checked %d test references", len(refs))
}

func TestEveryFileNamedInAuditMdExists(t *testing.T) {
	audit, err := os.ReadFile(filepath.Join(root, "AUDIT.md"))
	if err != nil {
		t.Fatal(err)
	}
	refs := fileRef.FindAllStringSubmatch(string(audit), -1)
	if len(refs) == 0 {
		t.Fatal("AUDIT.md names no file; the parser or the file is broken")
	}
	for _, r := range refs {
		if _, err := os.Stat(filepath.Join(root, r[1])); err != nil {
			t.Errorf("AUDIT.md names %s: %v", r[1], err)
		}
	}
}

// testSources returns the concatenated _test.go sources of a package
// directory, or "" when it has none.
func testSources(t *testing.T, pkg string) string {
	files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
	var b strings.Builder
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
		b.WriteByte('\n')
	}
	return b.String()
}

// The parser itself must find references, or the tests above prove nothing.
func TestAuditReferenceParserFindsTestsAndFiles(t *testing.T) {
	line := "holds (`vault.TestUnlockCostsExactlyOneKDFRun`, `vault/disclosure.FuzzOpen`, `testdata/envelope/success.json`)"
	if got := testRef.FindAllStringSubmatch(line, -1); len(got) != 2 || got[0][1] != "vault" || got[1][2] != "FuzzOpen" {
		t.Fatalf("test refs: %q", got)
	}
	if got := fileRef.FindAllStringSubmatch(line, -1); len(got) != 1 || got[0][1] != "testdata/envelope/success.json" {
		t.Fatalf("file refs: %q", got)
	}
}
