package envelope

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/piivault/piivault/kdf"
)

func loadVectors(t *testing.T, outcome string) []vectorRecord { return loadVectorsF(t, outcome) }

func loadVectorsF(t testing.TB, outcome string) []vectorRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "envelope", outcome+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Vectors
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

// TestEveryBitFlipAndTruncationOfGoldenEnvelopesIsRejected flips each bit of
// each golden (success) envelope, header and record, and truncates it at
// every length; the single-shot Open must reject every one, returning no
// plaintext. Header changes are caught by parsing, a stanza's commitment or
// tag, the header commitment or the MAC; record changes by the record's
// commitment or tag.
func TestEveryBitFlipAndTruncationOfGoldenEnvelopesIsRejected(t *testing.T) {
	// Tight caps: a flip that raises a KDF cost is refused before deriving
	// (as any cap violation is) instead of spending seconds on it.
	pol := testPolicy()
	pol.Caps = kdf.Caps{MaxMemoryKiB: 256, MaxPasses: 2, MaxThreads: 2, MaxScryptNR: 64, MaxScryptP: 2, MaxPBKDF2Iterations: 2000, MaxWorkMultiple: 1 << 20}
	d, err := kdf.New(kdf.Config{Policy: pol, MemoryBudget: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var flips, truncations int
	for _, v := range loadVectors(t, "success") {
		b := Binding{UserID: v.UserID, Label: v.Label}
		env := append(mustHex(t, v.Header), mustHex(t, v.Record)...)
		var ids []Identity
		for _, id := range v.identities(t, d) {
			ids = append(ids, &memoIdentity{id: id, seen: map[string]memoResult{}})
		}
		if pt, err := Open(ctx, b, env, ids...); err != nil || !bytes.Equal(pt, mustHex(t, v.Plaintext)) {
			t.Fatalf("%s: golden envelope does not open: %v", v.Name, err)
		}
		mod := bytes.Clone(env)
		for i := range mod {
			for bit := 0; bit < 8; bit++ {
				mod[i] ^= 1 << bit
				if pt, err := Open(ctx, b, mod, ids...); err == nil || pt != nil {
					t.Fatalf("%s: flipping bit %d of byte %d was accepted", v.Name, bit, i)
				}
				mod[i] ^= 1 << bit
				flips++
			}
		}
		for n := range len(env) {
			if pt, err := Open(ctx, b, env[:n], ids...); err == nil || pt != nil {
				t.Fatalf("%s: truncation to %d bytes was accepted", v.Name, n)
			}
			truncations++
		}
		// One byte appended is refused too (the record's tag moves).
		if _, err := Open(ctx, b, append(bytes.Clone(env), 0), ids...); err == nil {
			t.Fatalf("%s: an appended byte was accepted", v.Name)
		}
	}
	t.Logf("rejected %d bit flips and %d truncations of golden envelopes", flips, truncations)
}

// memoIdentity remembers what an identity returned for a given list of
// stanzas and binding (an identity is a function of them), so that the
// exhaustive tamper test runs the KDF only when a flip lands in a stanza.
type memoIdentity struct {
	id   Identity
	seen map[string]memoResult
}

type memoResult struct {
	key []byte
	err error
}

func (m *memoIdentity) Unwrap(ctx context.Context, stanzas []*Stanza, b Binding) ([]byte, error) {
	k := appendBinding(nil, b)
	for _, s := range stanzas {
		k = appendStanza(k, s)
	}
	r, ok := m.seen[string(k)]
	if !ok {
		r.key, r.err = m.id.Unwrap(ctx, stanzas, b)
		m.seen[string(k)] = r
	}
	return bytes.Clone(r.key), r.err
}
