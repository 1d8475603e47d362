package fipstest

import (
	"crypto/fips140"
	"strings"
	"testing"
)

// TestReasonsAreDeclaredOnceAndNamed: every reason has a unique, non-empty
// name and an explanation, and its skip message starts with Marker.
func TestReasonsAreDeclaredOnceAndNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if r.name == "" || r.why == "" || strings.ContainsAny(r.name, "() ") {
			t.Errorf("reason %+v incomplete", r)
		}
		if seen[r.name] {
			t.Errorf("reason %q declared twice", r.name)
		}
		seen[r.name] = true
	}
}

// TestSkipOnlyInFIPSMode: outside FIPS mode Skip lets the test run; in
// FIPS mode a reason that holds skips it.
func TestSkipOnlyInFIPSMode(t *testing.T) {
	ran := false
	t.Run("argon2id", func(t *testing.T) {
		Skip(t, Argon2id)
		ran = true
	})
	if ran == fips140.Enabled() {
		t.Fatalf("fips140.Enabled()=%v but test ran=%v", fips140.Enabled(), ran)
	}
}

// TestZeroReasonIsRefused: a Reason not declared here cannot skip.
func TestZeroReasonIsRefused(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Active accepted a zero Reason")
		}
	}()
	Active(Reason{})
}
