package envelope

import (
	"bytes"
	"context"
	"testing"
)

// FuzzRotatedHeader mutates a version-3 header with two older keys: a
// header that parses re-encodes to the same bytes, and the recovery key
// unwraps a key (and older keys) only from the unaltered bytes.
func FuzzRotatedHeader(f *testing.F) {
	ctx := context.Background()
	rk := bytes.Repeat([]byte{7}, RecoveryKeySize)
	rr, err := NewRecoveryRecipient(rk, newDetReader("fuzz-v3"))
	if err != nil {
		f.Fatal(err)
	}
	id, _ := NewRecoveryIdentity(rk)
	k0, _ := NewKey(newDetReader("fuzz-k0"))
	k1, _ := NewKey(newDetReader("fuzz-k1"))
	k2, _ := NewKey(newDetReader("fuzz-k2"))
	h, err := WrapKeyV3(ctx, k0, bindJane, rr)
	if err == nil {
		h, err = h.Rotate(ctx, k0, k1, bindJane, newDetReader("n1"), rr)
	}
	if err == nil {
		h, err = h.Rotate(ctx, k1, k2, bindJane, newDetReader("n2"), rr)
	}
	if err != nil {
		f.Fatal(err)
	}
	good, _ := h.MarshalBinary()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseHeader(data)
		if err != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse then marshal changed the bytes (%v)", err)
		}
		key, err := UnwrapKey(ctx, p, bindJane, id)
		if err != nil {
			return
		}
		if !bytes.Equal(data, good) {
			t.Fatalf("an altered header unwrapped to %x", key)
		}
		older, err := p.OlderKeys(key, bindJane)
		if err != nil || len(older) != 2 {
			t.Fatalf("older keys: %d, %v", len(older), err)
		}
	})
}
