package vault

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// auditEvents parses a JSON audit log into its events.
func auditEvents(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line is not JSON: %s", sc.Text())
		}
		out = append(out, ev)
	}
	return out
}

// sameHandle fails the test unless a and b are handles on one account as
// Unlock makes them: same user id, generation and key generation, and each
// opens the other's records (and a record sealed for another label does
// not open).
func sameHandle(t *testing.T, a, b *Unlocked) {
	t.Helper()
	if a.UserID() != b.UserID() || a.Generation() != b.Generation() || a.KeyGeneration() != b.KeyGeneration() {
		t.Fatalf("handles differ: user %q/%q, generation %d/%d, key generation %d/%d",
			a.UserID(), b.UserID(), a.Generation(), b.Generation(), a.KeyGeneration(), b.KeyGeneration())
	}
	for _, pair := range [][2]*Unlocked{{a, b}, {b, a}} {
		sealed, err := pair[0].SealIdentity("pii", janeSample)
		if err != nil {
			t.Fatal(err)
		}
		id, err := pair[1].OpenIdentity("pii", sealed)
		if err != nil {
			t.Fatalf("record sealed through one handle does not open through the other: %v", err)
		}
		if id.SSN != janeSample.SSN {
			t.Fatal("record opened to other contents")
		}
		if _, err := pair[1].Open("ssn", sealed); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("record opened under another label: %v", err)
		}
	}
}

