package kdf

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
)

// Small parameters keep these tests fast; the production numbers are in
// the benchmarks.
var (
	tinyArgon2id = Params{Algorithm: Argon2id, MemoryKiB: 64, Passes: 1, Threads: 2}
	tinyScrypt   = Params{Algorithm: Scrypt, LogN: 4, BlockSize: 8, Parallelism: 2}
	tinyPBKDF2   = Params{Algorithm: PBKDF2SHA256, Iterations: 100}
	testSalt     = []byte("0123456789abcdef") // 16 bytes
)

func newTestDeriver(t testing.TB, cfg Config) *Deriver {
	t.Helper()
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy()
		cfg.Policy.New = tinyArgon2id
		cfg.Policy.FloorArgon2id = tinyArgon2id
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func derive(t testing.TB, d *Deriver, password string, salt []byte, p Params) []byte {
	t.Helper()
	s, err := d.Derive(context.Background(), []byte(password), salt, p)
	if err != nil {
		t.Fatalf("Derive(%q, %v): %v", password, p, err)
	}
	defer s.Destroy()
	return bytes.Clone(s.b[:])
}

// TestDeriveMatchesEachPrimitive: without a pepper the master secret is
// exactly the KDF's 32-byte output, with the parameter fields mapped as
// documented (LogN -> N = 1<<LogN, ...). Each algorithm is compared with
// an independent call of its library.
func TestDeriveMatchesEachPrimitive(t *testing.T) {
	d := newTestDeriver(t, Config{})
	pw := "Jane Q. Sample's passphrase"
	wantArgon := argon2.IDKey([]byte(pw), testSalt, 1, 64, 2, 32)
	wantScrypt, _ := scrypt.Key([]byte(pw), testSalt, 16, 8, 2, 32)
	wantPBKDF2, _ := pbkdf2.Key(sha256.New, pw, testSalt, 100, 32)
	for _, c := range []struct {
		p    Params
		want []byte
	}{{tinyArgon2id, wantArgon}, {tinyScrypt, wantScrypt}, {tinyPBKDF2, wantPBKDF2}} {
		if got := derive(t, d, pw, testSalt, c.p); !bytes.Equal(got, c.want) {
			t.Errorf("%v: got %x, want %x", c.p, got, c.want)
		}
	}
}

// TestDeriveDependsOnEveryInput: changing the password, the salt, or any
// parameter changes the master secret; the same inputs give the same one.
func TestDeriveDependsOnEveryInput(t *testing.T) {
	d := newTestDeriver(t, Config{})
	base := derive(t, d, "password", testSalt, tinyArgon2id)
	if !bytes.Equal(base, derive(t, d, "password", testSalt, tinyArgon2id)) {
		t.Fatal("Derive is not deterministic")
	}
	otherSalt := bytes.Clone(testSalt)
	otherSalt[15] ^= 1
	more := tinyArgon2id
	more.Passes++
	mem := tinyArgon2id
	mem.MemoryKiB += 16
	lanes := tinyArgon2id
	lanes.Threads = 1
	for name, got := range map[string][]byte{
		"password":  derive(t, d, "passwore", testSalt, tinyArgon2id),
		"salt":      derive(t, d, "password", otherSalt, tinyArgon2id),
		"passes":    derive(t, d, "password", testSalt, more),
		"memory":    derive(t, d, "password", testSalt, mem),
		"threads":   derive(t, d, "password", testSalt, lanes),
		"algorithm": derive(t, d, "password", testSalt, tinyScrypt),
	} {
		if bytes.Equal(got, base) {
			t.Errorf("changing the %s did not change the secret", name)
		}
	}
}

// TestDeriveNormalizesPasswordsNFKC: canonically equivalent and
// compatibility-equivalent spellings derive the same secret; different
// characters do not.
func TestDeriveNormalizesPasswordsNFKC(t *testing.T) {
	d := newTestDeriver(t, Config{})
	same := [][2]string{
		{"caf\u00e9", "cafe\u0301"},                  // é precomposed vs e + combining acute
		{"\ufb01x", "fix"},                           // ﬁ ligature vs f + i
		{"\u212bngstr\u00f6m", "\u00c5ngstr\u00f6m"}, // angstrom sign vs Å
		{"\uff21\uff22\uff23", "ABC"},                // fullwidth letters
		{"x\u00b2", "x2"},                            // superscript two
	}
	for _, s := range same {
		if a, b := derive(t, d, s[0], testSalt, tinyArgon2id), derive(t, d, s[1], testSalt, tinyArgon2id); !bytes.Equal(a, b) {
			t.Errorf("%+q and %+q derive different secrets", s[0], s[1])
		}
	}
	for _, s := range [][2]string{{"cafe", "caf\u00e9"}, {"Password", "password"}, {"pass word", "password"}} {
		if a, b := derive(t, d, s[0], testSalt, tinyArgon2id), derive(t, d, s[1], testSalt, tinyArgon2id); bytes.Equal(a, b) {
			t.Errorf("%+q and %+q derive the same secret", s[0], s[1])
		}
	}
}

func TestNormalizePassword(t *testing.T) {
	in := []byte("cafe\u0301")
	out, err := NormalizePassword(in)
	if err != nil || string(out) != "caf\u00e9" {
		t.Fatalf("NormalizePassword = %q, %v", out, err)
	}
	clear(out)
	if string(in) != "cafe\u0301" {
		t.Error("clearing the result changed the input: it aliases it")
	}
	already := []byte("plain ascii")
	out, _ = NormalizePassword(already)
	if &out[0] == &already[0] {
		t.Error("result aliases an already-normal input")
	}
	for _, c := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrPasswordEmpty},
		{[]byte{}, ErrPasswordEmpty},
		{bytes.Repeat([]byte("a"), MaxPasswordBytes+1), ErrPasswordTooLong},
		{[]byte("abc\xff"), ErrPasswordNotUTF8},
		{[]byte("\xed\xa0\x80"), ErrPasswordNotUTF8}, // UTF-16 surrogate
	} {
		out, err := NormalizePassword(c.in)
		if out != nil || !errors.Is(err, c.want) || !errors.Is(err, ErrPasswordRejected) {
			t.Errorf("NormalizePassword(%q) = %q, %v; want %v", c.in, out, err, c.want)
		}
	}
	if _, err := NormalizePassword(bytes.Repeat([]byte("a"), MaxPasswordBytes)); err != nil {
		t.Errorf("a password of exactly MaxPasswordBytes is refused: %v", err)
	}
}

