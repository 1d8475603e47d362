package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/vault"
)

// vectorsPolicy is the policy the envelope vectors were written under
// (their files' kdf_policy): tiny floors, default caps, no work cap.
func vectorsPolicy(newParams kdf.Params) kdf.Policy {
	pol := kdf.Policy{
		New:           newParams,
		FloorArgon2id: kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1},
		FloorScrypt:   kdf.Params{Algorithm: kdf.Scrypt, LogN: 4, BlockSize: 1, Parallelism: 1},
		FloorPBKDF2:   kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1},
		Caps:          kdf.DefaultCaps(),
	}
	pol.Caps.MaxWorkMultiple = 1 << 20
	return pol
}

type envVector struct {
	Name         string   `json:"name"`
	UserID       string   `json:"user_id"`
	Label        string   `json:"label"`
	Passwords    []string `json:"passwords"`
	RecoveryKeys []string `json:"recovery_keys"`
	Header       string   `json:"header"`
	Record       string   `json:"record"`
	FileKey      string   `json:"file_key"`
	Key          string   `json:"key"`
	Generation   flexUint `json:"generation"`
	Plaintext    string   `json:"plaintext"`
	// Streams.
	Stream    string   `json:"stream"`
	ChunkSize flexUint `json:"chunk_size"`
	// Version-3 headers.
	RecoveryKey   string   `json:"recovery_key"`
	KeyGeneration flexUint `json:"key_generation"`
	OlderKeys     []struct {
		Generation flexUint `json:"generation"`
		Key        string   `json:"key"`
	} `json:"older_keys"`
}

// flexUint reads a JSON number or a string of digits (the vector files
// use both).
type flexUint uint64

func (f *flexUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an unsigned number: %s", b)
	}
	*f = flexUint(n)
	return nil
}

type vectorFile struct {
	Expect  string      `json:"expect"`
	Vectors []envVector `json:"vectors"`
}

type goldenAccount struct {
	UserID      string `json:"user_id"`
	Password    string `json:"password"`
	PersonalKey string `json:"personal_key"`
	Params      string `json:"params"`
	Account     string `json:"account"`
	Generation  uint64 `json:"generation"`
	Records     []struct {
		Label     string `json:"label"`
		Plaintext string `json:"plaintext"`
		Sealed    string `json:"sealed"`
	} `json:"records"`
}

// vectorsRun counts vector results.
type vectorsRun struct {
	e          *env
	ok, failed int
}

func (r *vectorsRun) result(file, name string, err error) {
	if err != nil {
		r.failed++
		fmt.Fprintf(r.e.stdout, "FAIL %s %s: %v\n", file, name, err)
		return
	}
	r.ok++
	fmt.Fprintf(r.e.stdout, "ok   %s %s\n", file, name)
}

