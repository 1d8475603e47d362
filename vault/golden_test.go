package vault

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// Golden accounts: an account record and sealed records written by this
// package at format version 1, kept in testdata/vault/ so that every later
// version must still open them (backwards compatibility) and so that
// fuzzing workers share one account. Regenerate (only when the format
// version changes, as a new file) with:
//
//	PIIVAULT_WRITE_GOLDEN=1 go test -run TestGoldenAccountsStillOpen ./vault/
type goldenFile struct {
	Comment     string         `json:"comment"`
	UserID      string         `json:"user_id"`
	Password    string         `json:"password"`
	PersonalKey string         `json:"personal_key"`
	Params      string         `json:"params"`  // kdf text encoding
	Account     string         `json:"account"` // hex
	Records     []goldenRecord `json:"records"`
}

type goldenRecord struct {
	Label     string `json:"label"`
	Plaintext string `json:"plaintext"`
	Sealed    string `json:"sealed"` // hex
}

func goldenPath(prof profile) string {
	return filepath.Join("..", "testdata", "vault", "golden-"+prof.name+".json")
}

func writeGolden(t testing.TB, prof profile) {
	ctx := context.Background()
	v, _ := newTestVault(t, prof.weak)
	g := goldenFile{
		Comment:  "piivault vault golden account, format v1; synthetic data; see vault/golden_test.go",
		UserID:   "00000000-0000-4000-8000-000000000001",
		Password: string(pw1),
	}
	account, pk, err := v.Enroll(ctx, g.UserID, pw1)
	if err != nil {
		t.Fatal(err)
	}
	g.PersonalKey, g.Account = pk.String(), hex.EncodeToString(account)
	pt, _ := prof.weak.New.MarshalText()
	g.Params = string(pt)
	u := mustUnlock(t, v, g.UserID, account, pw1)
	defer u.Close()
	idEnc, _ := janeSample.MarshalBinary()
	for _, r := range []goldenRecord{{Label: "pii", Plaintext: string(idEnc)}, {Label: "ssn", Plaintext: janeSample.SSN}} {
		sealed, err := u.Seal(r.Label, []byte(r.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		r.Sealed = hex.EncodeToString(sealed)
		g.Records = append(g.Records, r)
	}
	out, _ := json.MarshalIndent(&g, "", "  ")
	if err := os.MkdirAll(filepath.Dir(goldenPath(prof)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath(prof), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t testing.TB, prof profile) (g goldenFile, account []byte, pk PersonalKey) {
	t.Helper()
	data, err := os.ReadFile(goldenPath(prof))
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if account, err = hex.DecodeString(g.Account); err != nil {
		t.Fatal(err)
	}
	if pk, err = ParsePersonalKey(g.PersonalKey); err != nil {
		t.Fatal(err)
	}
	return g, account, pk
}

func TestGoldenAccountsStillOpen(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			if os.Getenv("PIIVAULT_WRITE_GOLDEN") == "1" {
				writeGolden(t, prof)
			}
			g, account, pk := readGolden(t, prof)
			var params kdf.Params
			if err := params.UnmarshalText([]byte(g.Params)); err != nil {
				t.Fatal(err)
			}
			if got := passwordParams(t, account); got != params {
				t.Fatalf("params %v, file says %v", got, params)
			}
			// Canonical: parse then marshal gives back the same bytes.
			h, err := envelope.ParseHeader(account)
			if err != nil {
				t.Fatal(err)
			}
			again, err := h.MarshalBinary()
			if err != nil || string(again) != string(account) {
				t.Fatal("golden account does not re-encode to the same bytes")
			}
			v, _ := newTestVault(t, prof.weak)
			if _, _, err := v.Unlock(ctx, g.UserID, account, pw2); !errors.Is(err, ErrWrongSecret) {
				t.Fatalf("wrong password: %v", err)
			}
			byPw := mustUnlock(t, v, g.UserID, account, []byte(g.Password))
			defer byPw.Close()
			byPK, err := unlockWithPK(t, g.UserID, account, pk)
			if err != nil {
				t.Fatalf("personal key: %v", err)
			}
			defer byPK.Close()
			for _, r := range g.Records {
				sealed, _ := hex.DecodeString(r.Sealed)
				for _, u := range []*Unlocked{byPw, byPK} {
					got, err := u.Open(r.Label, sealed)
					if err != nil || string(got) != r.Plaintext {
						t.Fatalf("record %s: %q, %v", r.Label, got, err)
					}
				}
			}
		})
	}
}
