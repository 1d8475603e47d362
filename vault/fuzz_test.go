package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"
)

// FuzzUnlockAccount feeds arbitrary account records to Unlock. It must
// never panic, and a record that unlocks must be the enrolled one: any
// other spelling (a mutation, a truncation) that opened would be a
// malleable or non-canonical header.
func FuzzUnlockAccount(f *testing.F) {
	ctx := context.Background()
	// The golden account: every fuzzing worker process runs this setup
	// again and must see the same account as the seeds.
	prof := profiles(f)[0]
	g, account, _ := readGolden(f, prof)
	v, _ := newTestVault(f, prof.weak)
	rec, err := hex.DecodeString(g.Records[1].Sealed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(account)
	f.Add(account[:len(account)-1])
	f.Add(append(append([]byte(nil), account...), 0))
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, up, err := v.Unlock(ctx, g.UserID, data, []byte(g.Password))
		if err != nil {
			if u != nil || up != nil {
				t.Fatal("failed Unlock returned a handle or a record")
			}
			return
		}
		defer u.Close()
		if !bytes.Equal(data, account) {
			t.Fatalf("a different account record (%x) unlocked", data)
		}
		if got, err := u.Open(g.Records[1].Label, rec); err != nil || string(got) != g.Records[1].Plaintext {
			t.Fatalf("record: %v", err)
		}
	})
}

// FuzzUnlockRotatedAccount is FuzzUnlockAccount for the version-3 golden
// account (after a rotation): only its exact bytes unlock, and then both
// of its records open, the older one through the older key it carries.
func FuzzUnlockRotatedAccount(f *testing.F) {
	ctx := context.Background()
	prof := profiles(f)[0]
	g, account, _ := readGoldenFile(f, goldenV3Path(prof))
	v, _ := newTestVault(f, prof.weak)
	f.Add(account)
	f.Add(account[:len(account)-1])
	f.Add(append(append([]byte(nil), account...), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, up, err := v.Unlock(ctx, g.UserID, data, []byte(g.Password))
		if err != nil {
			if u != nil || up != nil {
				t.Fatal("failed Unlock returned a handle or a record")
			}
			return
		}
		defer u.Close()
		if !bytes.Equal(data, account) {
			t.Fatalf("a different account record (%x) unlocked", data)
		}
		for _, r := range g.Records {
			sealed, _ := hex.DecodeString(r.Sealed)
			if got, err := u.Open(r.Label, sealed); err != nil || string(got) != r.Plaintext {
				t.Fatalf("record %s: %v", r.Label, err)
			}
		}
	})
}
