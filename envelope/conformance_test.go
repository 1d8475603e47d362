package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The tests in this file hold RecordKey to the rules of Go's
// crypto/internal/cryptotest AEAD suite, adapted to an AEAD whose nonce is
// internal and whose associated data is a Binding.

func newTestRecordKey(t testing.TB) *RecordKey {
	t.Helper()
	k, err := NewRecordKey(bytes.Repeat([]byte{0x42}, KeySize), newDetReader("conformance"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var conformanceSizes = []int{0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1024, 4097}

func TestRecordSealLeavesInputUntouchedAndOpenRoundTrips(t *testing.T) {
	k := newTestRecordKey(t)
	for _, n := range conformanceSizes {
		pt := bytes.Repeat([]byte{0xa7}, n)
		orig := bytes.Clone(pt)
		rec, err := k.Seal(nil, bindPII, pt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pt, orig) {
			t.Fatalf("n=%d: Seal modified its input", n)
		}
		recOrig := bytes.Clone(rec)
		got, err := k.Open(nil, bindPII, rec)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: round trip: %v", n, err)
		}
		if !bytes.Equal(rec, recOrig) {
			t.Fatalf("n=%d: Open modified its input", n)
		}
	}
}

func TestRecordSealTwiceGivesDifferentRecords(t *testing.T) {
	k := newTestRecordKey(t)
	a, _ := k.Seal(nil, bindPII, []byte("same"))
	b, _ := k.Seal(nil, bindPII, []byte("same"))
	if bytes.Equal(a[recordV3HeaderSize:recordV3HeaderSize+gcmNonceSize], b[recordV3HeaderSize:recordV3HeaderSize+gcmNonceSize]) || bytes.Equal(a, b) {
		t.Fatal("two seals share a nonce")
	}
}

func TestRecordSealAndOpenAppendToDst(t *testing.T) {
	k := newTestRecordKey(t)
	prefix := []byte("prefix kept as is")
	for _, n := range conformanceSizes {
		pt := bytes.Repeat([]byte{1}, n)
		for _, spare := range []int{0, 7, n + RecordOverhead} {
			dst := append(make([]byte, 0, len(prefix)+spare), prefix...)
			rec, err := k.Seal(dst, bindPII, pt)
			if err != nil || !bytes.Equal(rec[:len(prefix)], prefix) || len(rec) != len(prefix)+n+RecordOverhead {
				t.Fatalf("n=%d spare=%d: seal append: %v", n, spare, err)
			}
			dst2 := append(make([]byte, 0, len(prefix)+spare), prefix...)
			got, err := k.Open(dst2, bindPII, rec[len(prefix):])
			if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), pt...)) {
				t.Fatalf("n=%d spare=%d: open append: %v", n, spare, err)
			}
		}
	}
}

