package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// FuzzInspect feeds arbitrary bytes to inspect: it never panics, and what
// it prints of an account never holds a password or recovery stanza's
// body (salt, wrapped key), in hex or raw.
func FuzzInspect(f *testing.F) {
	for _, name := range []string{"golden-argon2id.json", "golden-v3-argon2id.json", "golden-v3-pbkdf2-fips.json"} {
		data, err := os.ReadFile(filepath.Join(repoTestdata, "vault", name))
		if err != nil {
			f.Fatal(err)
		}
		var g struct{ Account string }
		if err := json.Unmarshal(data, &g); err != nil {
			f.Fatal(err)
		}
		raw, _ := hex.DecodeString(g.Account)
		f.Add(raw)
		f.Add([]byte(g.Account))
	}
	f.Add([]byte("PVSH\x03abc"))
	f.Add([]byte("PVES\x01\x01\x00\x00\x00\x00\x10"))
	f.Add([]byte("PVER\x03\x01\x00\x00\x00\x00"))
	pol := kdf.DefaultPolicy()
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := inspect(data, pol, "default")
		if err != nil {
			if ins != nil {
				t.Fatal("an Inspection with an error")
			}
			return
		}
		var text bytes.Buffer
		printInspection(&text, ins)
		js, err := json.Marshal(ins)
		if err != nil {
			t.Fatal(err)
		}
		if ins.Kind != "account" {
			return
		}
		raw, _, _ := decodeInput(data)
		h, err := envelope.ParseHeader(raw)
		if err != nil {
			t.Fatalf("inspect accepted a header ParseHeader refuses: %v", err)
		}
		out := text.String() + string(js)
		for _, st := range h.Stanzas {
			if st.Type != envelope.TypePassword && st.Type != envelope.TypeRecovery {
				continue
			}
			for i := 0; i+8 <= len(st.Body); i += 8 {
				w := hex.EncodeToString(st.Body[i : i+8])
				if strings.Contains(out, w) && !printedAsKeyID(ins, w) {
					t.Fatalf("stanza body bytes %s in the output", w)
				}
			}
		}
	})
}

// printedAsKeyID reports whether w is part of a key id inspect prints
// (an escrow stanza's key id may repeat any bytes).
func printedAsKeyID(ins *Inspection, w string) bool {
	for _, s := range ins.Stanzas {
		if strings.Contains(s.KeyID, w) {
			return true
		}
	}
	return false
}