// TestDeriveDoesNotTruncateLongPasswords: two maximal passwords that differ
// only in their last byte derive different secrets.
func TestDeriveDoesNotTruncateLongPasswords(t *testing.T) {
	d := newTestDeriver(t, Config{})
	a := strings.Repeat("a", MaxPasswordBytes)
	b := a[:MaxPasswordBytes-1] + "b"
	for _, p := range []Params{tinyArgon2id, tinyScrypt, tinyPBKDF2} {
		if bytes.Equal(derive(t, d, a, testSalt, p), derive(t, d, b, testSalt, p)) {
			t.Errorf("%v: the last byte of a %d-byte password is ignored", p, MaxPasswordBytes)
		}
	}
}

// TestDeriveChecksInOrder: params are checked before the password, the
// password before the salt, and the salt before any memory is reserved.
func TestDeriveChecksInOrder(t *testing.T) {
	d := newTestDeriver(t, Config{})
	ctx := context.Background()
	bad := Params{Algorithm: Argon2id}
	cases := []struct {
		name     string
		password []byte
		salt     []byte
		p        Params
		want     error
	}{
		{"params first", nil, nil, bad, ErrMalformedParams},
		{"password second", nil, nil, tinyArgon2id, ErrPasswordEmpty},
		{"short salt", []byte("pw"), make([]byte, MinSaltSize-1), tinyArgon2id, ErrSaltRejected},
		{"long salt", []byte("pw"), make([]byte, MaxSaltSize+1), tinyArgon2id, ErrSaltRejected},
		{"nil salt", []byte("pw"), nil, tinyPBKDF2, ErrSaltRejected},
	}
	for _, c := range cases {
		s, err := d.Derive(ctx, c.password, c.salt, c.p)
		if s != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: Derive = %v, %v; want %v", c.name, s, err, c.want)
		}
	}
	for _, n := range []int{MinSaltSize, MaxSaltSize} {
		if _, err := d.Derive(ctx, []byte("pw"), make([]byte, n), tinyArgon2id); err != nil {
			t.Errorf("salt of %d bytes refused: %v", n, err)
		}
	}
	if d.PeakMemory() != tinyArgon2id.MemoryBytes() {
		t.Errorf("peak %d: refused calls reserved memory", d.PeakMemory())
	}
}

