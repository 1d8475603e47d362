package kdf

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
)

func TestDefaultPolicyNumbers(t *testing.T) {
	// These numbers are documented on DefaultPolicy with their sources;
	// changing one must be a deliberate, reviewed decision.
	pol := DefaultPolicy()
	want := map[string]string{
		"new":    "$argon2id$v=19$m=65536,t=3,p=4", // RFC 9106 section 4, second option
		"argon2": "$argon2id$v=19$m=19456,t=2,p=1", // OWASP minimum
		"scrypt": "$scrypt$ln=17,r=8,p=1",          // OWASP minimum
		"pbkdf2": "$pbkdf2-sha256$i=600000",        // OWASP, HMAC-SHA256
	}
	got := map[string]string{
		"new": pol.New.String(), "argon2": pol.FloorArgon2id.String(),
		"scrypt": pol.FloorScrypt.String(), "pbkdf2": pol.FloorPBKDF2.String(),
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("DefaultPolicy %s = %s, want %s", k, got[k], want[k])
		}
	}
	if err := pol.validate(); err != nil {
		t.Errorf("DefaultPolicy does not validate: %v", err)
	}
	fips := FIPSPolicy()
	if fips.New.String() != "$pbkdf2-sha256$i=600000" || fips.FloorArgon2id != (Params{}) || fips.FloorScrypt != (Params{}) {
		t.Errorf("FIPSPolicy = %+v", fips)
	}
	if err := fips.validate(); err != nil {
		t.Errorf("FIPSPolicy does not validate: %v", err)
	}
}

func TestCheckReportsMalformedThenNotAllowedThenTooCostly(t *testing.T) {
	def, fips := DefaultPolicy(), FIPSPolicy()
	// wide: DefaultPolicy with the work cap out of the way, to test the
	// field caps alone.
	wide := def
	wide.Caps.MaxWorkMultiple = math.MaxUint32
	cases := []struct {
		name string
		pol  Policy
		p    Params
		want error
	}{
		{"default new", def, def.New, nil},
		{"below floor still allowed", def, Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}, nil},
		{"login.gov scrypt", def, Params{Algorithm: Scrypt, LogN: 16, BlockSize: 8, Parallelism: 1}, nil},
		{"pbkdf2 under default", def, Params{Algorithm: PBKDF2SHA256, Iterations: 600000}, nil},
		{"zero params", def, Params{}, ErrMalformedParams},
		{"argon2 m < 8p", def, Params{Algorithm: Argon2id, MemoryKiB: 31, Passes: 1, Threads: 4}, ErrMalformedParams},
		{"argon2 t=0", def, Params{Algorithm: Argon2id, MemoryKiB: 64, Threads: 1}, ErrMalformedParams},
		{"argon2 p=0", def, Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1}, ErrMalformedParams},
		{"scrypt ln=0", def, Params{Algorithm: Scrypt, BlockSize: 8, Parallelism: 1}, ErrMalformedParams},
		{"scrypt ln=63", def, Params{Algorithm: Scrypt, LogN: 63, BlockSize: 8, Parallelism: 1}, ErrMalformedParams},
		{"scrypt r=0", def, Params{Algorithm: Scrypt, LogN: 10, Parallelism: 1}, ErrMalformedParams},
		{"scrypt r*p=2^30", def, Params{Algorithm: Scrypt, LogN: 10, BlockSize: 1 << 15, Parallelism: 1 << 15}, ErrMalformedParams},
		{"pbkdf2 i=0", def, Params{Algorithm: PBKDF2SHA256}, ErrMalformedParams},
		{"malformed wins over not allowed", fips, Params{Algorithm: Argon2id}, ErrMalformedParams},
		{"argon2 under fips", fips, def.New, ErrParamsNotAllowed},
		{"scrypt under fips", fips, def.FloorScrypt, ErrParamsNotAllowed},
		{"not allowed wins over too costly", fips, Params{Algorithm: Argon2id, MemoryKiB: math.MaxUint32, Passes: 1, Threads: 1}, ErrParamsNotAllowed},
		{"argon2 4 TiB", def, Params{Algorithm: Argon2id, MemoryKiB: math.MaxUint32, Passes: 1, Threads: 1}, ErrParamsTooCostly},
		{"argon2 2^32-1 passes", def, Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: math.MaxUint32, Threads: 1}, ErrParamsTooCostly},
		{"argon2 255 threads", def, Params{Algorithm: Argon2id, MemoryKiB: 8 * 255, Passes: 1, Threads: 255}, ErrParamsTooCostly},
		{"argon2 at field caps, no work cap", wide, Params{Algorithm: Argon2id, MemoryKiB: 2 << 20, Passes: 16, Threads: 16}, nil},
		{"scrypt N*r over cap", def, Params{Algorithm: Scrypt, LogN: 21, BlockSize: 16, Parallelism: 1}, ErrParamsTooCostly},
		{"scrypt N*r overflows uint64", def, Params{Algorithm: Scrypt, LogN: 62, BlockSize: 1 << 20, Parallelism: 1}, ErrParamsTooCostly},
		{"scrypt p over cap", def, Params{Algorithm: Scrypt, LogN: 10, BlockSize: 8, Parallelism: 17}, ErrParamsTooCostly},
		{"scrypt at field caps, no work cap", wide, Params{Algorithm: Scrypt, LogN: 20, BlockSize: 16, Parallelism: 16}, nil},
		{"pbkdf2 over cap", fips, Params{Algorithm: PBKDF2SHA256, Iterations: math.MaxUint32}, ErrParamsTooCostly},
	}
	for _, c := range cases {
		err := c.pol.Check(c.p)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Check(%+v) = %v, want %v", c.name, c.p, err, c.want)
		}
		// A check error names exactly one of the three sentinels.
		n := 0
		for _, s := range []error{ErrMalformedParams, ErrParamsNotAllowed, ErrParamsTooCostly} {
			if errors.Is(err, s) {
				n++
			}
		}
		if err != nil && n != 1 {
			t.Errorf("%s: %v matches %d sentinels", c.name, err, n)
		}
		if allocs := testing.AllocsPerRun(20, func() { _ = c.pol.Check(c.p) }); allocs != 0 {
			t.Errorf("%s: Check allocates %.0f times", c.name, allocs)
		}
		if allocs := testing.AllocsPerRun(20, func() { _ = c.pol.NeedsUpgrade(c.p) }); allocs != 0 {
			t.Errorf("%s: NeedsUpgrade allocates %.0f times", c.name, allocs)
		}
	}
}

