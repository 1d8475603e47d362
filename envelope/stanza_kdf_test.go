package envelope

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// rfc5869 is HKDF-SHA256 written out from RFC 5869 with crypto/hmac, to
// pin the stanza subkeys independently of how the package computes them.
func rfc5869(salt, ikm, info []byte, n int) []byte {
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	m := hmac.New(sha256.New, salt)
	m.Write(ikm)
	prk := m.Sum(nil)
	var out, t []byte
	for i := byte(1); len(out) < n; i++ {
		m := hmac.New(sha256.New, prk)
		m.Write(t)
		m.Write(info)
		m.Write([]byte{i})
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out[:n]
}

// TestStanzaSubkeysAreHKDFSHA256 checks that the stanza, older-key and
// header subkeys are exactly FORMAT.md's HKDF-SHA256 (computed here from
// RFC 5869); the package computes them with crypto/hkdf, which is the FIPS
// 140-3 module's HKDF when fips140.Enabled() (GODEBUG=fips140=on|only).
func TestStanzaSubkeysAreHKDFSHA256(t *testing.T) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	ad := stanzaAD(TypeRecovery, nil, bytes.Repeat([]byte{1}, 32), bindJane)
	for _, label := range []string{labelStanzaSalt, labelOlderKey} {
		enc, com := commitKeys(kek, label, ad)
		want := rfc5869([]byte(label), kek, ad, 64)
		if !bytes.Equal(enc, want[:32]) || !bytes.Equal(com, want[32:]) {
			t.Fatalf("%s: stanza subkeys differ from RFC 5869 HKDF-SHA256", label)
		}
	}
	com, mac := headerKeys(kek)
	if !bytes.Equal(com, rfc5869(nil, kek, []byte(labelHeaderCommit), 32)) || !bytes.Equal(mac, rfc5869(nil, kek, []byte(labelHeaderMAC), 32)) {
		t.Fatal("header subkeys differ from RFC 5869 HKDF-SHA256")
	}
	salt := bytes.Repeat([]byte{3}, recoverySaltSize)
	if !bytes.Equal(recoveryKEK(kek[:20], salt), rfc5869(salt, kek[:20], []byte(labelRecovery), 32)) {
		t.Fatal("recovery KEK differs from RFC 5869 HKDF-SHA256")
	}
}
