package kdf

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// TestSecretExpandLimitIsDocumentedAndExplicit: Expand gives up to
// MaxExpandSize (8,160) bytes, equal to crypto/hkdf's, and refuses one
// byte more or a negative length with its own panic naming the limit
// (not a runtime makeslice panic or an hkdf message from deep inside).
func TestSecretExpandLimitIsDocumentedAndExplicit(t *testing.T) {
	if MaxExpandSize != 8160 {
		t.Fatalf("MaxExpandSize = %d, want 255*32 = 8160", MaxExpandSize)
	}
	s := &Secret{}
	for i := range s.b {
		s.b[i] = byte(i)
	}
	got := s.Expand("record", MaxExpandSize)
	want, err := hkdf.Expand(sha256.New, s.b[:], "piivault/kdf/v1/record", MaxExpandSize)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Expand(%d) differs from crypto/hkdf (%v)", MaxExpandSize, err)
	}
	if n := len(s.Expand("record", 0)); n != 0 {
		t.Fatalf("Expand(0) returned %d bytes", n)
	}
	for _, n := range []int{MaxExpandSize + 1, -1, 1 << 40} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			s.Expand("record", n)
			return "no panic"
		}()
		if !strings.Contains(msg, "MaxExpandSize") {
			t.Errorf("Expand(%d): panic %q, want one naming MaxExpandSize", n, msg)
		}
	}
}