// TestDerivePepper: with a pepper the master secret is
// HMAC-SHA256(pepper, label || KDF output), so it differs from the
// unpeppered one and from one under another pepper.
func TestDerivePepper(t *testing.T) {
	pepper := bytes.Repeat([]byte{0x5a}, MinPepperSize)
	plain := newTestDeriver(t, Config{})
	peppered := newTestDeriver(t, Config{Pepper: pepper})
	other := newTestDeriver(t, Config{Pepper: append(bytes.Repeat([]byte{0x5a}, MinPepperSize-1), 0x5b)})
	for _, p := range []Params{tinyArgon2id, tinyScrypt, tinyPBKDF2} {
		raw := derive(t, plain, "password", testSalt, p)
		mac := hmac.New(sha256.New, pepper)
		mac.Write([]byte("piivault/kdf/v1/pepper"))
		mac.Write(raw)
		want := mac.Sum(nil)
		got := derive(t, peppered, "password", testSalt, p)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: peppered secret %x, want %x", p, got, want)
		}
		if bytes.Equal(got, raw) || bytes.Equal(got, derive(t, other, "password", testSalt, p)) {
			t.Errorf("%v: the pepper does not change the secret", p)
		}
	}
}

// TestSecretSubkeys: subkeys are HKDF-SHA256-Expand of the master secret
// with info "piivault/kdf/v1/<label>", distinct per label; Destroy zeroes
// the secret.
func TestSecretSubkeys(t *testing.T) {
	d := newTestDeriver(t, Config{})
	s, err := d.Derive(context.Background(), []byte("password"), testSalt, tinyArgon2id)
	if err != nil {
		t.Fatal(err)
	}
	master := bytes.Clone(s.b[:])
	for label, got := range map[string][]byte{LabelKEK: s.KEK(), LabelVerifier: s.Verifier(), "record": s.Expand("record", 64)} {
		want, _ := hkdf.Expand(sha256.New, master, "piivault/kdf/v1/"+label, len(got))
		if !bytes.Equal(got, want) {
			t.Errorf("subkey %q = %x, want %x", label, got, want)
		}
	}
	if bytes.Equal(s.KEK(), s.Verifier()) || len(s.KEK()) != SecretSize || len(s.Verifier()) != SecretSize {
		t.Error("KEK and verifier are equal or of the wrong size")
	}
	s.Destroy()
	if s.b != [SecretSize]byte{} {
		t.Error("Destroy left secret bytes")
	}
}

