package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/piivault/piivault/kdf"
)

func TestPasswordConstructorsClearTheNormalizedCopy(t *testing.T) {
	var copies [][]byte
	orig := normalizePassword
	normalizePassword = func(pw []byte) ([]byte, error) {
		n, err := orig(pw)
		copies = append(copies, n)
		return n, err
	}
	defer func() { normalizePassword = orig }()
	d := testDeriver(t)
	pw := []byte("a password to normalize")
	if _, err := NewPasswordRecipient(d, pw, testParams, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPasswordIdentity(d, pw); err != nil {
		t.Fatal(err)
	}
	if len(copies) != 2 {
		t.Fatalf("%d normalizations", len(copies))
	}
	for i, c := range copies {
		if !bytes.Equal(c, make([]byte, len(c))) {
			t.Fatalf("normalized copy %d not cleared: %q", i, c)
		}
	}
}

// TestEveryPasswordStanzaIsCapCheckedBeforeTheFirstDerivation: a version-1
// header whose first password stanza the password opens and whose second
// asks for parameters over the caps is refused, not opened: no stanza is
// derived before all are checked.
func TestEveryPasswordStanzaIsCapCheckedBeforeTheFirstDerivation(t *testing.T) {
	ctx := context.Background()
	d := testDeriver(t)
	pw := []byte("correct horse battery staple")
	pr, _ := NewPasswordRecipient(d, pw, testParams, newDetReader("caps"))
	key := newKeyT(t, "caps")
	ss, err := pr.Wrap(ctx, key, bindJane)
	if err != nil {
		t.Fatal(err)
	}
	costly := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 1 << 30, Passes: 1, Threads: 1}
	pb, _ := costly.AppendBinary(nil)
	body := append([]byte{byte(len(pb))}, pb...)
	body = append(body, make([]byte, passwordSaltSize+wrappedSize)...)
	id, _ := NewPasswordIdentity(d, pw)
	_, err = id.Unwrap(ctx, []*Stanza{ss[0], {Type: TypePassword, Body: body}}, bindJane)
	if !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("got %v, want kdf.ErrParamsTooCostly before any derivation", err)
	}
	// A malformed second stanza likewise.
	_, err = id.Unwrap(ctx, []*Stanza{ss[0], {Type: TypePassword, Body: []byte{0}}}, bindJane)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

// TestVersion1PasswordStanzasTogetherCostAtMostOneCappedDerivation: a
// version-1 header may hold several password stanzas (version-1 bytes
// keep opening), but not more work in all than the policy lets one
// derivation cost: five stanzas each a quarter of the cap are refused
// with kdf.ErrParamsTooCostly before any derivation, although each alone
// passes; three of them open with the password of the third, one KDF run
// each.
func TestVersion1PasswordStanzasTogetherCostAtMostOneCappedDerivation(t *testing.T) {
	ctx := context.Background()
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	pol := kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}
	pol.Caps.MaxWorkMultiple = 4 // one derivation may cost 4000 iterations
	d, err := kdf.New(kdf.Config{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	key := newKeyT(t, "total-work")
	header := func(n int) *Header {
		t.Helper()
		var rs []Recipient
		for i := range n {
			pr, err := NewPasswordRecipient(d, fmt.Appendf(nil, "password number %d", i), p, newDetReader(fmt.Sprint("tw", i)))
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, pr)
		}
		h, err := WrapKey(ctx, key, bindJane, rs...)
		if err != nil {
			t.Fatal(err)
		}
		if h.Version() != Version1 {
			t.Fatalf("header version %d, want a version-1 header", h.Version())
		}
		return h
	}
	five, three := header(5), header(3)
	id, _ := NewPasswordIdentity(d, []byte("password number 2"))
	before := d.Derivations()
	if _, err := UnwrapKey(ctx, five, bindJane, id); !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("five stanzas of 1000 iterations under a 4000 cap: %v, want kdf.ErrParamsTooCostly", err)
	}
	if runs := d.Derivations() - before; runs != 0 {
		t.Fatalf("%d KDF runs before refusing", runs)
	}
	before = d.Derivations()
	got, err := UnwrapKey(ctx, three, bindJane, id)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("three stanzas: %v", err)
	}
	if runs := d.Derivations() - before; runs != 3 {
		t.Fatalf("%d KDF runs for the third of three stanzas, want 3", runs)
	}
}

// TestPasswordStanzasTotalWorkIsExactAtTheCap: the total-work check of a
// version-1 header's password stanzas is exact. Eleven PBKDF2 stanzas of
// 91 iterations under a cap of 1001 cost exactly one capped derivation and
// pass (a floating-point sum of 91/1001 eleven times exceeds 1 and refused
// them); twelve, or 1000 + 2 iterations, are refused; and shares of
// different algorithms add exactly.
func TestPasswordStanzasTotalWorkIsExactAtTheCap(t *testing.T) {
	pb := func(it uint64) *passwordStanza {
		return &passwordStanza{params: kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: uint32(it)}}
	}
	newP := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1001}
	pol := kdf.Policy{New: newP, FloorPBKDF2: newP, Caps: kdf.DefaultCaps()}
	pol.Caps.MaxWorkMultiple = 1
	stanzas := func(n int, it uint64) []*passwordStanza {
		var ps []*passwordStanza
		for range n {
			ps = append(ps, pb(it))
		}
		return ps
	}
	if err := checkTotalWork(pol, stanzas(11, 91)); err != nil {
		t.Fatalf("11 x 91 iterations under a cap of 1001 (exactly the cap): %v", err)
	}
	if err := checkTotalWork(pol, stanzas(12, 91)); !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("12 x 91 iterations under a cap of 1001: %v, want kdf.ErrParamsTooCostly", err)
	}
	if err := checkTotalWork(pol, append(stanzas(1, 1000), pb(2))); !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("1000 + 2 iterations under a cap of 1001: %v, want kdf.ErrParamsTooCostly", err)
	}

	// Mixed algorithms: half of the Argon2id cap and half of the PBKDF2
	// cap make one; one more KiB-pass is over.
	argon := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 1000, Passes: 2, Threads: 1}
	mixed := kdf.Policy{New: argon, FloorArgon2id: argon, FloorPBKDF2: kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}, Caps: kdf.DefaultCaps()}
	mixed.Caps.MaxWorkMultiple = 1
	amax, _ := mixed.MaxWork(kdf.Argon2id)
	pmax, _ := mixed.MaxWork(kdf.PBKDF2SHA256)
	if amax != 2000 || pmax == 0 || pmax%2 != 0 {
		t.Fatalf("test setup: Argon2id cap %d, PBKDF2 cap %d", amax, pmax)
	}
	half := &passwordStanza{params: kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 1000, Passes: 1, Threads: 1}}
	overHalf := &passwordStanza{params: kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 1001, Passes: 1, Threads: 1}}
	if err := checkTotalWork(mixed, []*passwordStanza{half, pb(pmax / 2)}); err != nil {
		t.Fatalf("half of each cap: %v", err)
	}
	if err := checkTotalWork(mixed, []*passwordStanza{overHalf, pb(pmax / 2)}); !errors.Is(err, kdf.ErrParamsTooCostly) {
		t.Fatalf("just over half of one cap and half of the other: %v, want kdf.ErrParamsTooCostly", err)
	}
}
