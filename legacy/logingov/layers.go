package logingov

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// Size limits, checked before the bytes they bound are decoded. Real
// values are 2 to 6 KiB; the limits leave a wide margin and keep every
// allocation proportional to an input of at most MaxStoredSize bytes.
const (
	// MaxStoredSize is the largest stored value read.
	MaxStoredSize = 1 << 20
	// MaxChunks is the largest number of KMS chunks read (a KMS chunk
	// holds up to 4096 bytes, so 64 chunks hold 256 KiB).
	MaxChunks = 64
)

// Layer names the KMS layer of a stored value (section 5 of the format
// document).
type Layer string

// The KMS layers this package opens.
const (
	// LayerKMSc: AWS KMS with the encryption context {"context":
	// "pii-encryption", "user_uuid": uuid}, chunked; production since 2019.
	LayerKMSc Layer = "KMSc"
	// LayerLOCc: local mode (KMS off): a key HMAC-derived from the pepper
	// and the context; development and test databases since 2019.
	LayerLOCc Layer = "LOCc"
	// LayerKMSx: AWS KMS without encryption context; production before
	// 2019, only in the legacy single-region columns now.
	LayerKMSx Layer = "KMSx"
	// LayerLocal: no prefix: contextless local mode, key = the pepper;
	// development data before 2019.
	LayerLocal Layer = "local"
)

// PII encryption context (section 5.2).
const (
	contextKey   = "context"
	contextValue = "pii-encryption"
	uuidKey      = "user_uuid"
)

// piiAAD is the associated data of every AES-GCM layer.
var piiAAD = []byte("PII")

// KMS decrypts one AWS KMS CiphertextBlob under an encryption context
// (nil or empty for the legacy contextless values). An implementation
// must return an error, never partial plaintext, when KMS refuses; the
// AWS one is in github.com/piivault/piivault/integrations/awskms.
type KMS interface {
	Decrypt(ctx context.Context, blob []byte, encryptionContext map[string]string) ([]byte, error)
}

// LocalKeys are the keys of a Login.gov deployment running with KMS off
// (use_kms: false): development and test databases only.
type LocalKeys struct {
	// Pepper is password_pepper's bytes (at least 32).
	Pepper []byte
	// FingerprintKeys are hmac_fingerprinter_key and the keys of
	// hmac_fingerprinter_key_queue. When set, each local chunk's
	// fingerprint must match one of them (as Login.gov checks); when
	// empty the check is skipped: the GCM tag under the local key already
	// authenticates the chunk.
	FingerprintKeys [][]byte
}

// decodeB64 strictly decodes standard padded base64, refusing CR and LF
// (which Go's decoder skips even in strict mode and Ruby's strict decoder
// refuses) and non-zero padding bits.
func decodeB64(s []byte, what string) ([]byte, error) {
	if bytes.ContainsAny(s, "\r\n") {
		return nil, errf(ErrBase64, "%s contains a line break", what)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Strict().Decode(out, s)
	if err != nil {
		return nil, errf(ErrBase64, "%s is not strict base64", what)
	}
	return out[:n], nil
}

// jsonString reads m[key] as a JSON string.
func jsonString(m map[string]json.RawMessage, key, what string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", errf(ErrJSON, "%s has no %q", what, key)
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", errf(ErrJSON, "%s field %q is not a string", what, key)
	}
	return s, nil
}

// jsonObject parses b as one JSON object, keeping values raw.
func jsonObject(b []byte, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &m) != nil {
		return nil, errf(ErrJSON, "%s is not a JSON object", what)
	}
	return m, nil
}

// gcmEnvelope is the AES layer (section 6): {"iv","ciphertext","tag"}.
type gcmEnvelope struct {
	sealed []byte // iv (12) || ciphertext || tag (16)
}

// parseEnvelope parses an AES layer: a JSON object whose "iv",
// "ciphertext" and "tag" are strict base64, the IV exactly 12 bytes and
// the tag exactly 16. Other keys are ignored, as Login.gov does.
func parseEnvelope(a []byte, what string) (*gcmEnvelope, error) {
	m, err := jsonObject(a, what)
	if err != nil {
		return nil, err
	}
	var f [3][]byte
	for i, k := range []string{"iv", "ciphertext", "tag"} {
		s, err := jsonString(m, k, what)
		if err != nil {
			return nil, err
		}
		if f[i], err = decodeB64([]byte(s), what+" "+k); err != nil {
			return nil, err
		}
	}
	if len(f[0]) != 12 {
		return nil, errf(ErrBlob, "%s iv is %d bytes, want 12", what, len(f[0]))
	}
	if len(f[2]) != 16 {
		return nil, errf(ErrBlob, "%s tag is %d bytes, want 16", what, len(f[2]))
	}
	sealed := make([]byte, 0, len(f[0])+len(f[1])+len(f[2]))
	sealed = append(append(append(sealed, f[0]...), f[1]...), f[2]...)
	return &gcmEnvelope{sealed: sealed}, nil
}

// open decrypts with AES-256-GCM under key (32 bytes), AAD "PII". On a
// bad tag it returns ErrAuth and no plaintext. It opens through
// cipher.NewGCMWithRandomNonce (nonce || ciphertext || tag), which is
// ordinary GCM decryption and, unlike cipher.NewGCM, is available under
// GODEBUG=fips140=only.
func (e *gcmEnvelope) open(key []byte) ([]byte, error) {
	if len(key) != 32 {
		panic("logingov: AES key is not 32 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("logingov: " + err.Error())
	}
	g, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return nil, fmt.Errorf("logingov: AES-GCM unavailable: %w", err)
	}
	pt, err := g.Open(nil, nil, e.sealed, piiAAD)
	if err != nil {
		return nil, errf(ErrAuth, "AES-256-GCM tag does not verify")
	}
	return pt, nil
}

