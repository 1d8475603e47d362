package argon2

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKeyMatchesReferencePerPassDump: the RFC 9106 section 5.3 vector
// from the reference implementation's known-answer file
// (testdata/kdf/argon2/argon2id, see testdata/kdf/SOURCE.md), checked
// word by word after each of the three passes (all 32 blocks of 4 lanes),
// then the tag. A mistake in addressing, lanes or slices shows up at the
// first pass and block it affects.
func TestKeyMatchesReferencePerPassDump(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "..", "testdata", "kdf", "argon2", "argon2id"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dumps [][]Block // per pass
	var tag []byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, " After pass "):
			dumps = append(dumps, make([]Block, 32))
		case strings.HasPrefix(line, "Block "):
			var blk, word int
			var v uint64
			if _, err := fmt.Sscanf(strings.ReplaceAll(line, "[", " [ "), "Block %d [ %d]: %x", &blk, &word, &v); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			dumps[len(dumps)-1][blk][word] = v
		case strings.HasPrefix(line, "Tag: "):
			for _, h := range strings.Fields(line[5:]) {
				b, _ := strconv.ParseUint(h, 16, 8)
				tag = append(tag, byte(b))
			}
		}
	}
	if len(dumps) != 3 || len(tag) != 32 {
		t.Fatalf("parsed %d passes and a %d-byte tag", len(dumps), len(tag))
	}
	checked := 0
	afterPass := func(n uint32, B []Block) {
		for i := range B {
			for w := range B[i] {
				if B[i][w] != dumps[n][i][w] {
					t.Errorf("after pass %d, block %d word %d: %016x, want %016x", n, i, w, B[i][w], dumps[n][i][w])
					return
				}
			}
		}
		checked++
	}
	rep := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	got := make([]byte, 32)
	key(make([]Block, 32), got, rep(1, 32), rep(2, 16), rep(3, 8), rep(4, 12), 3, 32, 4, afterPass)
	if checked != 3 {
		t.Fatalf("%d passes matched, want 3", checked)
	}
	if !bytes.Equal(got, tag) {
		t.Fatalf("tag %x, want %x", got, tag)
	}
}
