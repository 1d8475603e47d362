package disclosure

import (
	"context"
	"crypto"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/piivault/piivault/vault"
)

// Partner is a partner agency as the discloser knows it: its id (which a
// Consent must name) and its HPKE public key, from the service's partner
// directory.
type Partner struct {
	ID        string
	PublicKey hpke.PublicKey // a supported KEM: X25519, MLKEM768-X25519, P-256, MLKEM768-P256
}

// DefaultPackageLifetime is how long a package stays in force when
// Config.PackageLifetime is zero (never past the consent's expiry).
const DefaultPackageLifetime = 10 * time.Minute

// Config configures a [Discloser].
type Config struct {
	// Signer is the identity provider's signing key: an ed25519.PrivateKey
	// (the default choice), an ECDSA P-256 key (FIPS 140; it may be in an
	// HSM, e.g. integrations/pkcs11hsm), or a *HybridSigner (Ed25519 and
	// ML-DSA-65). Required.
	Signer crypto.Signer
	// Pairwise, if set, makes every consent's Subject the user's pairwise
	// identifier for the partner; a consent with another non-empty Subject
	// is refused.
	Pairwise *Pairwise
	// PackageLifetime bounds how long after its release a package may be
	// opened: zero means DefaultPackageLifetime. It is cut to the consent's
	// expiry. Partners keep package ids for this long.
	PackageLifetime time.Duration
	// Audit receives one event per Disclose call; nil discards them.
	Audit *slog.Logger
}

// Discloser releases consented attributes to partners, in signed packages.
// It is safe for concurrent use if its Signer is.
type Discloser struct {
	signer   *signer
	pairwise *Pairwise
	lifetime time.Duration
	audit    *slog.Logger
}

// New checks cfg and returns a Discloser.
func New(cfg Config) (*Discloser, error) {
	s, err := newSigner(cfg.Signer)
	if err != nil {
		return nil, err
	}
	life := cfg.PackageLifetime
	if life == 0 {
		life = DefaultPackageLifetime
	}
	if life < 0 {
		return nil, errors.New("disclosure: negative package lifetime")
	}
	l := cfg.Audit
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Discloser{signer: s, pairwise: cfg.Pairwise, lifetime: life, audit: l}, nil
}

// Fingerprint returns the fingerprint of the provider's signing key, which
// partners pin ([PinProviderKey]).
func (d *Discloser) Fingerprint() Fingerprint { return d.signer.k.fingerprint() }

// identitySource is what Disclose needs from an unlocked account;
// *vault.Unlocked implements it.
type identitySource interface {
	UserID() string
	OpenIdentity(label string, sealed []byte) (*vault.Identity, error)
}

var _ identitySource = (*vault.Unlocked)(nil)

// Disclose opens the user's identity record (sealedIdentity, sealed by
// u.SealIdentity under label) with the user's unlocked account and returns
// a signed package for partner holding exactly the attributes c names,
// sealed to the partner's key, answering the partner's request c.Nonce. It
// sets c.PartnerKey to the partner key's fingerprint and, with
// Config.Pairwise, c.Subject to the user's pairwise identifier. It refuses
// (before opening the record) a consent that is invalid or has no nonce
// (ErrInvalidConsent), names another partner or partner key
// (ErrWrongPartner), is given after now (ErrNotYetValid) or has expired at
// now (ErrExpired), names an attribute vault does not know
// (ErrUnknownAttribute), or carries a Subject other than the pairwise one
// (ErrInvalidConsent), and a partner key of an unsupported KEM
// (ErrUnsupportedSuite). Every call emits one audit event,
// "disclosure.released" or "disclosure.refused", with attribute names and
// an error class, never values or the error's text.
func (d *Discloser) Disclose(ctx context.Context, u *vault.Unlocked, label string, sealedIdentity []byte, c Consent, partner Partner, now time.Time) ([]byte, error) {
	return d.disclose(ctx, u, label, sealedIdentity, c, partner, now)
}

