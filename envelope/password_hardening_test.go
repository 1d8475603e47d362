package envelope

import (
	"bytes"
	"context"
	"errors"
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
