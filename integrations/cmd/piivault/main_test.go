package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/kdf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// binary is the piivault command built once for the tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "piivault-cli-test")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "piivault")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runBin runs the built binary with args, stdin and extra environment.
func runBin(t *testing.T, stdin []byte, envv []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), envv...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, so.String(), se.String()}
}

// runBinInterrupted runs the built binary with args, sends it SIGINT once
// its progress reaches 10%, and requires that it then exits with code 1.
// It returns what the run wrote to stdout and stderr.
func runBinInterrupted(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var so bytes.Buffer
	cmd.Stdout = &so
	se, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var errText strings.Builder
	sc := bufio.NewScanner(se)
	signalled := false
	for sc.Scan() {
		errText.WriteString(sc.Text() + "\n")
		if !signalled && strings.Contains(sc.Text(), "(10%)") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			signalled = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "exit: %v; stderr: %s", err, errText.String())
	require.Equal(t, 1, ee.ExitCode())
	return so.String(), errText.String()
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), got, "golden file %s (go test -update rewrites it)", path)
}

// repoTestdata is the root module's testdata.
const repoTestdata = "../../../testdata"

func goldenAccountHex(t *testing.T, file string) string {
	t.Helper()
	var g struct {
		Account string `json:"account"`
		Records []struct {
			Sealed string `json:"sealed"`
		} `json:"records"`
	}
	data, err := os.ReadFile(filepath.Join(repoTestdata, "vault", file))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &g))
	return g.Account
}

func TestUsageExitCodesAndStreams(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		// which stream holds the text: stdout for asked-for help, stderr
		// for usage errors.
		onStdout bool
	}{
		{"no-args", nil, 2, false},
		{"help", []string{"-h"}, 0, true},
		{"help-long", []string{"--help"}, 0, true},
		{"unknown-command", []string{"frobnicate"}, 2, false},
		{"inspect-help", []string{"inspect", "-h"}, 0, true},
		{"inspect-bad-flag", []string{"inspect", "-bogus"}, 2, false},
		{"inspect-bad-policy", []string{"inspect", "-policy", "lax"}, 2, false},
		{"calibrate-help", []string{"calibrate", "--help"}, 0, true},
		{"calibrate-bad-memory", []string{"calibrate", "-memory", "lots"}, 2, false},
		{"bench-help", []string{"bench", "-h"}, 0, true},
		{"bench-bad-params", []string{"bench", "-params", "$argon2id$v=19$m=0,t=1,p=1"}, 2, false},
		{"vectors-help", []string{"vectors", "-h"}, 0, true},
		{"escrow-help", []string{"escrow", "-h"}, 0, true},
		{"escrow-no-subcommand", []string{"escrow"}, 2, false},
		{"escrow-rotate-help", []string{"escrow", "rotate", "-h"}, 0, true},
		{"reseal-help", []string{"reseal", "-h"}, 0, true},
		{"reseal-no-current", []string{"reseal", "-dsn", "postgres://x@127.0.0.1:1/x", "-actor", "a", "-reason", "r", "-kek-pkcs11", "k"}, 2, false},
		{"reseal-records-help", []string{"reseal", "records", "-h"}, 0, true},
		{"reseal-records-no-key", []string{"reseal", "records", "-dsn", "postgres://x@127.0.0.1:1/x", "-actor", "a", "-reason", "r"}, 2, false},
		{"reseal-records-no-reason", []string{"reseal", "records", "-dsn", "postgres://x@127.0.0.1:1/x", "-actor", "a", "-key", "k"}, 2, false},
		{"escrow-purge-help", []string{"escrow", "purge", "-h"}, 0, true},
		{"escrow-rotate-no-dsn", []string{"escrow", "rotate", "-actor", "a", "-reason", "r"}, 2, false},
		{"escrow-rotate-no-actor", []string{"escrow", "rotate", "-dsn", "postgres://x@127.0.0.1:1/x"}, 2, false},
		{"escrow-rotate-bad-shard", []string{"escrow", "purge", "-dsn", "postgres://x@127.0.0.1:1/x", "-actor", "a", "-reason", "r", "-key", "k", "-shard", "3/3"}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, nil, []string{"PIIVAULT_DSN="}, tc.args...)
			require.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			if tc.onStdout {
				require.Empty(t, r.stderr)
				golden(t, "usage-"+tc.name+".txt", r.stdout)
			} else {
				require.Empty(t, r.stdout, "a usage error writes nothing on stdout")
				golden(t, "usage-"+tc.name+".txt", r.stderr)
			}
		})
	}
}

func TestInspectGoldenAccountsTextAndJSON(t *testing.T) {
	for _, f := range []string{"golden-argon2id.json", "golden-v3-argon2id.json", "golden-v3-pbkdf2-fips.json"} {
		acct := goldenAccountHex(t, f)
		name := strings.TrimSuffix(f, ".json")
		r := runBin(t, []byte(acct+"\n"), nil, "inspect")
		require.Equal(t, 0, r.code, r.stderr)
		golden(t, "inspect-"+name+".txt", r.stdout)
		r = runBin(t, []byte(acct), nil, "inspect", "-json", "-policy", "fips")
		require.Equal(t, 0, r.code, r.stderr)
		golden(t, "inspect-"+name+"-fips.json", r.stdout)
		var ins Inspection
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))
		require.Equal(t, "account", ins.Kind)
	}
}