// TestRecordSealAndOpenInPlace uses the input's own buffer as output
// (plaintext[:0] for Seal, record[:0] for Open), the overlapping case that
// cipher.AEAD allows.
func TestRecordSealAndOpenInPlace(t *testing.T) {
	k := newTestRecordKey(t)
	for _, n := range conformanceSizes {
		want := bytes.Repeat([]byte{0x3c}, n)
		buf := make([]byte, n, n+RecordOverhead)
		copy(buf, want)
		rec, err := k.Seal(buf[:0], bindPII, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && &rec[0] != &buf[0] {
			t.Fatal("sealed out of place despite capacity")
		}
		pt, err := k.Open(rec[:0], bindPII, rec)
		if err != nil || !bytes.Equal(pt, want) {
			t.Fatalf("n=%d: in place: %v", n, err)
		}
		// Shifted overlap: output starts a few bytes into the input.
		rec, _ = k.Seal(nil, bindPII, want)
		big := make([]byte, 5+len(rec))
		copy(big[5:], rec)
		pt, err = k.Open(big[:3], bindPII, big[5:])
		if err != nil || !bytes.Equal(pt[3:], want) {
			t.Fatalf("n=%d: shifted overlap: %v", n, err)
		}
	}
}

func TestRecordOpenFailsOnWrongBindingOrCiphertextAndClearsOutput(t *testing.T) {
	k := newTestRecordKey(t)
	pt := bytes.Repeat([]byte{0xee}, 100)
	rec, _ := k.Seal(nil, bindPII, pt)
	cases := map[string]struct {
		b    Binding
		rec  []byte
		want error
	}{
		"other user":       {bindOther, rec, ErrCommitment},
		"other label":      {bindJane, rec, ErrCommitment},
		"ciphertext flip":  {bindPII, flipBit(rec, recordV3HeaderSize+gcmNonceSize+3), ErrPayloadAuth},
		"tag flip":         {bindPII, flipBit(rec, len(rec)-1), ErrPayloadAuth},
		"nonce flip":       {bindPII, flipBit(rec, recordV3HeaderSize), ErrCommitment},
		"commitment flip":  {bindPII, flipBit(rec, 40), ErrCommitment},
		"generation flip":  {bindPII, flipBit(rec, 6), ErrGeneration},
		"version":          {bindPII, flipBit(rec, 4), ErrVersion},
		"magic":            {bindPII, flipBit(rec, 0), ErrMalformed},
		"short":            {bindPII, rec[:RecordOverhead-1], ErrMalformed},
		"extended by zero": {bindPII, append(bytes.Clone(rec), 0), ErrPayloadAuth},
	}
	for name, c := range cases {
		// The output buffer starts full of a marker; after a failure, no
		// byte past len(dst) may hold plaintext.
		dst := bytes.Repeat([]byte{0x99}, 200)[:0]
		got, err := k.Open(dst, c.b, c.rec)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if bytes.Contains(dst[:cap(dst)], []byte{0xee, 0xee, 0xee, 0xee}) {
			t.Errorf("%s: plaintext left in the output buffer", name)
		}
	}
}

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// TestRecordAllocations counts heap allocations (a property, not a time):
// Seal and Open of version-3 records allocate the output when dst has no
// room, and nothing else.
func TestRecordAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	k, err := NewRecordKey(bytes.Repeat([]byte{0x42}, KeySize), nil) // crypto/rand: allocates nothing
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]byte, 1024)
	rec, _ := k.Seal(nil, bindPII, pt)
	out := make([]byte, 0, 2048)
	for name, f := range map[string]func(){
		"Seal, dst without room": func() { k.Seal(nil, bindPII, pt) },
		"Seal, dst with room":    func() { k.Seal(out[:0], bindPII, pt) },
		"Open, dst without room": func() { k.Open(nil, bindPII, rec) },
		"Open, dst with room":    func() { k.Open(out[:0], bindPII, rec) },
	} {
		n := testing.AllocsPerRun(50, f)
		max := 0.0
		if strings.Contains(name, "without") {
			max = 1 // the output
		}
		t.Logf("%s: %.0f allocations", name, n)
		if n > max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", name, n, max)
		}
	}
}

func TestRecordKeyRefusesBadInput(t *testing.T) {
	if _, err := NewRecordKey(make([]byte, 16), nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("16-byte key: %v", err)
	}
	k := newTestRecordKey(t)
	if _, err := k.Seal(nil, Binding{UserID: "u"}, nil); !errors.Is(err, ErrInvalidBinding) {
		t.Fatalf("empty label: %v", err)
	}
	if _, err := k.Seal(nil, Binding{UserID: string(make([]byte, 256)), Label: "l"}, nil); !errors.Is(err, ErrInvalidBinding) {
		t.Fatalf("256-byte user id: %v", err)
	}
	if _, err := k.Seal(nil, bindPII, make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized plaintext: %v", err)
	}
	// An oversized record is refused by its length, before any work.
	if _, err := k.Open(nil, bindPII, make([]byte, MaxRecordSize+RecordOverheadV1+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	rec, _ := k.Seal(nil, bindPII, []byte("x"))
	k.Destroy()
	if _, err := k.Open(nil, bindPII, rec); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("after Destroy: %v", err)
	}
}

// TestRecordKeyIsSafeForConcurrentUse seals and opens from many goroutines
// sharing one RecordKey (run with -race).
func TestRecordKeyIsSafeForConcurrentUse(t *testing.T) {
	k, err := NewRecordKey(bytes.Repeat([]byte{0x42}, KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			b := Binding{UserID: "user-900-00-0001", Label: string(rune('a' + g))}
			for i := range 100 {
				pt := bytes.Repeat([]byte{byte(g)}, i)
				rec, err := k.Seal(nil, b, pt)
				if err == nil {
					var got []byte
					got, err = k.Open(nil, b, rec)
					if err == nil && !bytes.Equal(got, pt) {
						err = errors.New("wrong plaintext")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
