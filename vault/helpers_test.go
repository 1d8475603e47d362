package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// Synthetic test data: no real person. SSNs starting with 9 are never
// issued by the SSA.
var (
	pw1 = []byte("correct horse battery staple")
	pw2 = []byte("tr0ub4dor&3 but much longer")
	pw3 = []byte("a third pass phrase, long enough")

	janeSample = &Identity{
		GivenName: "Jane", MiddleName: "Quincy", FamilyName: "Sample",
		BirthDate: "1980-02-29", SSN: "900123456", Phone: "+12025550143",
		Address: Address{
			Line1: "1600 Example Avenue NW", Line2: "Apt 5B",
			City: "Testville", State: "DC", ZIPCode: "20500-0001",
		},
		Document: IDDocument{Type: "drivers_license", Number: "D1234-5678-ZZ", Issuer: "DC", Expiration: "2031-07-04"},
	}
)

// profile is one algorithm suite the tests run under, with small KDF
// parameters so the suite stays fast.
type profile struct {
	name string
	// weak is the policy accounts are enrolled under; strong has higher New
	// parameters and floors, so that weak accounts need an upgrade.
	weak, strong kdf.Policy
}

func argon2Policy(mKiB uint32) kdf.Policy {
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: mKiB, Passes: 1, Threads: 1}
	return kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()}
}

func pbkdf2Policy(iter uint32) kdf.Policy {
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: iter}
	return kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}
}

// profiles returns the suites to test. Under GODEBUG=fips140=only (or
// fips140=on) only the FIPS profile runs: Argon2id is not an approved
// algorithm. Under fips140=only, if the envelope package itself uses
// something the FIPS module refuses, the test is skipped with the reason
// (see envelopeFIPSOnlyProblem).
func profiles(t testing.TB) []profile {
	t.Helper()
	fips := profile{name: "pbkdf2-fips", weak: pbkdf2Policy(1000), strong: pbkdf2Policy(2000)}
	if fips140.Enforced() {
		if msg := envelopeFIPSOnlyProblem(); msg != "" {
			t.Skipf("SKIP under fips140=only: the envelope package fails: %s", msg)
		}
	}
	if fips140.Enabled() {
		return []profile{fips}
	}
	return []profile{
		{name: "argon2id", weak: argon2Policy(64), strong: argon2Policy(128)},
		fips,
	}
}

// testPolicy is the weak policy of the first profile.
func testPolicy(t testing.TB) kdf.Policy { return profiles(t)[0].weak }

// recordingReader reads from crypto/rand and keeps a copy of every byte it
// handed out, so that tests can find the account key (the first KeySize
// bytes an Enroll reads) and prove it appears nowhere it should not.
type recordingReader struct {
	mu  sync.Mutex
	out []byte
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	r.mu.Lock()
	r.out = append(r.out, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recordingReader) reset() {
	r.mu.Lock()
	r.out = nil
	r.mu.Unlock()
}

func (r *recordingReader) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.out...)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (audit sink).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestVault returns a Vault with policy pol and JSON audit events
// written to the returned buffer.
func newTestVault(t testing.TB, pol kdf.Policy, mutate ...func(*Config)) (*Vault, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	cfg := Config{
		Policy: pol,
		Audit:  slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v, buf
}

// testAEAD is a tink.AEAD standing in for a KMS key: AES-256-GCM with
// random nonces (approved in FIPS 140-only mode).
type testAEAD struct{ aead cipher.AEAD }

func newTestAEAD(t testing.TB) *testAEAD {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		t.Fatal(err)
	}
	return &testAEAD{aead: a}
}

func (a *testAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	return a.aead.Seal(nil, nil, plaintext, associatedData), nil
}

func (a *testAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	return a.aead.Open(nil, nil, ciphertext, associatedData)
}

