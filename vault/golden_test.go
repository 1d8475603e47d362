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

// Golden accounts: account records and sealed records written by this
// package, kept in testdata/vault/ so that every later version must still
// open them (backwards compatibility) and so that fuzzing workers share one
// account. Version 1 (golden-<profile>.json): enrolled, two records.
// Version 3 (golden-v3-<profile>.json): enrolled, one record, recovered
// (the key rotated), one more record. The tests that check them only read
// them; TestWriteGolden writes a missing file and never overwrites one:
//
//	PIIVAULT_WRITE_GOLDEN=1 go test -run TestWriteGolden ./vault/
type goldenFile struct {
	Comment string `json:"comment"`
	// Version 3 files: the account's authenticated generation and key
	// generation, and the key generation each record names.
	Generation    uint64         `json:"generation,omitempty"`
	KeyGeneration uint32         `json:"key_generation,omitempty"`
	UserID        string         `json:"user_id"`
	Password      string         `json:"password"`
	PersonalKey   string         `json:"personal_key"`
	Params        string         `json:"params"`  // kdf text encoding
	Account       string         `json:"account"` // hex
	Records       []goldenRecord `json:"records"`
}

type goldenRecord struct {
	KeyGeneration uint32 `json:"key_generation,omitempty"`
	Label         string `json:"label"`
	Plaintext     string `json:"plaintext"`
	Sealed        string `json:"sealed"` // hex
}

func goldenPath(prof profile) string {
	return filepath.Join("..", "testdata", "vault", "golden-"+prof.name+".json")
}

func goldenV3Path(prof profile) string {
	return filepath.Join("..", "testdata", "vault", "golden-v3-"+prof.name+".json")
}

// TestWriteGolden writes the golden files that do not exist yet (never
// one that does), when PIIVAULT_WRITE_GOLDEN=1.
func TestWriteGolden(t *testing.T) {
	if os.Getenv("PIIVAULT_WRITE_GOLDEN") != "1" {
		t.Skip("set PIIVAULT_WRITE_GOLDEN=1 to write missing golden files")
	}
	for _, prof := range profiles(t) {
		if _, err := os.Stat(goldenPath(prof)); os.IsNotExist(err) {
			writeGolden(t, prof)
		}
		if _, err := os.Stat(goldenV3Path(prof)); os.IsNotExist(err) {
			writeGoldenV3(t, prof)
		}
	}
}

// createNew writes data to a file that must not exist yet.
func createNew(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("golden files are never overwritten: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func writeGoldenV3(t testing.TB, prof profile) {
	ctx := context.Background()
	v, _ := newTestVault(t, prof.weak)
	g := goldenFile{
		Comment:  "piivault vault golden account, version-3 header after one rotation (Recover), records of key generations 0 and 1; synthetic data; see vault/golden_test.go",
		UserID:   "00000000-0000-4000-8000-000000000003",
		Password: string(pw2),
	}
	account, pk, err := v.Enroll(ctx, g.UserID, pw1)
	if err != nil {
		t.Fatal(err)
	}
	u := mustUnlock(t, v, g.UserID, account, pw1)
	idEnc, _ := janeSample.MarshalBinary()
	sealed, err := u.Seal("pii", idEnc)
	u.Close()
	if err != nil {
		t.Fatal(err)
	}
	g.Records = append(g.Records, goldenRecord{Label: "pii", Plaintext: string(idEnc), Sealed: hex.EncodeToString(sealed)})
	account, pk, err = v.Recover(ctx, g.UserID, account, pk, pw2)
	if err != nil {
		t.Fatal(err)
	}
	u = mustUnlock(t, v, g.UserID, account, pw2)
	defer u.Close()
	sealed, err = u.Seal("ssn", []byte(janeSample.SSN))
	if err != nil {
		t.Fatal(err)
	}
	g.Records = append(g.Records, goldenRecord{KeyGeneration: 1, Label: "ssn", Plaintext: janeSample.SSN, Sealed: hex.EncodeToString(sealed)})
	g.PersonalKey, g.Account = pk.String(), hex.EncodeToString(account)
	g.Generation, g.KeyGeneration = u.Generation(), u.KeyGeneration()
	pt, _ := prof.weak.New.MarshalText()
	g.Params = string(pt)
	out, _ := json.MarshalIndent(&g, "", "  ")
	createNew(t, goldenV3Path(prof), append(out, '\n'))
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
	g.PersonalKey, g.Account = pk.Reveal(), hex.EncodeToString(account)
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
	createNew(t, goldenPath(prof), append(out, '\n'))
}

func readGolden(t testing.TB, prof profile) (g goldenFile, account []byte, pk PersonalKey) {
	t.Helper()
	return readGoldenFile(t, goldenPath(prof))
}

func readGoldenFile(t testing.TB, path string) (g goldenFile, account []byte, pk PersonalKey) {
	t.Helper()
	data, err := os.ReadFile(path)
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

// TestGoldenV3AccountsStillOpen opens the version-3 golden accounts (after
// a rotation) with the password and the personal key, checks their
// generations, and opens their records of both key generations.
func TestGoldenV3AccountsStillOpen(t *testing.T) {
	ctx := context.Background()
	for _, prof := range profiles(t) {
		t.Run(prof.name, func(t *testing.T) {
			g, account, pk := readGoldenFile(t, goldenV3Path(prof))
			h, err := envelope.ParseHeader(account)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := h.MarshalBinary(); string(again) != string(account) || h.Version() != envelope.Version3 {
				t.Fatal("golden version-3 account does not re-encode to the same bytes")
			}
			v, _ := newTestVault(t, prof.weak)
			byPw, up, err := v.UnlockWithOptions(ctx, g.UserID, account, []byte(g.Password), UnlockOptions{MinGeneration: g.Generation})
			if err != nil || up != nil {
				t.Fatalf("password: %v (upgraded %v)", err, up != nil)
			}
			defer byPw.Close()
			if byPw.Generation() != g.Generation || byPw.KeyGeneration() != g.KeyGeneration || g.KeyGeneration != 1 {
				t.Fatalf("generation %d key generation %d, file says %d %d", byPw.Generation(), byPw.KeyGeneration(), g.Generation, g.KeyGeneration)
			}
			if _, _, err := v.UnlockWithOptions(ctx, g.UserID, account, []byte(g.Password), UnlockOptions{MinGeneration: g.Generation + 1}); !errors.Is(err, ErrRolledBack) {
				t.Fatalf("MinGeneration above the file's: %v", err)
			}
			byPK, err := unlockWithPK(t, g.UserID, account, pk)
			if err != nil {
				t.Fatalf("personal key: %v", err)
			}
			defer byPK.Close()
			for _, r := range g.Records {
				sealed, _ := hex.DecodeString(r.Sealed)
				if gen, err := envelope.RecordGeneration(sealed); err != nil || gen != r.KeyGeneration {
					t.Fatalf("record %s names generation %d (%v), file says %d", r.Label, gen, err, r.KeyGeneration)
				}
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