func TestNeedsUpgrade(t *testing.T) {
	def, fips := DefaultPolicy(), FIPSPolicy()
	argon := func(m, tt uint32, p uint8) Params {
		return Params{Algorithm: Argon2id, MemoryKiB: m, Passes: tt, Threads: p}
	}
	cases := []struct {
		name string
		pol  Policy
		p    Params
		want bool
	}{
		{"default new", def, def.New, false},
		{"exactly the floor", def, def.FloorArgon2id, false},
		{"between floor and new", def, argon(32768, 2, 1), false},
		{"memory below floor", def, argon(19*1024-1, 10, 4), true},
		{"passes below floor", def, argon(1<<19, 1, 4), true},
		{"login.gov scrypt ln=16", def, Params{Algorithm: Scrypt, LogN: 16, BlockSize: 8, Parallelism: 1}, true},
		{"scrypt at its floor, other algorithm than new", def, def.FloorScrypt, true},
		{"pbkdf2 under an argon2 policy", def, fips.New, true},
		{"malformed", def, Params{Algorithm: Argon2id}, true},
		{"too costly is not an upgrade", def, argon(math.MaxUint32, 1, 1), false},
		{"fips at floor", fips, fips.New, false},
		{"fips below floor", fips, Params{Algorithm: PBKDF2SHA256, Iterations: 599999}, true},
		{"argon2 under fips (not allowed)", fips, def.New, true},
	}
	for _, c := range cases {
		if got := c.pol.NeedsUpgrade(c.p); got != c.want {
			t.Errorf("%s: NeedsUpgrade(%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	pepper := make([]byte, MinPepperSize)
	noArgon := DefaultPolicy()
	noArgon.FloorArgon2id = Params{}
	wrongFloor := DefaultPolicy()
	wrongFloor.FloorScrypt = Params{Algorithm: PBKDF2SHA256, Iterations: 1}
	badFloor := DefaultPolicy()
	badFloor.FloorScrypt = Params{Algorithm: Scrypt, LogN: 17}
	belowFloor := DefaultPolicy()
	belowFloor.New = Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"short pepper", Config{Pepper: pepper[:31]}, nil},
		{"empty non-nil pepper", Config{Pepper: []byte{}}, nil},
		{"negative budget", Config{MemoryBudget: -1}, nil},
		{"new params over budget", Config{MemoryBudget: 64<<20 - 1}, ErrOverBudget},
		{"new algorithm not allowed", Config{Policy: noArgon}, ErrParamsNotAllowed},
		{"floor of the wrong algorithm", Config{Policy: wrongFloor}, ErrMalformedParams},
		{"malformed floor", Config{Policy: badFloor}, ErrMalformedParams},
		{"new below its own floor", Config{Policy: belowFloor}, nil},
	}
	for _, c := range cases {
		d, err := New(c.cfg)
		if err == nil || d != nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: New = %v, %v; want error %v", c.name, d, err, c.want)
		}
	}
	d, err := New(Config{Pepper: pepper, MemoryBudget: 64 << 20})
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if d.Policy() != DefaultPolicy() || d.MemoryBudget() != 64<<20 {
		t.Errorf("New did not apply defaults: %+v, budget %d", d.Policy(), d.MemoryBudget())
	}
	pepper[0] = 1
	if d.pepper[0] != 0 {
		t.Error("New keeps a reference to the caller's pepper")
	}
	if d, _ := New(Config{}); d.MemoryBudget() != DefaultMemoryBudget {
		t.Errorf("default budget = %d", d.MemoryBudget())
	}
}

