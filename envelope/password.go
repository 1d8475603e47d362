package envelope

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/piivault/piivault/kdf"
)

// passwordSaltSize is the KDF salt length of a password stanza.
const passwordSaltSize = kdf.SaltSize

// PasswordRecipient wraps with a key derived from a password: one KDF run
// per Wrap, with a fresh salt, under the Deriver's policy and memory budget.
// It keeps a copy of the password until Destroy.
//
// The stanza is "password", with an empty key id and the body
//
//	u8 len(params) || params (kdf binary encoding) || salt (16) || commitment (32) || nonce (12) || AES-256-GCM(key) (48)
type PasswordRecipient struct {
	d        *kdf.Deriver
	password []byte
	params   kdf.Params
	rand     io.Reader
}

// NewPasswordRecipient returns a recipient that derives its key-encryption
// key from password with params p (usually d.Policy().New). p is checked
// against d's policy now (kdf.ErrParamsTooCostly, ...); r supplies salts
// (crypto/rand when nil). The password is copied.
func NewPasswordRecipient(d *kdf.Deriver, password []byte, p kdf.Params, r io.Reader) (*PasswordRecipient, error) {
	if d == nil {
		return nil, fmt.Errorf("envelope: nil kdf.Deriver: %w", ErrInvalidRecipient)
	}
	if err := d.Policy().Check(p); err != nil {
		return nil, fmt.Errorf("envelope: password recipient: %w", err)
	}
	if err := checkPassword(password); err != nil {
		return nil, fmt.Errorf("envelope: password recipient: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	return &PasswordRecipient{d: d, password: append([]byte(nil), password...), params: p, rand: r}, nil
}

// checkPassword refuses a password the KDF would refuse (empty, too long,
// not UTF-8); the normalized copy it makes is cleared.
func checkPassword(password []byte) error {
	norm, err := normalizePassword(password)
	clear(norm)
	return err
}

// normalizePassword is kdf.NormalizePassword (a variable so that a test can
// see that the copy is cleared).
var normalizePassword = kdf.NormalizePassword

// Destroy clears the recipient's copy of the password.
func (pr *PasswordRecipient) Destroy() { clear(pr.password) }

// Wrap derives a key-encryption key (one KDF run, fresh salt) and returns
// one password stanza wrapping key, bound to b.
func (pr *PasswordRecipient) Wrap(ctx context.Context, key []byte, b Binding) ([]*Stanza, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	pb, err := pr.params.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("envelope: password recipient: %w", err)
	}
	fields := make([]byte, 1+len(pb)+passwordSaltSize)
	fields[0] = byte(len(pb))
	copy(fields[1:], pb)
	salt := fields[1+len(pb):]
	if _, err := io.ReadFull(pr.rand, salt); err != nil {
		return nil, fmt.Errorf("envelope: reading salt: %w", err)
	}
	var st *Stanza
	secretDo(func() {
		var sec *kdf.Secret
		if sec, err = pr.d.Derive(ctx, pr.password, salt, pr.params); err != nil {
			err = fmt.Errorf("envelope: password recipient: %w", err)
			return
		}
		kek := sec.KEK()
		sec.Destroy()
		st, err = wrapStanza(TypePassword, fields, kek, key, b, pr.rand)
		clear(kek)
	})
	if err != nil {
		return nil, err
	}
	return []*Stanza{st}, nil
}

// passwordStanza is a parsed password stanza body.
type passwordStanza struct {
	params  kdf.Params
	fields  []byte // params length, params, salt: part of the AD
	salt    []byte
	wrapped []byte
}

func parsePasswordStanza(s *Stanza) (*passwordStanza, error) {
	if s == nil || s.Type != TypePassword {
		return nil, fmt.Errorf("envelope: not a password stanza: %w", ErrMalformed)
	}
	if len(s.KeyID) != 0 {
		return nil, fmt.Errorf("envelope: password stanza with a key id: %w", ErrMalformed)
	}
	body := s.Body
	if len(body) < 1 {
		return nil, fmt.Errorf("envelope: empty password stanza: %w", ErrMalformed)
	}
	pl := int(body[0])
	if pl == 0 || pl > kdf.MaxBinaryLen || len(body) != 1+pl+passwordSaltSize+wrappedSize {
		return nil, fmt.Errorf("envelope: password stanza of %d bytes with %d bytes of params: %w", len(body), pl, ErrMalformed)
	}
	p, err := kdf.ParseBinary(body[1 : 1+pl])
	if err != nil {
		return nil, fmt.Errorf("envelope: password stanza params: %w", errors.Join(ErrMalformed, err))
	}
	n := 1 + pl + passwordSaltSize
	return &passwordStanza{params: p, fields: body[:n:n], salt: body[1+pl : n : n], wrapped: body[n:]}, nil
}

// PasswordParams returns the KDF parameters recorded in a password stanza,
// without checking them against any policy (ErrMalformed for a stanza that
// is not a well-formed password stanza).
func PasswordParams(s *Stanza) (kdf.Params, error) {
	ps, err := parsePasswordStanza(s)
	if err != nil {
		return kdf.Params{}, err
	}
	return ps.params, nil
}

// PasswordIdentity unwraps password stanzas. For each password stanza it
// checks the stanza's KDF parameters against the Deriver's policy (before
// any memory is taken: kdf.ErrParamsTooCostly and kdf.ErrParamsNotAllowed
// pass through, and are final), then runs the KDF once. A header written by
// this package has one password stanza, so one unwrap costs one KDF run. A
// version-3 header with more is malformed; a version-1 header may hold
// several (version-1 bytes keep opening), and then all of them together
// may cost no more than the policy lets one derivation cost
// (kdf.Policy.MaxWork), so one unwrap never costs more than one capped
// KDF run.
// A wrong password returns an error wrapping ErrNoMatch.
type PasswordIdentity struct {
	d        *kdf.Deriver
	password []byte
}

// NewPasswordIdentity returns an identity for password under d's policy.
// The password is copied; Destroy clears the copy.
func NewPasswordIdentity(d *kdf.Deriver, password []byte) (*PasswordIdentity, error) {
	if d == nil {
		return nil, fmt.Errorf("envelope: nil kdf.Deriver: %w", ErrInvalidRecipient)
	}
	if err := checkPassword(password); err != nil {
		return nil, fmt.Errorf("envelope: password identity: %w", err)
	}
	return &PasswordIdentity{d: d, password: append([]byte(nil), password...)}, nil
}

// Destroy clears the identity's copy of the password.
func (pi *PasswordIdentity) Destroy() { clear(pi.password) }

// Unwrap implements Identity. Every password stanza is parsed and its
// parameters checked against the policy before the first KDF run (a
// malformed stanza or refused parameters anywhere is a final error and
// costs no derivation); then the KDF runs once per stanza, in order, until
// one matches. A version-3 header has at most one password stanza.
func (pi *PasswordIdentity) Unwrap(ctx context.Context, stanzas []*Stanza, b Binding) ([]byte, error) {
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	var parsed []*passwordStanza
	for _, s := range stanzas {
		if s == nil || s.Type != TypePassword {
			continue
		}
		ps, err := parsePasswordStanza(s)
		if err != nil {
			return nil, err
		}
		if err := pi.d.Policy().Check(ps.params); err != nil {
			return nil, fmt.Errorf("envelope: password stanza refused before deriving: %w", err)
		}
		parsed = append(parsed, ps)
	}
	if err := checkTotalWork(pi.d.Policy(), parsed); err != nil {
		return nil, err
	}
	key := make([]byte, KeySize)
	for _, ps := range parsed {
		var err error
		secretDo(func() {
			var sec *kdf.Secret
			if sec, err = pi.d.Derive(ctx, pi.password, ps.salt, ps.params); err != nil {
				err = fmt.Errorf("envelope: password identity: %w", err)
				return
			}
			kek := sec.KEK()
			sec.Destroy()
			err = unwrapStanza(TypePassword, ps.fields, ps.wrapped, kek, b, key)
			clear(kek)
		})
		if errors.Is(err, ErrNoMatch) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return key, nil
	}
	return nil, fmt.Errorf("envelope: wrong password or no password stanza: %w", ErrNoMatch)
}

// checkTotalWork refuses password stanzas that together cost more than the
// policy lets one derivation cost: the sum over stanzas of Work / MaxWork
// of its algorithm must not exceed 1 (works of different algorithms are
// compared as shares of their own caps). One stanza passes whenever its
// own cap check did. The sum is exact (rationals, not floating point): a
// header exactly at the cap passes and one a single unit of work over it
// is refused, whatever the magnitudes.
func checkTotalWork(pol kdf.Policy, parsed []*passwordStanza) error {
	if len(parsed) < 2 {
		return nil
	}
	var share, term, one big.Rat
	one.SetInt64(1)
	var w, m big.Int
	for _, ps := range parsed {
		max, ok := pol.MaxWork(ps.params.Algorithm)
		if !ok || max == 0 {
			return fmt.Errorf("envelope: password stanza refused before deriving: %w", kdf.ErrParamsNotAllowed)
		}
		w.SetUint64(ps.params.Work())
		m.SetUint64(max)
		share.Add(&share, term.SetFrac(&w, &m))
	}
	if share.Cmp(&one) > 0 {
		f, _ := share.Float64()
		return fmt.Errorf("envelope: %d password stanzas together cost %.2f times what the policy lets one derivation cost, refused before deriving: %w",
			len(parsed), f, kdf.ErrParamsTooCostly)
	}
	return nil
}
