package logingov

import (
	"bytes"
	"context"
	"crypto/fips140"
	"encoding/base64"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/internal/fipstest"

	"github.com/piivault/piivault/kdf"
	"github.com/piivault/piivault/legacy/logingov/logingovtest"
)

var zeroSalt = strings.Repeat("0", 64)

// kmscValue wraps an AES layer a of our own making in KMSc for uuid.
func (f *fixture) kmscValue(a []byte, uuid, cost string) []byte {
	f.t.Helper()
	blob, err := f.kms.Encrypt(context.Background(), a, logingovtest.PIIContext(uuid))
	require.NoError(f.t, err)
	arr, _ := json.Marshal([]string{base64.StdEncoding.EncodeToString(blob)})
	w := append([]byte("KMSc"), arr...)
	return []byte(`{"encrypted_data":"` + base64.StdEncoding.EncodeToString(w) + `","salt":"` + zeroSalt + `","cost":"` + cost + `"}`)
}

// TestHostileCostsAreRefusedBeforeAnyAllocation: cost strings asking for
// N up to 2^62, r·p up to 2^40, 128·r·N over 256 MiB, non-powers of two,
// uppercase, a 0x prefix or a missing '$' are refused by ParseCost, and a
// value carrying one is refused before KMS or scrypt, allocating well
// under a megabyte in all.
func TestHostileCostsAreRefusedBeforeAnyAllocation(t *testing.T) {
	hostile := []string{
		"4000000000000000$8$1$", // N = 2^62
		"8000000000000000$1$1$", // N = 2^63
		"200000$8$1$",           // N = 2^21 over the cap
		"100000$4$1$",           // 128·r·N = 512 MiB
		"10000$8$9$",            // r·p = 72
		"800$100000$100000$",    // r·p = 2^40
		"10000$ffffffffffffffff$ffffffffffffffff$",
		"ffffffffffffffffff$8$1$", // overflows 64 bits
		"3000$8$1$", "1$8$1$", "0$8$1$", "10000$0$1$", "10000$8$0$",
		"10000$8$1", "10000$8$1$$", "10000$8$$", "$8$1$", "10000$8$1$1$",
		"0x10000$8$1$", "10000$8$1$ ", "1E000$8$1$", "g000$8$1$", "", strings.Repeat("1", 100) + "$8$1$",
	}
	f := newFixture(t)
	for _, c := range hostile {
		_, err := ParseCost(c)
		requireKind(t, err, ErrParams)
		v := []byte(`{"encrypted_data":"S01UY1siQUFBQSJd","salt":"` + zeroSalt + `","cost":` + jsonQuote(c) + `}`)
		runs, calls := f.r.scryptRuns.Load(), f.kms.Decrypts()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = f.r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
		runtime.ReadMemStats(&after)
		requireKind(t, err, ErrParams)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "cost %q", c)
		require.Equal(t, runs, f.r.scryptRuns.Load())
		require.Equal(t, calls, f.kms.Decrypts())
	}
	for _, c := range []string{"800$8$1$", "10000$8$1$", "4000$8$4$", "2$1$1$", "100000$1$1$", "10000$1$40$", "0010000$08$01$"} {
		p, err := ParseCost(c)
		require.NoError(t, err, c)
		require.LessOrEqual(t, 128*p.R*p.N, uint64(MaxScryptMemory))
	}
	p, _ := ParseCost("10000$8$1$")
	require.Equal(t, Cost{N: 65536, R: 8, P: 1}, p)
	require.Equal(t, "10000$8$1$", p.String())
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestAMemoryBudgetSmallerThanOneRunRefusesWithoutRunning: a Reader whose
// budget cannot hold one scrypt run refuses with kdf.ErrOverBudget.
func TestAMemoryBudgetSmallerThanOneRunRefusesWithoutRunning(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	r, err := NewReader(Config{KMS: f.kms, MemoryBudget: 1 << 20})
	require.NoError(t, err)
	v := f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Cost: "800$8$1$"}) // 2 MiB
	_, err = r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	require.ErrorIs(t, err, kdf.ErrOverBudget)
}

// TestOversizedInputsAreRefusedBeforeDecoding.
func TestOversizedInputsAreRefusedBeforeDecoding(t *testing.T) {
	f := newFixture(t)
	_, err := f.r.OpenPassword(context.Background(), uuidJane, bytes.Repeat([]byte("{"), MaxStoredSize+1), []byte(testPW))
	requireKind(t, err, ErrTooLarge)
	chunks := make([]string, MaxChunks+1)
	for i := range chunks {
		chunks[i] = "AAAA"
	}
	arr, _ := json.Marshal(chunks)
	v := []byte(`{"encrypted_data":"` + base64.StdEncoding.EncodeToString(append([]byte("KMSc"), arr...)) + `","salt":"` + zeroSalt + `","cost":"800$8$1$"}`)
	_, err = f.r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	requireKind(t, err, ErrTooLarge)
	require.Zero(t, f.kms.Decrypts())
}

