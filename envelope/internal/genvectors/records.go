package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"io"

	"github.com/piivault/piivault/envelope"
)

// sealRecordV1 writes a version-1 record from FORMAT.md section 4.2 (the
// envelope package writes version 3 now; the version-1 golden files keep
// their bytes): one read of salt (32) || nonce (12) from r, then
//
//	PRK = HKDF-Extract("piivault/envelope/v1/record", key)
//	enc_key || commitment = HKDF-Expand(PRK, record[:38] || binding, 64)
//	record = record[:38] || commitment || nonce || AES-256-GCM(enc_key, nonce, pt, record[:70] || binding)
func sealRecordV1(key []byte, r io.Reader, b envelope.Binding, pt []byte) []byte {
	rnd := make([]byte, 32+12)
	must(io.ReadFull(r, rnd))
	rec := append([]byte("PVER\x01\x01"), rnd[:32]...)
	prk := must(hkdf.Extract(sha256.New, key, []byte("piivault/envelope/v1/record")))
	okm := must(hkdf.Expand(sha256.New, prk, string(append(append([]byte(nil), rec...), bindingBytes(b)...)), 64))
	rec = append(rec, okm[32:]...)
	ad := append(append([]byte(nil), rec...), bindingBytes(b)...)
	g := must(cipher.NewGCM(must(aes.NewCipher(okm[:32]))))
	rec = append(rec, rnd[32:]...)
	return g.Seal(rec, rnd[32:], pt, ad)
}