// TestHostileParamsAreRefusedBeforeAllocating feeds Derive the parameters a
// hostile stored record could carry (4 TiB of memory, 2^32-1 passes, ...),
// from both encodings, and shows that they are refused with
// ErrParamsTooCostly while the process allocates almost nothing.
func TestHostileParamsAreRefusedBeforeAllocating(t *testing.T) {
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"$argon2id$v=19$m=4294967295,t=3,p=4",
		"$argon2id$v=19$m=65536,t=4294967295,p=4",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255",
		"$scrypt$ln=62,r=8,p=1",
		"$scrypt$ln=20,r=1073741823,p=1",
		"$scrypt$ln=17,r=8,p=4294967",
		"$pbkdf2-sha256$i=4294967295",
	}
	var hostile []Params
	for _, s := range texts {
		p, err := ParseParams(s)
		if err != nil {
			t.Fatalf("ParseParams(%q): %v", s, err)
		}
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseBinary(b)
		if err != nil || q != p {
			t.Fatalf("binary round trip of %q: %+v, %v", s, q, err)
		}
		hostile = append(hostile, p, q)
	}
	password, salt := []byte("correct horse battery staple"), make([]byte, SaltSize)
	ctx := context.Background()
	var before, after runtime.MemStats
	for _, p := range hostile {
		runtime.ReadMemStats(&before)
		s, err := d.Derive(ctx, password, salt, p)
		runtime.ReadMemStats(&after)
		if s != nil || !errors.Is(err, ErrParamsTooCostly) {
			t.Errorf("Derive(%v) = %v, %v; want ErrParamsTooCostly", p, s, err)
		}
		if delta := after.TotalAlloc - before.TotalAlloc; delta > 1<<20 {
			t.Errorf("Derive(%v) allocated %d bytes before refusing", p, delta)
		}
	}
	if d.PeakMemory() != 0 {
		t.Errorf("hostile params reserved %d bytes of the budget", d.PeakMemory())
	}
}