// newEscrow returns an escrow recipient/identity pair backed by a fresh
// test AEAD.
func newEscrow(t testing.TB, keyID string) (envelope.Recipient, envelope.Identity) {
	t.Helper()
	r, err := envelope.NewAEADRecipient(newTestAEAD(t), keyID, nil)
	if err != nil {
		t.Fatalf("NewAEADRecipient: %v", err)
	}
	return r, r
}

// stanzaTypes lists the stanza types of an account record.
func stanzaTypes(t testing.TB, account []byte) []string {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	var out []string
	for _, s := range h.Stanzas {
		out = append(out, s.Type)
	}
	return out
}

// passwordParams returns the KDF parameters of an account's password
// stanza.
func passwordParams(t testing.TB, account []byte) kdf.Params {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	for _, s := range h.Stanzas {
		if s.Type == envelope.TypePassword {
			p, err := envelope.PasswordParams(s)
			if err != nil {
				t.Fatalf("PasswordParams: %v", err)
			}
			return p
		}
	}
	t.Fatal("no password stanza")
	return kdf.Params{}
}

// mustUnlock unlocks or fails the test.
func mustUnlock(t testing.TB, v *Vault, userID string, account, password []byte) *Unlocked {
	t.Helper()
	u, _, err := v.Unlock(context.Background(), userID, account, password)
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	return u
}

// opensWithPK reports whether pk opens the account's key without changing
// anything (test-only: the API only recovers).
func opensWithPK(t testing.TB, userID string, account []byte, pk PersonalKey) error {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return err
	}
	kb := pk.bytes()
	id, err := envelope.NewRecoveryIdentity(kb)
	if err != nil {
		return err
	}
	key, err := unwrap(context.Background(), h, userID, id)
	clear(key)
	return err
}

func expectErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one wrapping %v", err, target)
	}
}

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// unlockWithPK opens the account with the personal key without changing it
// (test-only: the API only recovers).
func unlockWithPK(t testing.TB, userID string, account []byte, pk PersonalKey) (*Unlocked, error) {
	t.Helper()
	h, err := envelope.ParseHeader(account)
	if err != nil {
		return nil, err
	}
	kb := pk.bytes()
	defer clear(kb)
	id, err := envelope.NewRecoveryIdentity(kb)
	if err != nil {
		return nil, err
	}
	defer id.Destroy()
	key, err := unwrap(context.Background(), h, userID, id)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return newUnlockedFrom(userID, h, key, nil)
}

// sameTypes reports whether two stanza type lists hold the same types the
// same number of times, in any order.
func sameTypes(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// envelopeFIPSOnlyProblem wraps and unwraps a key and seals and opens a
// record through the envelope package, and returns what failed (an error
// or a panic from the FIPS module), or "" if all works. Computed once.
var envelopeFIPSOnlyProblem = sync.OnceValue(func() (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint("panic: ", r)
		}
	}()
	ctx := context.Background()
	b := envelope.Binding{UserID: "probe", Label: AccountLabel}
	key := make([]byte, envelope.KeySize)
	rk := make([]byte, PersonalKeySize)
	rr, err := envelope.NewRecoveryRecipient(rk, nil)
	if err != nil {
		return err.Error()
	}
	h, err := envelope.WrapKey(ctx, key, b, rr)
	if err != nil {
		return err.Error()
	}
	ri, err := envelope.NewRecoveryIdentity(rk)
	if err != nil {
		return err.Error()
	}
	if _, err := envelope.UnwrapKey(ctx, h, b, ri); err != nil {
		return err.Error()
	}
	rec, err := envelope.NewRecordKey(key, nil)
	if err != nil {
		return err.Error()
	}
	sealed, err := rec.Seal(nil, envelope.Binding{UserID: "probe", Label: "pii"}, []byte("x"))
	if err != nil {
		return err.Error()
	}
	if _, err := rec.Open(nil, envelope.Binding{UserID: "probe", Label: "pii"}, sealed); err != nil {
		return err.Error()
	}
	return ""
})