// TestIVAndTagMustBeExactly12And16Bytes: Ruby would accept a short tag
// (checking fewer bytes); this reader refuses any IV other than 12 bytes
// and any tag other than 16 before running scrypt.
func TestIVAndTagMustBeExactly12And16Bytes(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	e := base64.StdEncoding.EncodeToString
	for _, c := range []struct{ iv, tag int }{{12, 15}, {12, 12}, {12, 4}, {12, 1}, {12, 0}, {12, 17}, {16, 16}, {11, 16}, {0, 16}} {
		a := `{"iv":"` + e(make([]byte, c.iv)) + `","ciphertext":"` + e([]byte("xx")) + `","tag":"` + e(make([]byte, c.tag)) + `"}`
		runs := f.r.scryptRuns.Load()
		_, err := f.r.OpenPassword(context.Background(), uuidJane, f.kmscValue([]byte(a), uuidJane, tinyCost), []byte(testPW))
		requireKind(t, err, ErrBlob)
		require.Equal(t, runs, f.r.scryptRuns.Load(), "refused before scrypt")
	}
	// The AES layer's other shapes.
	for a, kind := range map[string]error{
		`[]`:                                       ErrJSON,
		`{"iv":"AAAA","tag":"AAAA"}`:               ErrJSON,
		`{"iv":1,"ciphertext":"","tag":""}`:        ErrJSON,
		`{"iv":"A","ciphertext":"","tag":""}`:      ErrBase64,
		`{"iv":"AAAA\n","ciphertext":"","tag":""}`: ErrBase64,
		`{"IV":"AAAAAAAAAAAAAAAA","ciphertext":"","tag":"AAAAAAAAAAAAAAAAAAAAAA=="}`: ErrJSON,
	} {
		_, err := f.r.OpenPassword(context.Background(), uuidJane, f.kmscValue([]byte(a), uuidJane, tinyCost), []byte(testPW))
		requireKind(t, err, kind)
	}
}

// TestEveryByteFlipIsRefused: for a value in each layer, and for the AES
// layer inside a KMSc value, flipping any single bit-0 of any byte gives
// an error and no plaintext.
func TestEveryByteFlipIsRefused(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	pt := []byte(`{"first_name":"Jane","ssn":"900123456"}`)
	for _, layer := range []string{logingovtest.KMSc, logingovtest.LOCc, logingovtest.KMSx, logingovtest.Local} {
		v := f.seal(uuidJane, testPW, pt, logingovtest.Options{Layer: layer})
		got, err := f.r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
		require.NoError(t, err)
		require.Equal(t, pt, got.JSON())
		for i := range v {
			w := bytes.Clone(v)
			w[i] ^= 1
			got, err := f.r.OpenPassword(context.Background(), uuidJane, w, []byte(testPW))
			require.Error(t, err, "%s byte %d", layer, i)
			require.Nil(t, got)
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrKMS) || errors.Is(err, ErrAuth) || errors.Is(err, ErrParams) || errors.Is(err, ErrUnsupported), "%s byte %d: %v", layer, i, err)
		}
	}
	// Inside the KMS layer: the AES envelope, re-wrapped with KMS.
	v := f.seal(uuidJane, testPW, pt, logingovtest.Options{})
	st, err := parseStored(v)
	require.NoError(t, err)
	a, err := f.r.unwrap(context.Background(), st.kms, uuidJane)
	require.NoError(t, err)
	for i := range a {
		b := bytes.Clone(a)
		b[i] ^= 1
		got, err := f.r.OpenPassword(context.Background(), uuidJane, f.kmscValue(b, uuidJane, tinyCost), []byte(testPW))
		require.Error(t, err, "AES layer byte %d", i)
		require.Nil(t, got)
	}
}

