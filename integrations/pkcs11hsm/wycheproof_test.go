package pkcs11hsm

import (
	"crypto/ecdh"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

// importECPrivate puts a P-256 private scalar into the token as a session
// key with CKA_DERIVE (test only: production keys are generated in the
// token and never exported).
func importECPrivate(t *testing.T, tok *Token, scalar []byte) *ECKey {
	t.Helper()
	priv, err := ecdh.P256().NewPrivateKey(scalar)
	require.NoError(t, err)
	params, err := asn1.Marshal(p256OID)
	require.NoError(t, err)
	tok.mu.Lock()
	defer tok.mu.Unlock()
	obj, err := tok.ctx.CreateObject(tok.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		tok.mu.Lock()
		defer tok.mu.Unlock()
		tok.ctx.DestroyObject(tok.sh, obj)
	})
	return &ECKey{t: tok, priv: obj, pub: priv.PublicKey()}
}

type wycheproofECDH struct {
	TestGroups []struct {
		Curve string `json:"curve"`
		Tests []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Public  string   `json:"public"`
			Private string   `json:"private"`
			Shared  string   `json:"shared"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofECDHThroughToken runs Wycheproof's ECDH P-256 vectors
// (uncompressed points) through ECKey.ECDH: every valid vector's shared
// secret, computed in the token, equals the expected one; every invalid
// public key is refused before it reaches the token (crypto/ecdh parses
// and checks it); "acceptable" ones (compressed points) either are refused
// or give the expected secret.
func TestWycheproofECDHThroughToken(t *testing.T) {
	tok := openToken(t)
	raw, err := os.ReadFile("testdata/wycheproof/ecdh_secp256r1_ecpoint_test.json")
	require.NoError(t, err)
	var f wycheproofECDH
	require.NoError(t, json.Unmarshal(raw, &f))
	valid, invalid := 0, 0
	for _, g := range f.TestGroups {
		require.Equal(t, "secp256r1", g.Curve)
		for _, tc := range g.Tests {
			pubBytes, _ := hex.DecodeString(tc.Public)
			pub, perr := ecdh.P256().NewPublicKey(pubBytes)
			if tc.Result == "invalid" {
				if perr == nil {
					// A parsable point can still be invalid for reasons
					// crypto/ecdh checks in ECDH; the token must refuse too.
					k := importECPrivate(t, tok, scalar32(t, tc.Private))
					_, err := k.ECDH(pub)
					require.Error(t, err, "tcId %d (%s)", tc.TcID, tc.Comment)
				}
				invalid++
				continue
			}
			if tc.Result == "acceptable" && perr != nil {
				continue // e.g. compressed points, which crypto/ecdh does not take
			}
			require.NoError(t, perr, "tcId %d (%s)", tc.TcID, tc.Comment)
			k := importECPrivate(t, tok, scalar32(t, tc.Private))
			got, err := k.ECDH(pub)
			require.NoError(t, err, "tcId %d (%s)", tc.TcID, tc.Comment)
			require.Equal(t, tc.Shared, hex.EncodeToString(got), "tcId %d (%s)", tc.TcID, tc.Comment)
			valid++
		}
	}
	require.Greater(t, valid, 100)
	require.Greater(t, invalid, 10)
	t.Logf("%d valid vectors matched in the token, %d invalid refused", valid, invalid)
}

// scalar32 returns the private scalar as 32 bytes (Wycheproof adds a
// leading zero byte to some).
func scalar32(t *testing.T, h string) []byte {
	b, err := hex.DecodeString(h)
	require.NoError(t, err)
	for len(b) > 32 && b[0] == 0 {
		b = b[1:]
	}
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return out
}

type wycheproofKWP struct {
	TestGroups []struct {
		KeySize int `json:"keySize"`
		Tests   []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			Key     string `json:"key"`
			Msg     string `json:"msg"`
			CT      string `json:"ct"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofKWPThroughToken runs Wycheproof's AES key wrap with padding
// (RFC 5649) vectors through the token's C_UnwrapKey with
// CKM_AES_KEY_WRAP_PAD, the mechanism KWPAEAD relies on: valid ciphertexts
// unwrap to the expected bytes, invalid ones are refused.
func TestWycheproofKWPThroughToken(t *testing.T) {
	tok := openToken(t)
	raw, err := os.ReadFile("testdata/wycheproof/aes_kwp_test.json")
	require.NoError(t, err)
	var f wycheproofKWP
	require.NoError(t, json.Unmarshal(raw, &f))
	valid, invalid := 0, 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			key, _ := hex.DecodeString(tc.Key)
			ct, _ := hex.DecodeString(tc.CT)
			msg, _ := hex.DecodeString(tc.Msg)
			got, err := unwrapWithImportedKey(t, tok, key, ct)
			switch tc.Result {
			case "valid":
				require.NoError(t, err, "tcId %d (%s)", tc.TcID, tc.Comment)
				require.Equal(t, msg, got, "tcId %d (%s)", tc.TcID, tc.Comment)
				valid++
			default:
				require.Error(t, err, "tcId %d (%s) must be refused", tc.TcID, tc.Comment)
				invalid++
			}
		}
	}
	t.Logf("%d valid vectors unwrapped in the token, %d invalid refused", valid, invalid)
}

func unwrapWithImportedKey(t *testing.T, tok *Token, key, ct []byte) ([]byte, error) {
	tok.mu.Lock()
	defer tok.mu.Unlock()
	kek, err := tok.ctx.CreateObject(tok.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, key),
	})
	require.NoError(t, err)
	defer tok.ctx.DestroyObject(tok.sh, kek)
	obj, err := tok.ctx.UnwrapKey(tok.sh, kwpMech(), kek, ct, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	})
	if err != nil {
		return nil, err
	}
	defer tok.ctx.DestroyObject(tok.sh, obj)
	attrs, err := tok.ctx.GetAttributeValue(tok.sh, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, err
	}
	return attrs[0].Value, nil
}