// TestOverBudgetIsRefusedAtOnce: params within the caps but larger than the
// whole memory budget can never run; Derive says so at once (it would
// otherwise wait forever) without allocating.
func TestOverBudgetIsRefusedAtOnce(t *testing.T) {
	pol := DefaultPolicy()
	pol.New = Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	pol.FloorArgon2id = pol.New
	pol.Caps.MaxWorkMultiple = math.MaxUint32 // the field caps and the budget are the point here
	d, err := New(Config{Policy: pol, MemoryBudget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p := Params{Algorithm: Argon2id, MemoryKiB: 2 << 20, Passes: 1, Threads: 1} // 2 GiB, at the cap
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := d.Derive(context.Background(), []byte("pw"), make([]byte, SaltSize), p)
	runtime.ReadMemStats(&after)
	if s != nil || !errors.Is(err, ErrOverBudget) {
		t.Fatalf("Derive = %v, %v; want ErrOverBudget", s, err)
	}
	if delta := after.TotalAlloc - before.TotalAlloc; delta > 1<<20 {
		t.Errorf("allocated %d bytes before refusing", delta)
	}
}

// TestWorkCapRefusesHostileAccountsWithinEveryFieldCap: the parameter sets
// of issue 14 (Argon2id m=1 GiB, t=16, p=16, 18.5 s; scrypt N=2^19, r=15,
// p=16, 30.7 s) pass every per-field cap of DefaultCaps, and the work cap
// (4 times the policy's reference) refuses them with ErrParamsTooCostly
// before anything is allocated; sets at exactly 4 times the reference
// pass, one unit more is refused.
func TestWorkCapRefusesHostileAccountsWithinEveryFieldCap(t *testing.T) {
	def, fips := DefaultPolicy(), FIPSPolicy()
	noWorkCap := def
	noWorkCap.Caps.MaxWorkMultiple = math.MaxUint32
	argonHostile := Params{Algorithm: Argon2id, MemoryKiB: 1 << 20, Passes: 16, Threads: 16}
	scryptHostile := Params{Algorithm: Scrypt, LogN: 19, BlockSize: 15, Parallelism: 16}
	for _, p := range []Params{argonHostile, scryptHostile} {
		if err := noWorkCap.Check(p); err != nil {
			t.Fatalf("%v is within every field cap, yet Check = %v", p, err)
		}
		if err := def.Check(p); !errors.Is(err, ErrParamsTooCostly) {
			t.Errorf("Check(%v) = %v, want ErrParamsTooCostly from the work cap", p, err)
		}
	}
	cases := []struct {
		name string
		pol  Policy
		p    Params
		want error
	}{
		// DefaultPolicy New: 64 MiB, t=3: work 196,608; cap 786,432.
		{"argon2 256 MiB t=3 (4x new)", def, Params{Algorithm: Argon2id, MemoryKiB: 256 << 10, Passes: 3, Threads: 4}, nil},
		{"argon2 768 MiB t=1 (4x new)", def, Params{Algorithm: Argon2id, MemoryKiB: 768 << 10, Passes: 1, Threads: 4}, nil},
		{"argon2 one KiB-pass over", def, Params{Algorithm: Argon2id, MemoryKiB: 786433, Passes: 1, Threads: 1}, ErrParamsTooCostly},
		{"argon2 RFC 9106 2 GiB t=1", def, Params{Algorithm: Argon2id, MemoryKiB: 2 << 20, Passes: 1, Threads: 4}, ErrParamsTooCostly},
		// scrypt is not New's algorithm: its floor (N=2^17, r=8, p=1) is the reference.
		{"scrypt 4x floor", def, Params{Algorithm: Scrypt, LogN: 19, BlockSize: 8, Parallelism: 1}, nil},
		{"scrypt 8x floor", def, Params{Algorithm: Scrypt, LogN: 17, BlockSize: 8, Parallelism: 8}, ErrParamsTooCostly},
		{"login.gov scrypt", def, Params{Algorithm: Scrypt, LogN: 16, BlockSize: 8, Parallelism: 1}, nil},
		{"pbkdf2 4x floor", def, Params{Algorithm: PBKDF2SHA256, Iterations: 2_400_000}, nil},
		{"pbkdf2 over 4x floor", def, Params{Algorithm: PBKDF2SHA256, Iterations: 2_400_001}, ErrParamsTooCostly},
		{"fips pbkdf2 4x new", fips, Params{Algorithm: PBKDF2SHA256, Iterations: 2_400_000}, nil},
		{"fips pbkdf2 field cap 10M is over the work cap", fips, Params{Algorithm: PBKDF2SHA256, Iterations: 10_000_000}, ErrParamsTooCostly},
	}
	for _, c := range cases {
		err := c.pol.Check(c.p)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Check(%v) = %v, want %v", c.name, c.p, err, c.want)
		}
	}
	// A custom multiple moves the cap; zero means DefaultWorkMultiple.
	two := def
	two.Caps.MaxWorkMultiple = 2
	if err := two.Check(Params{Algorithm: Argon2id, MemoryKiB: 256 << 10, Passes: 3, Threads: 4}); !errors.Is(err, ErrParamsTooCostly) {
		t.Errorf("multiple 2: 4x new passes: %v", err)
	}
	zero := def
	zero.Caps.MaxWorkMultiple = 0
	if w, ok := zero.MaxWork(Argon2id); !ok || w != DefaultWorkMultiple*def.New.Work() {
		t.Errorf("MaxWork with multiple 0 = %d, %v; want %d", w, ok, DefaultWorkMultiple*def.New.Work())
	}
	if _, ok := fips.MaxWork(Argon2id); ok {
		t.Error("MaxWork reports a cap for an algorithm the policy does not allow")
	}
}

// TestWorkSaturatesInsteadOfOverflowing: Work never wraps around to a
// small number, whatever the fields hold (a wrapped product would slip
// under the work cap).
func TestWorkSaturatesInsteadOfOverflowing(t *testing.T) {
	cases := []struct {
		p    Params
		want uint64
	}{
		{Params{Algorithm: Argon2id, MemoryKiB: math.MaxUint32, Passes: math.MaxUint32, Threads: 1}, uint64(math.MaxUint32) * math.MaxUint32},
		{Params{Algorithm: Scrypt, LogN: 62, BlockSize: 1 << 20, Parallelism: 1}, math.MaxUint64},
		{Params{Algorithm: Scrypt, LogN: 40, BlockSize: 1 << 12, Parallelism: 1 << 12}, math.MaxUint64},
		{Params{Algorithm: Scrypt, LogN: 255, BlockSize: 1, Parallelism: 1}, math.MaxUint64},
		{Params{Algorithm: Scrypt, LogN: 10, BlockSize: 8, Parallelism: 3}, 1 << 10 * 8 * 3},
		{Params{Algorithm: PBKDF2SHA256, Iterations: 7}, 7},
		{Params{}, 0},
	}
	for _, c := range cases {
		if got := c.p.Work(); got != c.want {
			t.Errorf("Work(%+v) = %d, want %d", c.p, got, c.want)
		}
	}
}