// TestKeysAndContextAreEnforced: no KMS or local keys gives ErrNoKey; a
// LOCc chunk whose fingerprint matches none of the configured keys is
// refused (ErrKMS), and opens when no fingerprint keys are configured; a
// cancelled context is reported as such.
func TestKeysAndContextAreEnforced(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	bare, err := NewReader(Config{})
	require.NoError(t, err)
	for _, layer := range []string{logingovtest.KMSc, logingovtest.LOCc, logingovtest.KMSx, logingovtest.Local} {
		_, err := bare.OpenPassword(context.Background(), uuidJane, f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Layer: layer}), []byte(testPW))
		requireKind(t, err, ErrNoKey)
	}
	v := f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Layer: logingovtest.LOCc, FingerprintKey: []byte("old-key-one")})
	_, err = f.r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	requireKind(t, err, ErrKMS)
	noFP, err := NewReader(Config{Local: &LocalKeys{Pepper: testPepper}})
	require.NoError(t, err)
	_, err = noFP.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	require.NoError(t, err)
	queue, err := NewReader(Config{Local: &LocalKeys{Pepper: testPepper, FingerprintKeys: [][]byte{testFPKey, []byte("old-key-one")}}})
	require.NoError(t, err)
	_, err = queue.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	require.NoError(t, err, "a key from hmac_fingerprinter_key_queue matches")
	// Another pepper: the local key refuses.
	other, err := NewReader(Config{Local: &LocalKeys{Pepper: bytes.Repeat([]byte("b"), 32)}})
	require.NoError(t, err)
	_, err = other.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
	requireKind(t, err, ErrKMS)
	_, err = NewReader(Config{Local: &LocalKeys{Pepper: []byte("short")}})
	requireKind(t, err, ErrInvalidInput)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = f.r.OpenPassword(ctx, uuidJane, f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{}), []byte(testPW))
	require.ErrorIs(t, err, context.Canceled)
	_, err = f.r.OpenPassword(context.Background(), "", f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{}), []byte(testPW))
	requireKind(t, err, ErrInvalidInput)
}

// TestWrongUUIDIsRefusedByKMSBeforeScrypt.
func TestWrongUUIDIsRefusedByKMSBeforeScrypt(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	for _, layer := range []string{logingovtest.KMSc, logingovtest.LOCc} {
		v := f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Layer: layer})
		runs := f.r.scryptRuns.Load()
		_, err := f.r.OpenPassword(context.Background(), uuidJohn, v, []byte(testPW))
		requireKind(t, err, ErrKMS)
		require.Equal(t, runs, f.r.scryptRuns.Load())
	}
}

// TestPlaintextMustBeNullOrAJSONObject: after the tag verifies, the literal
// null is ErrNoPII, anything but a UTF-8 JSON object is ErrJSON.
func TestPlaintextMustBeNullOrAJSONObject(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	for pt, kind := range map[string]error{
		"null": ErrNoPII, " null": ErrJSON, "[]": ErrJSON, `"x"`: ErrJSON, "{": ErrJSON, "": ErrJSON,
		"{}x": ErrJSON, "{\"a\":\"\xff\"}": ErrJSON,
	} {
		_, err := f.r.OpenPassword(context.Background(), uuidJane, f.seal(uuidJane, testPW, []byte(pt), logingovtest.Options{}), []byte(testPW))
		requireKind(t, err, kind)
	}
	got, err := f.r.OpenPassword(context.Background(), uuidJane, f.seal(uuidJane, testPW, []byte("{}"), logingovtest.Options{}), []byte(testPW))
	require.NoError(t, err)
	require.Empty(t, got.Names())
}

// TestEmptyOrNullChunksAreRefusedBeforeKMS.
func TestEmptyOrNullChunksAreRefusedBeforeKMS(t *testing.T) {
	f := newFixture(t)
	for _, w := range []string{`KMSc[""]`, `KMSc[null]`, `LOCc[""]`, `KMSc["AAAA",""]`, `KMSc`, `KMSc[`, `KMSc null`, `LOCc{}`} {
		v := []byte(`{"encrypted_data":"` + base64.StdEncoding.EncodeToString([]byte(w)) + `","salt":"` + zeroSalt + `","cost":"800$8$1$"}`)
		_, err := f.r.OpenPassword(context.Background(), uuidJane, v, []byte(testPW))
		require.ErrorIs(t, err, ErrMalformed, w)
	}
	require.Zero(t, f.kms.Decrypts())
}

// TestFIPSOnlyModeRefusesBeforeKMS runs in every mode: under
// GODEBUG=fips140=only a value from the vectors file is refused with
// ErrUnsupported before any KMS call or scrypt run (scrypt is not
// approved); otherwise it opens.
func TestFIPSOnlyModeRefusesBeforeKMS(t *testing.T) {
	var f vectorFile
	readJSON(t, "vectors.json", &f)
	kms := &countingKMS{KMS: logingovtest.NewMemKMS([]byte(f.KMSSeed))}
	r, err := NewReader(Config{KMS: kms})
	require.NoError(t, err)
	v := f.Vectors[0]
	require.Equal(t, "KMSc password copy", v.Name)
	pii, err := r.OpenPassword(context.Background(), v.UUID, []byte(v.Stored), []byte(v.Secret))
	if fips140.Enforced() {
		requireKind(t, err, ErrUnsupported)
		require.Nil(t, pii)
		require.Zero(t, kms.n.Load())
		require.Zero(t, r.scryptRuns.Load())
		_, err = DeriveKey([]byte("password"), zeroSalt, Cost{N: 2048, R: 8, P: 1})
		requireKind(t, err, ErrUnsupported)
		return
	}
	require.NoError(t, err)
	require.Equal(t, v.Plaintext, string(pii.JSON()))
	require.Equal(t, int64(1), kms.n.Load())
}
