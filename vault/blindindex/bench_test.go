package blindindex

import "testing"

func BenchmarkFingerprintSSN(b *testing.B) {
	kr, _ := NewKeyring(seqKey("k1", 0))
	for b.Loop() {
		if _, err := kr.Fingerprint(FieldSSN, "900-12-3456"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprintName(b *testing.B) {
	kr, _ := NewKeyring(seqKey("k1", 0))
	for b.Loop() {
		if _, err := kr.Fingerprint(FieldFamilyName, "  Sample-Doe  "); err != nil {
			b.Fatal(err)
		}
	}
}