// TestDeriveReturnsContextErrors: a context that is already done fails
// Derive with its error, wrapped, for every algorithm, and a derivation
// waiting for a full budget gives up when its deadline passes.
func TestDeriveReturnsContextErrors(t *testing.T) {
	d := newTestDeriver(t, Config{MemoryBudget: tinyArgon2id.MemoryBytes()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, p := range []Params{tinyArgon2id, tinyScrypt, tinyPBKDF2} {
		if _, err := d.Derive(ctx, []byte("pw"), testSalt, p); !errors.Is(err, context.Canceled) {
			t.Errorf("%v with a cancelled context: %v", p, err)
		}
	}

	// Fill the budget, then derive with a context that ends while waiting.
	if err := d.lim.Acquire(context.Background(), d.MemoryBudget()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Derive(ctx, []byte("pw"), testSalt, tinyArgon2id)
		errc <- err
	}()
	waitFor(func() bool { return d.Waiting() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Derive: %v, want context.Canceled", err)
	}
	d.lim.Release(d.MemoryBudget())
	if d.MemoryInUse() != 0 {
		t.Errorf("in use %d after all done", d.MemoryInUse())
	}
}

// TestConcurrentDerivationsStayWithinBudget: 16 concurrent derivations
// under a budget for 2 all succeed, agree, and never reserve more than the
// budget.
func TestConcurrentDerivationsStayWithinBudget(t *testing.T) {
	p := Params{Algorithm: Argon2id, MemoryKiB: 256, Passes: 1, Threads: 1}
	d := newTestDeriver(t, Config{MemoryBudget: 2 * p.MemoryBytes(), MaxDerivationMemory: p.MemoryBytes()})
	want := derive(t, d, "password", testSalt, p)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := d.Derive(context.Background(), []byte("password"), testSalt, p)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(s.b[:], want) {
				t.Error("concurrent derivation disagrees")
			}
			s.Destroy()
		}()
	}
	wg.Wait()
	if d.PeakMemory() > d.MemoryBudget() || d.MemoryInUse() != 0 {
		t.Errorf("peak %d, budget %d, in use %d", d.PeakMemory(), d.MemoryBudget(), d.MemoryInUse())
	}
	d.ReleaseMemory()
	if got := derive(t, d, "password", testSalt, p); !bytes.Equal(got, want) {
		t.Error("derivation after ReleaseMemory disagrees")
	}
}

// TestLoginGovScryptStillDerives: accounts stored with Login.gov's scrypt
// N=2^16, r=8, p=1 open under DefaultPolicy and are flagged for upgrade.
func TestLoginGovScryptStillDerives(t *testing.T) {
	if testing.Short() && raceEnabled {
		t.Skip("64 MiB scrypt under -race -short")
	}
	p, err := ParseParams("$scrypt$ln=16,r=8,p=1")
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDeriver(t, Config{Policy: DefaultPolicy()})
	got := derive(t, d, "password", testSalt, p)
	want, _ := scrypt.Key([]byte("password"), testSalt, 1<<16, 8, 1, 32)
	if !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if !d.Policy().NeedsUpgrade(p) {
		t.Error("Login.gov scrypt params not flagged for upgrade")
	}
}

// TestFIPSPolicyDerivesOnlyPBKDF2: under FIPSPolicy PBKDF2 derives (below
// the floor too, flagged for upgrade) and Argon2id and scrypt are refused.
func TestFIPSPolicyDerivesOnlyPBKDF2(t *testing.T) {
	d := newTestDeriver(t, Config{Policy: FIPSPolicy()})
	if _, err := d.Derive(context.Background(), []byte("pw"), testSalt, tinyPBKDF2); err != nil {
		t.Errorf("PBKDF2 under FIPS: %v", err)
	}
	if !d.Policy().NeedsUpgrade(tinyPBKDF2) {
		t.Error("100 iterations not flagged for upgrade")
	}
	for _, p := range []Params{tinyArgon2id, tinyScrypt} {
		if _, err := d.Derive(context.Background(), []byte("pw"), testSalt, p); !errors.Is(err, ErrParamsNotAllowed) {
			t.Errorf("%v under FIPS: %v, want ErrParamsNotAllowed", p, err)
		}
	}
}

func TestNewSalt(t *testing.T) {
	a, err := NewSalt(nil)
	if err != nil || len(a) != SaltSize {
		t.Fatalf("NewSalt = %x, %v", a, err)
	}
	b, _ := NewSalt(nil)
	if bytes.Equal(a, b) {
		t.Error("two salts are equal")
	}
	if _, err := NewSalt(strings.NewReader("short")); err == nil {
		t.Error("a short reader gave a salt")
	}
}

// TestCalibrate: the report is consistent with the returned params, which
// keep the requested memory and lanes; bad inputs and a done context fail.
func TestCalibrate(t *testing.T) {
	p, rep, err := Calibrate(context.Background(), 2e6 /* 2 ms */, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Algorithm != Argon2id || p.MemoryKiB != 64 || p.Threads != 1 || p.Passes < 1 || p.Passes > DefaultCaps().MaxPasses {
		t.Errorf("Calibrate = %v", p)
	}
	if rep.Chosen != p || len(rep.Samples) != 4 || rep.Samples[3].Passes != p.Passes || rep.Measured != rep.Samples[3].Duration || rep.PerPass <= 0 {
		t.Errorf("report %+v inconsistent with %v", rep, p)
	}
	if err := DefaultPolicy().Check(p); err != nil {
		t.Errorf("calibrated params fail the default policy: %v", err)
	}
	for _, c := range []struct {
		m    uint32
		th   uint8
		want error
	}{{7, 1, ErrMalformedParams}, {64, 0, ErrMalformedParams}, {1 << 31, 1, ErrParamsTooCostly}, {4096, 64, ErrParamsTooCostly}} {
		if _, _, err := Calibrate(context.Background(), 1e6, c.m, c.th); !errors.Is(err, c.want) {
			t.Errorf("Calibrate(m=%d, p=%d) = %v, want %v", c.m, c.th, err, c.want)
		}
	}
	if _, _, err := Calibrate(context.Background(), 0, 64, 1); err == nil {
		t.Error("zero target accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Calibrate(ctx, 1e6, 64, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Calibrate: %v", err)
	}
}
