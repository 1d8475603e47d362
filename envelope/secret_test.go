package envelope

import (
	"bytes"
	"context"
	"testing"
)

// TestDerivationAndUnwrapRunInsideSecretDo checks, in a build with
// GOEXPERIMENT=runtimesecret (a CI step runs it), that a password and a
// recovery unwrap ran inside runtime/secret.Do; in other builds it checks
// that they work without it.
func TestDerivationAndUnwrapRunInsideSecretDo(t *testing.T) {
	ctx := context.Background()
	d := testDeriver(t)
	pr, err := NewPasswordRecipient(d, []byte("a password, long enough"), testParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	rr, id := newRecovery(t, "secret-do")
	key := newKeyT(t, "secret-do")
	h, err := WrapKeyV3(ctx, key, bindJane, pr, rr)
	if err != nil {
		t.Fatal(err)
	}
	pi, _ := NewPasswordIdentity(d, []byte("a password, long enough"))
	for _, ident := range []Identity{pi, id} {
		secretDoSawEnabled.Store(false)
		got, err := UnwrapKey(ctx, h, bindJane, ident)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unwrap: %v", err)
		}
		if secretDoEnabled && !secretDoSawEnabled.Load() {
			t.Fatal("built with runtimesecret, but the unwrap did not run inside secret.Do")
		}
	}
	t.Logf("runtime/secret.Do in use: %v", secretDoEnabled)
}
