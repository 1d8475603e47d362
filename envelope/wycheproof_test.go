package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type wycheproofAEADFile struct {
	TestGroups []struct {
		IVSize  int `json:"ivSize"`
		KeySize int `json:"keySize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			TCID   int    `json:"tcId"`
			Key    string `json:"key"`
			IV     string `json:"iv"`
			AAD    string `json:"aad"`
			Msg    string `json:"msg"`
			CT     string `json:"ct"`
			Tag    string `json:"tag"`
			Result string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func readWycheproof(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "wycheproof", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// TestWycheproofAESGCM runs Wycheproof's AES-GCM vectors through gcmSeal
// and gcmOpen, the AEAD layer every record and stanza uses (including the
// nonce || ciphertext || tag layout and, under GODEBUG=fips140=only, the
// module-nonce AEAD on the open side). Only the parameters the format uses
// apply: 256-bit keys, 96-bit nonces, 128-bit tags; the rest are counted.
func TestWycheproofAESGCM(t *testing.T) {
	var f wycheproofAEADFile
	readWycheproof(t, "aes_gcm_test.json", &f)
	var valid, invalid, skipped int
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
				skipped++
				continue
			}
			key, iv, aad := mustHex(t, tc.Key), mustHex(t, tc.IV), mustHex(t, tc.AAD)
			msg, ct, tag := mustHex(t, tc.Msg), mustHex(t, tc.CT), mustHex(t, tc.Tag)
			sealed := append(append(bytes.Clone(iv), ct...), tag...)
			pt, err := gcmOpen(nil, key, sealed, aad)
			switch tc.Result {
			case "valid":
				valid++
				if err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("tcId %d: valid vector rejected: %v", tc.TCID, err)
				}
				if !fips140Enforced() {
					if got := gcmSeal(nil, key, iv, msg, aad); !bytes.Equal(got, sealed) {
						t.Errorf("tcId %d: seal gives %x", tc.TCID, got)
					}
				}
			case "invalid":
				invalid++
				if err == nil || pt != nil {
					t.Errorf("tcId %d: invalid vector accepted", tc.TCID)
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TCID, tc.Result)
			}
		}
	}
	if valid == 0 || invalid == 0 {
		t.Fatal("no applicable vectors")
	}
	t.Logf("AES-256-GCM: %d valid, %d invalid vectors checked; %d with other sizes skipped", valid, invalid, skipped)
}

type wycheproofMACFile struct {
	TestGroups []struct {
		KeySize int `json:"keySize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			TCID   int    `json:"tcId"`
			Key    string `json:"key"`
			Msg    string `json:"msg"`
			Tag    string `json:"tag"`
			Result string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofHMACSHA256 checks the precomputed-pad HMAC-SHA256 that
// derives record subkeys (hmacKey.sum) against Wycheproof, every key size
// and truncated tag included.
func TestWycheproofHMACSHA256(t *testing.T) {
	var f wycheproofMACFile
	readWycheproof(t, "hmac_sha256_test.json", &f)
	s := newHashScratch()
	n := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			n++
			k := newHMACKey(mustHex(t, tc.Key))
			msg := mustHex(t, tc.Msg)
			var out [sha256.Size]byte
			// Split the message over the three parts sum takes.
			a, b := len(msg)/3, 2*len(msg)/3
			k.sum(&s, &out, msg[:a], msg[a:b], msg[b:])
			tag := mustHex(t, tc.Tag)
			match := len(tag) == g.TagSize/8 && bytes.Equal(out[:len(tag)], tag)
			if match != (tc.Result == "valid") {
				t.Errorf("tcId %d (%s): computed %s", tc.TCID, tc.Result, hex.EncodeToString(out[:]))
			}
		}
	}
	t.Logf("%d HMAC-SHA256 vectors", n)
}
