package disclosure

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Pairwise derives pairwise subject identifiers in the manner of OpenID
// Connect Core 1.0, section 8.1: each partner gets its own identifier for a
// user, stable for that partner, so that two partners cannot link a user by
// comparing subjects, and none can compute another's identifier without
// the provider's secret. The identifier is
//
//	base64url-nopad(HMAC-SHA256(secret, "piivault/disclosure/pairwise-subject/v1" 0x00
//	                 || u8 len(partner id) || partner id || u16 len(user id) || user id))
//
// (43 characters; FORMAT.md, section 7). Changing the secret changes every
// identifier: keep it like a signing key.
type Pairwise struct {
	key []byte
}

// MinPairwiseSecret is the shortest secret NewPairwise accepts.
const MinPairwiseSecret = 32

const pairwiseDomain = "piivault/disclosure/pairwise-subject/v1\x00"

// NewPairwise returns a deriver under secret (32 to 64 random bytes, kept
// by the provider; it is copied).
func NewPairwise(secret []byte) (*Pairwise, error) {
	if len(secret) < MinPairwiseSecret || len(secret) > 64 {
		return nil, fmt.Errorf("%w: pairwise secret must be 32 to 64 bytes", ErrInvalidKey)
	}
	return &Pairwise{key: append([]byte(nil), secret...)}, nil
}

// Subject returns the pairwise identifier of userID (1..65535 bytes) for
// partnerID (1..255 bytes).
func (p *Pairwise) Subject(partnerID, userID string) (string, error) {
	if len(partnerID) == 0 || len(partnerID) > MaxPartnerIDLength || len(userID) == 0 || len(userID) > 0xffff {
		return "", fmt.Errorf("%w: pairwise subject needs a partner id of 1 to 255 bytes and a user id", ErrInvalidConsent)
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(pairwiseDomain))
	m.Write([]byte{byte(len(partnerID))})
	m.Write([]byte(partnerID))
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(userID))))
	m.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}
