package envelope

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestStreamChunkNoncesNeverRepeatWithinAStream: every chunk of a stream is
// sealed under the same per-stream key, so two chunks with one nonce would
// break AES-GCM (keystream reuse, forgeable tags). A reader cannot notice
// (it takes the nonce as stored), so the writer's nonces are checked here,
// on the bytes it writes.
func TestStreamChunkNoncesNeverRepeatWithinAStream(t *testing.T) {
	key, err := NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := NewRecordKey(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rk.Destroy()
	const chunk, chunks = MinStreamChunkSize, 64
	var out bytes.Buffer
	w, err := rk.NewStreamWriter(&out, Binding{UserID: "user-0001", Label: "id-document"}, chunk)
	if err != nil {
		t.Fatal(err)
	}
	// The same plaintext in every chunk, so equal nonces would also show
	// as equal ciphertexts.
	if _, err := w.Write(bytes.Repeat([]byte("synthetic-data!!"), chunk*chunks/16)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	body := out.Bytes()[StreamHeaderSize:]
	sealed := chunk + StreamChunkOverhead
	seen := map[string]int{}
	n := 0
	for ; len(body) > 0; n++ {
		c := body[:min(sealed, len(body))]
		body = body[len(c):]
		nonce := string(c[:gcmNonceSize])
		if i, dup := seen[nonce]; dup {
			t.Fatalf("chunks %d and %d share the nonce %x", i, n, nonce)
		}
		seen[nonce] = n
	}
	if n < chunks {
		t.Fatalf("parsed %d chunks, want at least %d: the layout assumed here is off", n, chunks)
	}
}