// TestEnrollUnlockedHandleIsUnlocksHandle: the handle EnrollUnlocked
// returns is the one Unlock of the returned account gives (records sealed
// through either open through the other, same generations), the account
// is an Enroll account (same stanza types, escrow on and off; it opens
// with the password and the personal key), and the handle's key does not
// depend on the enrollment's own copy, which is cleared.
func TestEnrollUnlockedHandleIsUnlocksHandle(t *testing.T) {
	ctx := context.Background()
	escR, _ := newEscrow(t, "kms-1")
	for _, prof := range profiles(t) {
		for _, escrow := range []bool{false, true} {
			name := prof.name + "/escrow-off"
			if escrow {
				name = prof.name + "/escrow-on"
			}
			t.Run(name, func(t *testing.T) {
				v, _ := newTestVault(t, prof.weak, func(c *Config) {
					if escrow {
						c.Escrow = escR
					}
				})
				account, u, pk, err := v.EnrollUnlocked(ctx, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				defer u.Close()
				if u.Generation() != 1 {
					t.Fatalf("new account's handle at generation %d, want 1", u.Generation())
				}
				un, up, err := v.Unlock(ctx, "u", account, pw1)
				if err != nil {
					t.Fatalf("new account does not unlock with its password: %v", err)
				}
				defer un.Close()
				if up != nil {
					t.Fatal("new account needs an upgrade")
				}
				sameHandle(t, u, un)
				if err := opensWithPK(t, "u", account, pk); err != nil {
					t.Fatalf("new account does not open with the returned personal key: %v", err)
				}
				plain, _, err := v.Enroll(ctx, "u", pw1)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := stanzaTypes(t, account), stanzaTypes(t, plain); !sameTypes(got, want) {
					t.Fatalf("EnrollUnlocked's account has stanzas %v, Enroll's %v", got, want)
				}
				if got, want := passwordParams(t, account), prof.weak.New; got != want {
					t.Fatalf("password stanza parameters %+v, want the policy's New %+v", got, want)
				}
				u.Close()
				if _, err := u.Seal("pii", []byte("x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("Seal after Close: %v", err)
				}
			})
		}
	}
}

// TestEnrollUnlockedAuditsOneEnrollEvent: one EventEnroll per call, success
// or failure, and no other event.
func TestEnrollUnlockedAuditsOneEnrollEvent(t *testing.T) {
	ctx := context.Background()
	v, audit := newTestVault(t, testPolicy(t))
	_, u, _, err := v.EnrollUnlocked(ctx, "u-1", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	if _, _, _, err := v.EnrollUnlocked(ctx, "u-2", nil); err == nil {
		t.Fatal("empty password accepted")
	}
	u, _, err = v.EnrollUnlockedInStore(ctx, NewMemStore(), "u-3", pw1)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	evs := auditEvents(t, audit.String())
	want := []struct{ user, outcome string }{{"u-1", OutcomeSuccess}, {"u-2", OutcomeFailure}, {"u-3", OutcomeSuccess}}
	if len(evs) != len(want) {
		t.Fatalf("%d audit events, want %d: %s", len(evs), len(want), audit.String())
	}
	for i, w := range want {
		if evs[i][attrEvent] != EventEnroll || evs[i][attrUserID] != w.user || evs[i][attrOutcome] != w.outcome {
			t.Fatalf("event %d: %v, want enroll %s %s", i, evs[i], w.user, w.outcome)
		}
	}
}

// TestEnrollUnlockedReturnsNothingOnError: bad input, a cancelled context
// and a nil Vault give their error class and no account, handle or key,
// before any KDF run.
func TestEnrollUnlockedReturnsNothingOnError(t *testing.T) {
	v, _ := newTestVault(t, testPolicy(t))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()
	cases := []struct {
		name   string
		v      *Vault
		ctx    context.Context
		userID string
		pw     []byte
		want   error
	}{
		{"nil vault", nil, ctx, "u", pw1, ErrInvalidInput},
		{"zero vault", &Vault{}, ctx, "u", pw1, ErrInvalidInput},
		{"empty user id", v, ctx, "", pw1, ErrInvalidInput},
		{"long user id", v, ctx, strings.Repeat("u", MaxUserIDLen+1), pw1, ErrInvalidInput},
		{"empty password", v, ctx, "u", nil, ErrInvalidInput},
		{"password not UTF-8", v, ctx, "u", []byte{0xff, 0xfe}, ErrInvalidInput},
		{"cancelled context", v, cancelled, "u", pw1, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := kdfRuns(v)
			account, u, pk, err := c.v.EnrollUnlocked(c.ctx, c.userID, c.pw)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if account != nil || u != nil || !pk.IsZero() {
				t.Fatal("something returned with the error")
			}
			if kdfRuns(v) != before {
				t.Fatal("KDF ran for refused input")
			}
			s := NewMemStore()
			u, pk, err = c.v.EnrollUnlockedInStore(c.ctx, s, c.userID, c.pw)
			if !errors.Is(err, c.want) || u != nil || !pk.IsZero() {
				t.Fatalf("InStore: err %v, handle %v, key returned %v", err, u != nil, !pk.IsZero())
			}
			if _, _, err := s.Get(ctx, c.userID); !errors.Is(err, ErrNotFound) {
				t.Fatal("InStore wrote an account for refused input")
			}
		})
	}
	if _, _, err := v.EnrollUnlockedInStore(ctx, nil, "u", pw1); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("nil Store: %v", err)
	}
}

// TestEnrollUnlockedInStoreStoresTheHandlesAccount: the stored account
// unlocks (UnlockInStore) to the handle returned; an existing account is a
// conflict that returns nothing and leaves the stored account as it was.
func TestEnrollUnlockedInStoreStoresTheHandlesAccount(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	s := NewMemStore()
	u, pk, err := v.EnrollUnlockedInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	stored, _, err := s.Get(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckPersonalKey(ctx, "u", stored, pk); err != nil {
		t.Fatalf("stored account does not open with the returned personal key: %v", err)
	}
	un, err := v.UnlockInStore(ctx, s, "u", pw1)
	if err != nil {
		t.Fatal(err)
	}
	defer un.Close()
	sameHandle(t, u, un)

	u2, pk2, err := v.EnrollUnlockedInStore(ctx, s, "u", pw2)
	if !errors.Is(err, ErrConflict) || u2 != nil || !pk2.IsZero() {
		t.Fatalf("second enrollment: err %v, handle %v, key returned %v", err, u2 != nil, !pk2.IsZero())
	}
	after, _, err := s.Get(ctx, "u")
	if err != nil || !bytes.Equal(after, stored) {
		t.Fatalf("a refused enrollment changed the stored account (%v)", err)
	}
}

// TestLostAcknowledgementOfEnrollUnlockedInStore fails its one write in
// every way a store can: a write that landed is a success (handle and key);
// an unsettled one is ErrOutcomeUnknown with the personal key (which opens
// the stored account exactly when the write landed) and no handle; one
// that did not land is the store's error with nothing returned.
func TestLostAcknowledgementOfEnrollUnlockedInStore(t *testing.T) {
	ctx := context.Background()
	v, _ := newTestVault(t, testPolicy(t))
	for _, m := range failModes {
		t.Run(m.name, func(t *testing.T) {
			mem := NewMemStore()
			s := &failingStore{MemStore: mem, failAt: 1, afterWrite: m.afterWrite, getFailsAfter: m.getFails}
			u, pk, err := v.EnrollUnlockedInStore(ctx, s, "u", pw1)
			if !s.failed {
				t.Fatal("no write failed")
			}
			stored, _, gerr := mem.Get(ctx, "u")
			if (gerr == nil) != m.afterWrite {
				t.Fatalf("account stored: %v, write landed: %v", gerr == nil, m.afterWrite)
			}
			switch {
			case m.getFails:
				if !errors.Is(err, ErrOutcomeUnknown) || pk.IsZero() || u != nil {
					t.Fatalf("unsettled write: err %v, key returned %v, handle %v", err, !pk.IsZero(), u != nil)
				}
				if m.afterWrite {
					if cerr := v.CheckPersonalKey(ctx, "u", stored, pk); cerr != nil {
						t.Fatalf("landed write: returned key does not open the stored account: %v", cerr)
					}
				}
			case m.afterWrite:
				if err != nil || u == nil || pk.IsZero() {
					t.Fatalf("landed write: err %v, handle %v, key returned %v", err, u != nil, !pk.IsZero())
				}
				defer u.Close()
				if cerr := v.CheckPersonalKey(ctx, "u", stored, pk); cerr != nil {
					t.Fatalf("returned key does not open the stored account: %v", cerr)
				}
				un := mustUnlock(t, v, "u", stored, pw1)
				defer un.Close()
				sameHandle(t, u, un)
			default:
				if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, errInjected) || u != nil || pk.IsZero() {
					t.Fatalf("write that did not land (yet): err %v, handle %v, key returned %v", err, u != nil, !pk.IsZero())
				}
			}
		})
	}
}

// BenchmarkEnrollThenOpen compares enrolling and getting an open handle in
// one call (EnrollUnlocked) with Enroll followed by Unlock, at
// kdf.DefaultPolicy (Argon2id 64 MiB, t=3, p=4). Each iteration runs both
// paths, alternating which goes first, and the benchmark reports each
// path's process CPU time per call and their ratio (less sensitive than
// wall time to other processes on a loaded machine):
//
//	go test -run='^$' -bench=EnrollThenOpen -benchtime=10x -count=6 ./vault/
func BenchmarkEnrollThenOpen(b *testing.B) {
	ctx := context.Background()
	v, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	paths := [2]func(){
		func() { // EnrollUnlocked
			_, u, _, err := v.EnrollUnlocked(ctx, "user-bench", pw1)
			if err != nil {
				b.Fatal(err)
			}
			u.Close()
		},
		func() { // Enroll, then Unlock
			account, _, err := v.Enroll(ctx, "user-bench", pw1)
			if err != nil {
				b.Fatal(err)
			}
			u, _, err := v.Unlock(ctx, "user-bench", account, pw1)
			if err != nil {
				b.Fatal(err)
			}
			u.Close()
		},
	}
	var cpu [2]int64
	n := 0
	for b.Loop() {
		for k := range 2 {
			i := (n + k) % 2
			c0 := processCPU()
			paths[i]()
			cpu[i] += processCPU() - c0
		}
		n++
	}
	b.ReportMetric(float64(cpu[0])/float64(n), "enrollunlocked-cpu-ns/op")
	b.ReportMetric(float64(cpu[1])/float64(n), "enroll+unlock-cpu-ns/op")
	b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "cpu-ratio")
}
