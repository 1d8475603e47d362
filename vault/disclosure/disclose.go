package disclosure

import (
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/piivault/piivault/vault"
)

// Partner is a partner agency as the discloser knows it: its id (which a
// Consent must name) and its HPKE public key, from the service's partner
// directory.
type Partner struct {
	ID        string
	PublicKey hpke.PublicKey // DHKEM(X25519) or MLKEM768-X25519
}

// Config configures a [Discloser].
type Config struct {
	Audit *slog.Logger // nil: audit events are discarded
}

// Discloser releases consented attributes to partners. It is safe for
// concurrent use.
type Discloser struct {
	audit *slog.Logger
}

// New returns a Discloser.
func New(cfg Config) *Discloser {
	l := cfg.Audit
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Discloser{audit: l}
}

// identitySource is what Disclose needs from an unlocked account;
// *vault.Unlocked implements it.
type identitySource interface {
	UserID() string
	OpenIdentity(label string, sealed []byte) (*vault.Identity, error)
}

var _ identitySource = (*vault.Unlocked)(nil)

// Disclose opens the user's identity record (sealedIdentity, sealed by
// u.SealIdentity under label) with the user's unlocked account and returns
// a package for partner holding exactly the attributes c names, sealed to
// the partner's key with c bound in. It refuses (before opening the
// record) a consent that is invalid (ErrInvalidConsent), names another
// partner (ErrWrongPartner), is given after now (ErrInvalidConsent) or has
// expired at now (ErrConsentExpired),
// or names an attribute vault does not know (ErrUnknownAttribute), and a
// partner key of an unsupported KEM (ErrUnsupportedSuite). Every call
// emits one audit event, "disclosure.released" or "disclosure.refused",
// with names, never values.
func (d *Discloser) Disclose(ctx context.Context, u *vault.Unlocked, label string, sealedIdentity []byte, c Consent, partner Partner, now time.Time) ([]byte, error) {
	return d.disclose(ctx, u, label, sealedIdentity, c, partner, now)
}

func (d *Discloser) disclose(ctx context.Context, u identitySource, label string, sealedIdentity []byte, c Consent, partner Partner, now time.Time) (pkg []byte, err error) {
	userID := u.UserID()
	defer func() { d.log(ctx, userID, c, pkg, err) }()

	names, err := c.check()
	if err != nil {
		return nil, err
	}
	if partner.ID != c.PartnerID {
		return nil, fmt.Errorf("%w: consent names %q, key is %q's", ErrWrongPartner, c.PartnerID, partner.ID)
	}
	if now.Before(c.GivenAt) {
		return nil, fmt.Errorf("%w: consent given after now", ErrInvalidConsent)
	}
	if !c.ValidAt(now) {
		return nil, fmt.Errorf("%w: consent in force from %v to %v", ErrConsentExpired, c.GivenAt, c.ExpiresAt)
	}
	known := map[string]bool{}
	for _, n := range vault.AttributeNames() {
		known[n] = true
	}
	for _, n := range names {
		if !known[n] {
			return nil, fmt.Errorf("%w: %q", ErrUnknownAttribute, n)
		}
	}
	if partner.PublicKey == nil || encSize(partner.PublicKey.KEM().ID()) == 0 {
		return nil, fmt.Errorf("%w: partner key", ErrUnsupportedSuite)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id, err := u.OpenIdentity(label, sealedIdentity)
	if err != nil {
		return nil, fmt.Errorf("disclosure: opening identity: %w", err)
	}
	values := make(map[string]string, len(names))
	for _, n := range names {
		v, ok := id.Attribute(n)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownAttribute, n)
		}
		values[n] = v
	}
	return seal(c, values, partner.PublicKey)
}

func (d *Discloser) log(ctx context.Context, userID string, c Consent, pkg []byte, err error) {
	attrs := []slog.Attr{
		slog.String("user_id", userID),
		slog.String("partner_id", c.PartnerID),
		slog.String("purpose", c.Purpose),
		slog.String("attributes", strings.Join(c.Attributes, ",")),
		slog.Time("consent_expires_at", c.ExpiresAt),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		d.audit.LogAttrs(ctx, slog.LevelWarn, "disclosure.refused", attrs...)
		return
	}
	sum := sha256.Sum256(pkg)
	attrs = append(attrs, slog.String("package_sha256", hex.EncodeToString(sum[:])))
	d.audit.LogAttrs(ctx, slog.LevelInfo, "disclosure.released", attrs...)
}