func runVectors(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "vectors", "[-dir testdata]",
		"Vectors checks that the known-answer files of a piivault source tree still give\n"+
			"their answers with this build: envelope headers and records of version 1,\n"+
			"version-3 headers and records, and streams, each opening to its plaintext (and\n"+
			"each failure vector failing); the vault's golden accounts opening with their\n"+
			"password and personal key, and their records opening. One line per vector on\n"+
			"stdout; exit 1 if any fails.")
	dir := fs.String("dir", "testdata", "the testdata directory of a piivault source tree")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	r := &vectorsRun{e: e}
	d, err := kdf.New(kdf.Config{Policy: vectorsPolicy(kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1})})
	if err != nil {
		return err
	}
	for _, outcome := range []string{"success", "no_match", "header_failure", "payload_failure", "commitment_failure", "params_refused"} {
		file := filepath.Join("envelope", outcome+".json")
		var f vectorFile
		if err := readJSON(*dir, file, &f); err != nil {
			return err
		}
		for _, v := range f.Vectors {
			r.result(file, v.Name, checkEnvelopeVector(ctx, d, outcome, v))
		}
	}
	for _, outcome := range []string{"success", "failure"} {
		file := filepath.Join("envelope", "record_v3_"+outcome+".json")
		var f vectorFile
		if err := readJSON(*dir, file, &f); err != nil {
			return err
		}
		for _, v := range f.Vectors {
			r.result(file, v.Name, checkRecordV3Vector(outcome, v))
		}
	}
	for _, outcome := range []string{"success", "header_failure", "payload_failure", "commitment_failure"} {
		file := filepath.Join("envelope", "stream_"+outcome+".json")
		var f vectorFile
		if err := readJSON(*dir, file, &f); err != nil {
			return err
		}
		for _, v := range f.Vectors {
			r.result(file, v.Name, checkStreamVector(outcome, v))
		}
	}
	{
		file := filepath.Join("envelope", "header_v3.json")
		var f vectorFile
		if err := readJSON(*dir, file, &f); err != nil {
			return err
		}
		for _, v := range f.Vectors {
			r.result(file, v.Name, checkHeaderV3Vector(ctx, v))
		}
	}
	goldens, _ := filepath.Glob(filepath.Join(*dir, "vault", "golden-*.json"))
	if len(goldens) == 0 {
		return fmt.Errorf("no vault golden files in %s", filepath.Join(*dir, "vault"))
	}
	for _, path := range goldens {
		file := filepath.Join("vault", filepath.Base(path))
		var g goldenAccount
		if err := readJSON(*dir, file, &g); err != nil {
			return err
		}
		r.result(file, g.UserID, checkGolden(ctx, g))
	}
	fmt.Fprintf(e.stdout, "%d vectors: %d ok, %d failed\n", r.ok+r.failed, r.ok, r.failed)
	if r.failed > 0 {
		return fmt.Errorf("%d vectors failed", r.failed)
	}
	return nil
}

