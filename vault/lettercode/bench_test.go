package lettercode

import (
	"context"
	"testing"
)

func BenchmarkIssue(b *testing.B) {
	kr, _ := NewKeyring(testKey("k1", 0))
	is, _ := New(Config{Keys: kr})
	for b.Loop() {
		if _, _, err := is.Issue("account-1", t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	kr, _ := NewKeyring(testKey("k1", 0))
	is, _ := New(Config{Keys: kr, Attempts: nopStore{}})
	code, rec, _ := is.Issue("account-1", t0)
	for b.Loop() {
		if err := is.Verify(ctx, "account-1", rec, code, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// nopStore never fills: the benchmark measures Verify, not the limit.
type nopStore struct{}

func (nopStore) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (nopStore) CompareAndSwap(context.Context, string, []byte, []byte) (bool, error) {
	return true, nil
}
