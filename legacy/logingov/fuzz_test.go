package logingov

import (
	"context"
	"strings"
	"testing"

	"github.com/piivault/piivault/internal/fipstest"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
)

// FuzzOpenPassword: any stored value either opens to a JSON object or
// gives exactly one error kind; it never panics, never runs more than one
// scrypt, and never gets past a 4 MiB memory budget (costlier values are
// refused, not run).
func FuzzOpenPassword(f *testing.F) {
	fipstest.Skip(f, fipstest.Scrypt)
	fx := newFixture(f)
	r, err := NewReader(Config{KMS: fx.kms, Local: &LocalKeys{Pepper: testPepper}, MemoryBudget: 4 << 20})
	if err != nil {
		f.Fatal(err)
	}
	for _, layer := range []string{logingovtest.KMSc, logingovtest.LOCc, logingovtest.KMSx, logingovtest.Local} {
		f.Add(fx.seal(uuidJane, testPW, []byte(`{"first_name":"Jane"}`), logingovtest.Options{Layer: layer}))
	}
	f.Add(fx.seal(uuidJane, testPW, []byte("null"), logingovtest.Options{}))
	f.Add([]byte(`{"encrypted_data":"S01UY1siQUFBQSJd","salt":"` + strings.Repeat("0", 64) + `","cost":"800$8$1$"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		runs := r.scryptRuns.Load()
		pii, err := r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
		if d := r.scryptRuns.Load() - runs; d > 1 {
			t.Fatalf("%d scrypt runs", d)
		}
		if err != nil {
			if pii != nil {
				t.Fatal("PII returned with an error")
			}
			return
		}
		if pii.attrs == nil {
			t.Fatal("opened without an object")
		}
		if _, err := Inspect(v); err != nil {
			t.Fatalf("opened but Inspect refuses: %v", err)
		}
	})
}

// FuzzParseCost: an accepted cost is within every cap and its canonical
// form parses to the same Cost.
func FuzzParseCost(f *testing.F) {
	for _, s := range []string{"10000$8$1$", "800$8$1$", "4000$8$4$", "4000000000000000$8$1$", "0x10$8$1$", "2$1$1$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCost(s)
		if err != nil {
			return
		}
		if c.N < 2 || c.N > MaxScryptN || c.N&(c.N-1) != 0 || c.R < 1 || c.P < 1 || c.R*c.P > MaxScryptRP || 128*c.R*c.N > MaxScryptMemory {
			t.Fatalf("%q accepted as %+v", s, c)
		}
		again, err := ParseCost(c.String())
		if err != nil || again != c {
			t.Fatalf("%q: canonical %q does not round trip", s, c.String())
		}
	})
}

// FuzzNormalizePersonalKey: an accepted key is four groups of four
// Crockford symbols, and normalizing it again gives it back.
func FuzzNormalizePersonalKey(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn-pqrs", "oi1l oi1l oi1l oi1l", "ABCD-EFGH-JKMN-PQRU", "ÀBCD-EFGH-JKMN-PQRS"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := NormalizePersonalKey(s)
		if err != nil {
			return
		}
		if len(k) != 19 {
			t.Fatalf("%q -> %q", s, k)
		}
		for i, c := range k {
			if i%5 == 4 {
				if c != ' ' {
					t.Fatalf("%q -> %q", s, k)
				}
			} else if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", rune(c)) {
				t.Fatalf("%q -> %q", s, k)
			}
		}
		again, err := NormalizePersonalKey(string(k))
		if err != nil || string(again) != string(k) {
			t.Fatalf("%q not idempotent", k)
		}
	})
}
