package lettercode

import "testing"

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
	is, _ := New(Config{Keys: kr})
	code, rec, _ := is.Issue("account-1", t0)
	for b.Loop() {
		if _, err := is.Verify("account-1", rec, Attempts{}, code, t0); err != nil {
			b.Fatal(err)
		}
	}
}