func readJSON(dir, file string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func checkEnvelopeVector(ctx context.Context, d *kdf.Deriver, outcome string, v envVector) error {
	header, err1 := hex.DecodeString(v.Header)
	record, err2 := hex.DecodeString(v.Record)
	if err1 != nil || err2 != nil {
		return errors.New("bad hex in the vector file")
	}
	var ids []envelope.Identity
	for _, pw := range v.Passwords {
		id, err := envelope.NewPasswordIdentity(d, []byte(pw))
		if err != nil {
			return err
		}
		defer id.Destroy()
		ids = append(ids, id)
	}
	for _, rk := range v.RecoveryKeys {
		k, err := hex.DecodeString(rk)
		if err != nil {
			return errors.New("bad hex in the vector file")
		}
		id, err := envelope.NewRecoveryIdentity(k)
		if err != nil {
			return err
		}
		defer id.Destroy()
		ids = append(ids, id)
	}
	b := envelope.Binding{UserID: v.UserID, Label: v.Label}
	pt, err := envelope.Open(ctx, b, append(header, record...), ids...)
	return wantOutcome(outcome, v.Plaintext, pt, err, false)
}

func checkRecordV3Vector(outcome string, v envVector) error {
	key, err1 := hex.DecodeString(v.Key)
	record, err2 := hex.DecodeString(v.Record)
	if err1 != nil || err2 != nil {
		return errors.New("bad hex in the vector file")
	}
	rk, err := envelope.NewRecordKeyForGeneration(key, uint32(v.Generation), nil)
	if err != nil {
		return err
	}
	defer rk.Destroy()
	pt, err := rk.Open(nil, envelope.Binding{UserID: v.UserID, Label: v.Label}, record)
	return wantOutcome(outcome, v.Plaintext, pt, err, false)
}

func checkStreamVector(outcome string, v envVector) error {
	key, err1 := hex.DecodeString(v.Key)
	stream, err2 := hex.DecodeString(v.Stream)
	if err1 != nil || err2 != nil {
		return errors.New("bad hex in the vector file")
	}
	rk, err := envelope.NewRecordKeyForGeneration(key, uint32(v.Generation), nil)
	if err != nil {
		return err
	}
	defer rk.Destroy()
	pt, err := func() ([]byte, error) {
		sr, err := rk.NewStreamReader(bytes.NewReader(stream), envelope.Binding{UserID: v.UserID, Label: v.Label})
		if err != nil {
			return nil, err
		}
		return io.ReadAll(sr)
	}()
	// A stream reader has released the verified chunks before the one
	// that failed: a failure vector may leave a prefix in pt.
	return wantOutcome(outcome, v.Plaintext, pt, err, true)
}

// wantOutcome checks an open's result against the vector's outcome: a
// success vector opens to plaintextHex; any other fails, returning no
// plaintext unless prefixOK (a stream's verified prefix).
func wantOutcome(outcome, plaintextHex string, pt []byte, err error, prefixOK bool) error {
	if outcome != "success" {
		if err == nil || (pt != nil && !prefixOK) {
			return fmt.Errorf("a %s vector opened", outcome)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if want, _ := hex.DecodeString(plaintextHex); !bytes.Equal(pt, want) {
		return errors.New("wrong plaintext")
	}
	return nil
}

// checkHeaderV3Vector parses a version-3 header and unwraps it with its
// recovery key: success vectors give file_key, their generations and
// older keys; the others fail (their name says how).
func checkHeaderV3Vector(ctx context.Context, v envVector) error {
	header, err1 := hex.DecodeString(v.Header)
	rkey, err2 := hex.DecodeString(v.RecoveryKey)
	if err1 != nil || err2 != nil {
		return errors.New("bad hex in the vector file")
	}
	b := envelope.Binding{UserID: v.UserID, Label: v.Label}
	check := func() error {
		h, err := envelope.ParseHeader(header)
		if err != nil {
			return err
		}
		id, err := envelope.NewRecoveryIdentity(rkey)
		if err != nil {
			return err
		}
		defer id.Destroy()
		key, err := envelope.UnwrapKey(ctx, h, b, id)
		if err != nil {
			return err
		}
		defer clear(key)
		if hex.EncodeToString(key) != v.FileKey {
			return errors.New("wrong file key")
		}
		if h.Generation() != uint64(v.Generation) || h.KeyGeneration() != uint32(v.KeyGeneration) {
			return fmt.Errorf("generation %d/%d, want %d/%d", h.Generation(), h.KeyGeneration(), v.Generation, v.KeyGeneration)
		}
		older, err := h.OlderKeys(key, b)
		if err != nil {
			return err
		}
		defer func() {
			for _, o := range older {
				clear(o.Key)
			}
		}()
		if len(older) != len(v.OlderKeys) {
			return fmt.Errorf("%d older keys, want %d", len(older), len(v.OlderKeys))
		}
		for i, o := range older {
			if o.Generation != uint32(v.OlderKeys[i].Generation) || hex.EncodeToString(o.Key) != v.OlderKeys[i].Key {
				return fmt.Errorf("older key %d differs", i)
			}
		}
		return nil
	}
	err := check()
	if strings.HasPrefix(v.Name, "success/") {
		return err
	}
	if err == nil {
		return errors.New("a failure vector opened")
	}
	return nil
}

func checkGolden(ctx context.Context, g goldenAccount) error {
	p, err := kdf.ParseParams(g.Params)
	if err != nil {
		return err
	}
	account, err := hex.DecodeString(g.Account)
	if err != nil {
		return errors.New("bad hex in the golden file")
	}
	v, err := vault.New(vault.Config{Policy: vectorsPolicy(p)})
	if err != nil {
		return err
	}
	u, _, err := v.Unlock(ctx, g.UserID, account, []byte(g.Password))
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	defer u.Close()
	pk, err := vault.ParsePersonalKey(g.PersonalKey)
	if err != nil {
		return err
	}
	defer pk.Destroy()
	_, npk, err := v.Recover(ctx, g.UserID, account, pk, []byte("a new password for the check"))
	if err != nil {
		return fmt.Errorf("personal key: %w", err)
	}
	npk.Destroy()
	for _, r := range g.Records {
		sealed, err := hex.DecodeString(r.Sealed)
		if err != nil {
			return errors.New("bad hex in the golden file")
		}
		pt, err := u.Open(r.Label, sealed)
		if err != nil {
			return fmt.Errorf("record %q: %w", r.Label, err)
		}
		if !bytes.Equal(pt, []byte(r.Plaintext)) {
			return fmt.Errorf("record %q: wrong plaintext", r.Label)
		}
	}
	return nil
}