func (d *Discloser) disclose(ctx context.Context, u identitySource, label string, sealedIdentity []byte, c Consent, partner Partner, now time.Time) (pkg []byte, err error) {
	userID := u.UserID()
	var id PackageID
	defer func() { d.log(ctx, userID, c, id, pkg, err) }()

	names, err := c.check()
	if err != nil {
		return nil, err
	}
	if partner.ID != c.PartnerID {
		return nil, fmt.Errorf("%w: the consent names another partner than the key's", ErrWrongPartner)
	}
	if partner.PublicKey == nil || encSize(partner.PublicKey.KEM().ID()) == 0 {
		return nil, fmt.Errorf("%w: partner key", ErrUnsupportedSuite)
	}
	pfp, _ := PartnerFingerprint(partner.PublicKey)
	if c.PartnerKey != (Fingerprint{}) && c.PartnerKey != pfp {
		return nil, fmt.Errorf("%w: the consent names another partner key", ErrWrongPartner)
	}
	c.PartnerKey = pfp
	if d.pairwise != nil {
		sub, err := d.pairwise.Subject(partner.ID, userID)
		if err != nil {
			return nil, err
		}
		if c.Subject != "" && c.Subject != sub {
			return nil, fmt.Errorf("%w: subject is not the user's pairwise identifier for this partner", ErrInvalidConsent)
		}
		c.Subject = sub
		if _, err := c.check(); err != nil {
			return nil, err
		}
	}
	if now.Before(c.GivenAt) {
		return nil, fmt.Errorf("%w: consent given after now", ErrNotYetValid)
	}
	if !c.ValidAt(now) {
		return nil, fmt.Errorf("%w: consent no longer in force", ErrExpired)
	}
	if !knownNames(names) {
		return nil, ErrUnknownAttribute
	}
	if !representable(now) {
		return nil, fmt.Errorf("%w: time out of range", ErrInvalidConsent)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	ident, err := u.OpenIdentity(label, sealedIdentity)
	if err != nil {
		return nil, fmt.Errorf("disclosure: opening identity: %w", err)
	}
	values := make(map[string]string, len(names))
	for _, n := range names {
		v, ok := ident.Attribute(n)
		if !ok {
			return nil, ErrUnknownAttribute
		}
		values[n] = v
	}
	exp := now.Add(d.lifetime)
	if exp.After(c.ExpiresAt) || exp.Before(now) { // overflow guard too
		exp = c.ExpiresAt
	}
	return seal(d.signer, c, values, partner.PublicKey, sealParams{id: id, issuedAt: now, expiresAt: exp})
}

func knownNames(names []string) bool {
	known := vault.AttributeNames()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return false
		}
	}
	return true
}

// errorClass maps an error to a fixed word for the audit log: the error's
// text is never logged, since it could quote caller input.
func errorClass(err error) string {
	for _, e := range []struct {
		err  error
		word string
	}{
		{ErrInvalidConsent, "invalid_consent"}, {ErrUnknownAttribute, "unknown_attribute"},
		{ErrWrongPartner, "wrong_partner"}, {ErrUnsupportedSuite, "unsupported_suite"},
		{ErrNotYetValid, "not_yet_valid"}, {ErrExpired, "expired"}, {ErrTooLarge, "too_large"},
		{ErrAttributesInvalid, "attributes_invalid"}, {vault.ErrClosed, "account_closed"},
		{context.Canceled, "canceled"}, {context.DeadlineExceeded, "deadline"},
	} {
		if errors.Is(err, e.err) {
			return e.word
		}
	}
	return "other"
}

// log writes the audit event. Only values that passed validation are
// logged (partner id, attribute names vault knows, times) plus the user id of the
// unlocked account; never the purpose, subject or nonce (free text), never
// attribute values, never an error's text.
func (d *Discloser) log(ctx context.Context, userID string, c Consent, id PackageID, pkg []byte, err error) {
	level, msg := slog.LevelInfo, "disclosure.released"
	if err != nil {
		level, msg = slog.LevelWarn, "disclosure.refused"
	}
	if !d.audit.Enabled(ctx, level) {
		return
	}
	if userID == "" || len(userID) > vault.MaxUserIDLen {
		userID = "(invalid)"
	}
	attrs := []slog.Attr{slog.String("user_id", userID)}
	if names, cerr := c.check(); cerr == nil && knownNames(names) {
		attrs = append(attrs,
			slog.String("partner_id", c.PartnerID),
			slog.String("attributes", strings.Join(c.Attributes, ",")),
			slog.Time("consent_expires_at", c.ExpiresAt))
	} else {
		attrs = append(attrs, slog.String("consent", "(invalid)"))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errorClass(err)))
		d.audit.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	sum := sha256.Sum256(pkg)
	attrs = append(attrs,
		slog.String("package_id", id.String()),
		slog.String("partner_key", c.PartnerKey.String()),
		slog.String("package_sha256", hex.EncodeToString(sum[:])))
	d.audit.LogAttrs(ctx, level, msg, attrs...)
}