// kmsLayer is a parsed KMS layer W: its kind and its chunks, not yet
// unwrapped.
type kmsLayer struct {
	layer  Layer
	chunks [][]byte // KMS blobs (KMSc, KMSx) or AesEncryptor outputs E (local)
}

// parseKMSLayer splits W by its prefix (section 5.1) and decodes its chunk
// list, without calling KMS.
func parseKMSLayer(w []byte) (*kmsLayer, error) {
	switch {
	case bytes.HasPrefix(w, []byte("KMSc")), bytes.HasPrefix(w, []byte("LOCc")):
		l := &kmsLayer{layer: LayerKMSc}
		if w[0] == 'L' {
			l.layer = LayerLOCc
		}
		var arr []string
		if err := json.Unmarshal(w[4:], &arr); err != nil || len(w) < 5 || w[4] != '[' {
			return nil, errf(ErrJSON, "%s chunk list is not a JSON array of strings", w[:4])
		}
		if len(arr) == 0 {
			return nil, errf(ErrBlob, "%s chunk list is empty", w[:4])
		}
		if len(arr) > MaxChunks {
			return nil, errf(ErrTooLarge, "%d chunks, limit %d", len(arr), MaxChunks)
		}
		for i, s := range arr {
			c, err := decodeB64([]byte(s), fmt.Sprintf("%s chunk %d", w[:4], i))
			if err != nil {
				return nil, err
			}
			if len(c) == 0 {
				return nil, errf(ErrBlob, "%s chunk %d is empty", w[:4], i)
			}
			if l.layer == LayerLOCc {
				// Each element is base64 of E, itself base64 text.
				if c, err = decodeB64(c, fmt.Sprintf("LOCc chunk %d inner", i)); err != nil {
					return nil, err
				}
			}
			l.chunks = append(l.chunks, c)
		}
		return l, nil
	case bytes.HasPrefix(w, []byte("KMSx")):
		r := w[4:]
		if len(r) == 0 {
			return nil, errf(ErrBlob, "KMSx value is empty")
		}
		// Login.gov's rule: "[...]" is tried as a JSON array of base64
		// blobs; if that fails, all of R is one raw blob.
		if r[0] == '[' && r[len(r)-1] == ']' {
			var arr []string
			if json.Unmarshal(r, &arr) == nil && len(arr) > 0 && len(arr) <= MaxChunks {
				var chunks [][]byte
				for i, s := range arr {
					c, err := decodeB64([]byte(s), fmt.Sprintf("KMSx chunk %d", i))
					if err != nil {
						chunks = nil
						break
					}
					chunks = append(chunks, c)
				}
				if chunks != nil {
					return &kmsLayer{layer: LayerKMSx, chunks: chunks}, nil
				}
			}
		}
		return &kmsLayer{layer: LayerKMSx, chunks: [][]byte{r}}, nil
	case bytes.HasPrefix(w, []byte(`{"regions"`)):
		return nil, errf(ErrUnsupported, `multi-region {"regions":...} KMS blob (never enabled, 2020-2023)`)
	default:
		// Contextless local: W is E, base64 of an AES envelope.
		c, err := decodeB64(w, "unprefixed local value")
		if err != nil {
			return nil, errf(ErrBlob, "KMS layer has no known prefix (KMSc, LOCc, KMSx) and is not a local value: %w", err)
		}
		return &kmsLayer{layer: LayerLocal, chunks: [][]byte{c}}, nil
	}
}

// encryptionContext returns the PII encryption context for uuid.
func encryptionContext(uuid string) map[string]string {
	return map[string]string{contextKey: contextValue, uuidKey: uuid}
}

// localContextKey returns LOCc's key: HMAC-SHA256(pepper, the context's
// four strings sorted by byte value and concatenated).
func localContextKey(pepper []byte, uuid string) []byte {
	parts := []string{contextKey, contextValue, uuidKey, uuid}
	sort.Strings(parts)
	m := hmac.New(sha256.New, pepper)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// openLocalChunk opens one AesEncryptor output (already base64-decoded to
// the envelope JSON) with key and returns the chunk, checking its
// fingerprint against fps when fps is not empty. A bad tag or fingerprint
// is ErrKMS: the local key stands in for KMS.
func openLocalChunk(env, key []byte, fps [][]byte, what string) ([]byte, error) {
	e, err := parseEnvelope(env, what+" envelope")
	if err != nil {
		return nil, err
	}
	payload, err := e.open(key)
	if err != nil {
		return nil, errf(ErrKMS, "%s: local key does not open it", what)
	}
	defer clear(payload)
	dot := bytes.IndexByte(payload, '.')
	if dot < 0 {
		return nil, errf(ErrBlob, "%s payload has no fingerprint", what)
	}
	chunk, err := decodeB64(payload[:dot], what+" payload")
	if err != nil {
		return nil, err
	}
	fp, err := decodeB64(payload[dot+1:], what+" fingerprint")
	if err != nil {
		clear(chunk)
		return nil, err
	}
	if len(fps) > 0 {
		ok := 0
		for _, k := range fps {
			m := hmac.New(sha256.New, k)
			m.Write(chunk)
			want := []byte(hex.EncodeToString(m.Sum(nil)))
			ok |= subtle.ConstantTimeCompare(want, fp)
		}
		if ok != 1 {
			clear(chunk)
			return nil, errf(ErrKMS, "%s fingerprint matches no fingerprint key", what)
		}
	}
	return chunk, nil
}
