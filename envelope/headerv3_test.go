package envelope

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

func newRecovery(t *testing.T, seed string) (*RecoveryRecipient, *RecoveryIdentity) {
	t.Helper()
	rk := make([]byte, RecoveryKeySize)
	newDetReader(seed).Read(rk)
	r, err := NewRecoveryRecipient(rk, newDetReader(seed+"/salt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewRecoveryIdentity(rk)
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

func newKeyT(t *testing.T, seed string) []byte {
	t.Helper()
	k, err := NewKey(newDetReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func marshalT(t *testing.T, h *Header) []byte {
	t.Helper()
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrapKeyV3StartsAtGenerationOneAndReencodesExactly(t *testing.T) {
	ctx := context.Background()
	r, id := newRecovery(t, "v3/a")
	key := newKeyT(t, "v3/key")
	h, err := WrapKeyV3(ctx, key, bindJane, r)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version() != Version3 || h.Generation() != 1 || h.KeyGeneration() != 0 || len(h.OlderKeyGenerations()) != 0 {
		t.Fatalf("version %d generation %d key generation %d older %v", h.Version(), h.Generation(), h.KeyGeneration(), h.OlderKeyGenerations())
	}
	data := marshalT(t, h)
	if data[4] != 3 || binary.BigEndian.Uint64(data[6:14]) != 1 {
		t.Fatalf("prefix %x", data[:18])
	}
	p, err := ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	if again := marshalT(t, p); !bytes.Equal(again, data) {
		t.Fatal("parse then marshal changed the bytes")
	}
	if got, err := UnwrapKey(ctx, p, bindJane, id); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}
}

func TestRewrapRaisesTheGenerationAndUpgradesVersion1(t *testing.T) {
	ctx := context.Background()
	r, id := newRecovery(t, "v3/b")
	key := newKeyT(t, "v3/key")
	h1, err := WrapKey(ctx, key, bindJane, r)
	if err != nil {
		t.Fatal(err)
	}
	if h1.Version() != Version1 || h1.Generation() != 0 {
		t.Fatalf("v1: version %d generation %d", h1.Version(), h1.Generation())
	}
	// Rewrap keeps version 1 (escrow rotation of old accounts).
	same, err := h1.Rewrap(ctx, key, bindJane, nil)
	if err != nil || same.Version() != Version1 {
		t.Fatalf("rewrap v1: %v", err)
	}
	h3, err := h1.RewrapWith(ctx, key, bindJane, RewrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h3.Version() != Version3 || h3.Generation() != 1 {
		t.Fatalf("upgraded: version %d generation %d", h3.Version(), h3.Generation())
	}
	h4, err := h3.Rewrap(ctx, key, bindJane, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h4.Version() != Version3 || h4.Generation() != 2 {
		t.Fatalf("rewrapped: version %d generation %d", h4.Version(), h4.Generation())
	}
	p, err := ParseHeader(marshalT(t, h4))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapKey(ctx, p, bindJane, id); err != nil || !bytes.Equal(got, key) || p.Generation() != 2 {
		t.Fatalf("unwrap: %v generation %d", err, p.Generation())
	}
}

func TestRotateCarriesOlderKeysAndOldSecretsOpenNothingNew(t *testing.T) {
	ctx := context.Background()
	r0, id0 := newRecovery(t, "v3/r0")
	keys := [][]byte{newKeyT(t, "k0")}
	h, err := WrapKeyV3(ctx, keys[0], bindJane, r0)
	if err != nil {
		t.Fatal(err)
	}
	ids := []*RecoveryIdentity{id0}
	for i := 1; i <= 3; i++ {
		ri, idi := newRecovery(t, "v3/r"+string(rune('0'+i)))
		k := newKeyT(t, "k"+string(rune('0'+i)))
		nh, err := h.Rotate(ctx, keys[i-1], k, bindJane, newDetReader("nonces"), ri)
		if err != nil {
			t.Fatal(err)
		}
		h, err = ParseHeader(marshalT(t, nh))
		if err != nil {
			t.Fatal(err)
		}
		keys, ids = append(keys, k), append(ids, idi)
	}
	if h.KeyGeneration() != 3 || h.Generation() != 4 {
		t.Fatalf("key generation %d generation %d", h.KeyGeneration(), h.Generation())
	}
	for i := 0; i < 3; i++ {
		if _, err := UnwrapKey(ctx, h, bindJane, ids[i]); !errors.Is(err, ErrNoMatch) {
			t.Fatalf("secret of generation %d opens the rotated header: %v", i, err)
		}
	}
	cur, err := UnwrapKey(ctx, h, bindJane, ids[3])
	if err != nil || !bytes.Equal(cur, keys[3]) {
		t.Fatalf("current secret: %v", err)
	}
	older, err := h.OlderKeys(cur, bindJane)
	if err != nil {
		t.Fatal(err)
	}
	if len(older) != 3 {
		t.Fatalf("%d older keys", len(older))
	}
	for i, o := range older {
		want := uint32(2 - i)
		if o.Generation != want || !bytes.Equal(o.Key, keys[want]) {
			t.Fatalf("older key %d: generation %d", i, o.Generation)
		}
	}
	if _, err := h.OlderKeys(keys[2], bindJane); !errors.Is(err, ErrCommitment) {
		t.Fatalf("older keys under an old key: %v", err)
	}
	if _, err := h.OlderKeys(cur, bindOther); !errors.Is(err, ErrHeaderAuth) {
		t.Fatalf("older keys under another binding: %v", err)
	}
	// Dropping older keys once their records are resealed.
	pruned, err := h.RewrapWith(ctx, cur, bindJane, RewrapOptions{KeepOlder: func(g uint32) bool { return g == 2 }})
	if err != nil {
		t.Fatal(err)
	}
	if g := pruned.OlderKeyGenerations(); len(g) != 1 || g[0] != 2 || pruned.Generation() != 5 {
		t.Fatalf("pruned: %v generation %d", g, pruned.Generation())
	}
}

func TestRotateRefusesMoreThanMaxOlderKeys(t *testing.T) {
	ctx := context.Background()
	r, _ := newRecovery(t, "v3/max")
	key := newKeyT(t, "max/0")
	h, err := WrapKeyV3(ctx, key, bindJane, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxOlderKeys; i++ {
		k := newKeyT(t, "max/"+string(rune('a'+i)))
		if h, err = h.Rotate(ctx, key, k, bindJane, nil, r); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		key = k
	}
	if _, err := ParseHeader(marshalT(t, h)); err != nil {
		t.Fatalf("a header with MaxOlderKeys older keys: %v", err)
	}
	if _, err := h.Rotate(ctx, key, newKeyT(t, "max/over"), bindJane, nil, r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("rotation past MaxOlderKeys: %v", err)
	}
	if _, err := h.Rotate(ctx, key, key, bindJane, nil, r); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("rotation to the same key: %v", err)
	}
}

func TestVersion3HeaderEveryBitFlipFails(t *testing.T) {
	ctx := context.Background()
	r, id := newRecovery(t, "v3/flip")
	key := newKeyT(t, "flip/0")
	h, err := WrapKeyV3(ctx, key, bindJane, r)
	if err != nil {
		t.Fatal(err)
	}
	h, err = h.Rotate(ctx, key, newKeyT(t, "flip/1"), bindJane, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	data := marshalT(t, h)
	for i := 0; i < len(data)*8; i++ {
		bad := bytes.Clone(data)
		bad[i/8] ^= 1 << (i % 8)
		p, err := ParseHeader(bad)
		if err != nil {
			continue
		}
		if k, err := UnwrapKey(ctx, p, bindJane, id); err == nil {
			t.Fatalf("bit %d flipped: header still unwraps to %x", i, k)
		}
	}
}

// v3Header assembles a version-3 header prefix by hand for parser tests.
func v3Header(gen uint64, keyGen uint32, stanzas []*Stanza, older []olderKey) []byte {
	h := &Header{version: Version3, generation: gen, keyGen: keyGen, Stanzas: stanzas, older: older}
	b := []byte(headerMagic)
	b = append(b, Version3, SuiteAES256GCM)
	b = binary.BigEndian.AppendUint64(b, h.generation)
	b = binary.BigEndian.AppendUint32(b, h.keyGen)
	b = append(b, byte(len(stanzas)))
	for _, s := range stanzas {
		b = appendStanza(b, s)
	}
	b = append(b, byte(len(older)))
	for _, o := range older {
		b = binary.BigEndian.AppendUint32(b, o.gen)
		b = append(b, o.wrapped...)
	}
	return append(b, make([]byte, CommitmentSize+MACSize)...)
}

func TestParseVersion3RefusesWhatTheFormatForbids(t *testing.T) {
	pw := &Stanza{Type: TypePassword, Body: []byte{1}}
	rec := &Stanza{Type: TypeRecovery, Body: make([]byte, recoverySaltSize+wrappedSize)}
	w := make([]byte, wrappedSize)
	if _, err := ParseHeader(v3Header(1, 2, []*Stanza{pw, rec}, []olderKey{{1, w}, {0, w}})); err != nil {
		t.Fatalf("well-formed header: %v", err)
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"two password stanzas", v3Header(1, 0, []*Stanza{pw, rec, pw}, nil), ErrMalformed},
		{"generation 0", v3Header(0, 0, []*Stanza{rec}, nil), ErrMalformed},
		{"older key not below the key generation", v3Header(1, 1, []*Stanza{rec}, []olderKey{{1, w}}), ErrMalformed},
		{"older keys not decreasing", v3Header(1, 5, []*Stanza{rec}, []olderKey{{1, w}, {2, w}}), ErrMalformed},
		{"older keys repeated", v3Header(1, 5, []*Stanza{rec}, []olderKey{{2, w}, {2, w}}), ErrMalformed},
		{"truncated older key", v3Header(1, 5, []*Stanza{rec}, []olderKey{{2, w[:10]}}), ErrMalformed},
	}
	tooMany := v3Header(1, 100, []*Stanza{rec}, nil)
	// Set the older-key count to MaxOlderKeys+1 with no older key present:
	// refused as too large before anything is read.
	tooMany[len(tooMany)-CommitmentSize-MACSize-1] = MaxOlderKeys + 1
	cases = append(cases, struct {
		name string
		data []byte
		want error
	}{"older-key count over the limit", tooMany, ErrTooLarge})
	for _, c := range cases {
		if _, err := ParseHeader(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Writers refuse a second password stanza in version 3, too.
	d := testDeriver(t)
	p1, _ := NewPasswordRecipient(d, []byte("pass word one!"), testParams, nil)
	p2, _ := NewPasswordRecipient(d, []byte("pass word two!"), testParams, nil)
	if _, err := WrapKeyV3(context.Background(), newKeyT(t, "pw2"), bindJane, p1, p2); !errors.Is(err, ErrMalformed) {
		t.Fatalf("WrapKeyV3 with two password recipients: %v", err)
	}
}

func TestVersion1HeaderOverItsLimitIsTooLarge(t *testing.T) {
	data := make([]byte, MaxHeaderSizeV1+1)
	copy(data, headerMagic)
	data[4], data[5] = Version1, SuiteAES256GCM
	if _, err := ParseHeader(data); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v", err)
	}
}

// TestCheckOrderIsTheSpecs pins the order FORMAT.md settles: a 6-byte
// header is malformed; the single-shot Open checks the total size, then
// the binding, then the header, then the record's framing, then unwraps.
func TestCheckOrderIsTheSpecs(t *testing.T) {
	for _, v := range []byte{Version1, Version3} {
		if _, err := ParseHeader([]byte{'P', 'V', 'E', 'H', v, SuiteAES256GCM}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("6-byte header, version %d: %v", v, err)
		}
	}
	ctx := context.Background()
	r, id := newRecovery(t, "order")
	env, err := Seal(ctx, bindJane, []byte("x"), r)
	if err != nil {
		t.Fatal(err)
	}
	bad := Binding{UserID: "", Label: "x"}
	huge := make([]byte, MaxHeaderSize+MaxRecordSize+RecordOverheadV1+1)
	if _, err := Open(ctx, bad, huge, id); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized input with a bad binding: %v (size comes first)", err)
	}
	if _, err := Open(ctx, bad, env[:len(env)-1], id); !errors.Is(err, ErrInvalidBinding) {
		t.Fatalf("bad binding and a truncated record: %v (binding before the record)", err)
	}
	if _, err := Open(ctx, bindJane, env[:len(env)-RecordOverhead], id); !errors.Is(err, ErrMalformed) {
		t.Fatalf("header without a record: %v", err)
	}
}