func TestInspectReadsRawHexPostgresHexAndBase64Alike(t *testing.T) {
	raw, err := hex.DecodeString(goldenAccountHex(t, "golden-v3-argon2id.json"))
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "account.bin")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	want := runBin(t, nil, nil, "inspect", "-json", path)
	require.Equal(t, 0, want.code, want.stderr)
	norm := func(s string) string { // the encoding line differs
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &m))
		delete(m, "encoding")
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, in := range []string{
		hex.EncodeToString(raw),
		`\x` + hex.EncodeToString(raw) + "\n",
		b64(raw),
	} {
		r := runBin(t, []byte(in), nil, "inspect", "-json", "-")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, norm(want.stdout), norm(r.stdout))
	}
}

func TestInspectNeverPrintsSaltsWrappedKeysOrSecrets(t *testing.T) {
	// Every stanza body (salt, wrapped key) of the golden account: none of
	// it, in hex or as text, may appear in the output.
	raw, err := hex.DecodeString(goldenAccountHex(t, "golden-v3-argon2id.json"))
	require.NoError(t, err)
	for _, args := range [][]string{{"inspect"}, {"inspect", "-json"}} {
		r := runBin(t, raw, nil, args...)
		require.Equal(t, 0, r.code, r.stderr)
		out := strings.ToLower(r.stdout)
		// Any 8-byte window of the record past its fixed prefix (the
		// first 6 bytes: magic, version, suite) in hex.
		for i := 6; i+8 <= len(raw); i++ {
			require.NotContains(t, out, hex.EncodeToString(raw[i:i+8]), "bytes %d..%d of the record are in the output", i, i+8)
		}
		data, _ := os.ReadFile(filepath.Join(repoTestdata, "vault", "golden-v3-argon2id.json"))
		var g struct{ Password, PersonalKey string }
		_ = json.Unmarshal(data, &g)
		require.NotContains(t, r.stdout, g.Password)
	}
}

func TestInspectRecordsAndRefusals(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name, Record string
		}
	}
	data, err := os.ReadFile(filepath.Join(repoTestdata, "envelope", "record_v3_success.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &f))
	r := runBin(t, []byte(f.Vectors[0].Record), nil, "inspect")
	require.Equal(t, 0, r.code, r.stderr)
	golden(t, "inspect-record-v3.txt", r.stdout)

	for _, bad := range []string{"", "hello", "PVEH", strings.Repeat("00", 100)} {
		r := runBin(t, []byte(bad), nil, "inspect")
		require.Equal(t, 1, r.code, "input %q", bad)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, "piivault inspect:")
	}
	r = runBin(t, nil, nil, "inspect", filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, 1, r.code)
}

func TestVectorsAllOpenAndATamperedOneFails(t *testing.T) {
	r := runBin(t, nil, nil, "vectors", "-dir", repoTestdata)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	last := lines[len(lines)-1]
	require.Regexp(t, `^(\d+) vectors: (\d+) ok, 0 failed$`, last)
	require.NotContains(t, r.stdout, "FAIL")
	require.Greater(t, len(lines), 40)

	// A copy of testdata with one success vector's plaintext altered.
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(repoTestdata)))
	path := filepath.Join(dir, "envelope", "success.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f map[string]any
	require.NoError(t, json.Unmarshal(data, &f))
	v0 := f["vectors"].([]any)[0].(map[string]any)
	pt := []byte(v0["plaintext"].(string))
	pt[0] ^= 1 // still hex: '7' <-> '6'
	v0["plaintext"] = string(pt)
	data, _ = json.Marshal(f)
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	r = runBin(t, nil, nil, "vectors", "-dir", dir)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "FAIL envelope/success.json "+v0["name"].(string)+": wrong plaintext")
	require.Contains(t, r.stdout, "1 failed")
}

func TestCalibratePrintsParsableParamsWithTheMemoryAsked(t *testing.T) {
	r := runBin(t, nil, nil, "calibrate", "-target", "20ms", "-memory", "1MiB", "-threads", "1")
	require.Equal(t, 0, r.code, r.stderr)
	p, err := kdf.ParseParams(strings.TrimSpace(r.stdout))
	require.NoError(t, err, "stdout is exactly the params text")
	require.Equal(t, uint32(1024), p.MemoryKiB)
	require.Equal(t, uint8(1), p.Threads)
	require.Contains(t, r.stderr, "per pass")
}

func TestBenchShortRunsEachMeasurement(t *testing.T) {
	r := runBin(t, nil, nil, "bench", "-params", "$argon2id$v=19$m=64,t=1,p=1")
	require.Equal(t, 0, r.code, r.stderr)
	for _, w := range []string{"kdf derive", "unlock", "seal 1 KiB"} {
		require.Contains(t, r.stdout, w)
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]uint32{"64MiB": 65536, "1GiB": 1 << 20, "19456KiB": 19456, "512": 512} {
		got, err := parseMemory(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1MiB", "4096GiB", "1TB", "MiB"} {
		_, err := parseMemory(in)
		require.Error(t, err, in)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestInspectStreamAndShredLayeredInputs(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name, Stream string
		}
	}
	data, err := os.ReadFile(filepath.Join(repoTestdata, "envelope", "stream_success.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &f))
	v := f.Vectors[len(f.Vectors)-1] // default-chunk-size
	r := runBin(t, []byte(v.Stream), nil, "inspect", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var ins Inspection
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))
	require.Equal(t, "stream", ins.Kind)
	require.Equal(t, 1<<16, ins.ChunkSize)

	// A shred-layered account: the magic, a version byte, an opaque record.
	layered := append([]byte("PVSH\x03"), bytes.Repeat([]byte{0xa5}, 120)...)
	r = runBin(t, layered, nil, "inspect")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "kind:                  shred-layered")
	require.Contains(t, r.stdout, "needs the shred layer")
}
