package logingov

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/piivault/piivault/vault"
)

// Record labels of a migrated account's sealed records.
const (
	// LabelIdentity holds the vault.Identity (vault.Unlocked.OpenIdentity
	// opens it).
	LabelIdentity = "pii"
	// LabelExtras holds the attributes vault.Identity does not model, in
	// the extras format of FORMAT.md (OpenExtras reads it). It is written
	// only when there is at least one such attribute.
	LabelExtras = "logingov-extras"
)

// Columns are the stored values of one profile, as read from the
// database. Empty fields are columns that hold NULL. Migrate the profile
// the user unlocks today: the active one (profiles.active = true); a
// pending profile (letter, in-person, fraud review) opens the same way but
// is not yet verified.
type Columns struct {
	// UUID is users.uuid of the profile's user, byte for byte: it is the
	// KMS encryption context.
	UUID string
	// EncryptedPII is profiles.encrypted_pii_multi_region (password copy);
	// EncryptedPIIRecovery is profiles.encrypted_pii_recovery_multi_region
	// (personal-key copy). These are the columns Login.gov reads today.
	EncryptedPII, EncryptedPIIRecovery []byte
	// LegacyEncryptedPII and LegacyEncryptedPIIRecovery are the
	// single-region profiles.encrypted_pii and encrypted_pii_recovery,
	// read only when the multi-region column is empty.
	LegacyEncryptedPII, LegacyEncryptedPIIRecovery []byte
}

// Migrator moves a Login.gov user into piivault on their next sign-in. It
// is safe for concurrent use.
type Migrator struct {
	r *Reader
	v *vault.Vault
}

// NewMigrator returns a Migrator that opens values with r and enrolls
// accounts with v.
func NewMigrator(v *vault.Vault, r *Reader) (*Migrator, error) {
	if v == nil || r == nil {
		return nil, errf(ErrInvalidInput, "nil vault or reader")
	}
	return &Migrator{r: r, v: v}, nil
}

// Migration is the result of a migration: everything the caller stores.
// It holds no plaintext.
type Migration struct {
	// Account is the new piivault account record (vault.EnrollUnlocked's,
	// which is an Enroll account). Store it before the records.
	Account []byte
	// Records maps a label (LabelIdentity, and LabelExtras when there are
	// extras) to a record sealed under the account, bound to the user id
	// and the label.
	Records map[string][]byte
	// PersonalKey is the NEW piivault personal key (160 bits), to show the
	// user once. The Login.gov personal key (80 bits) opens nothing in
	// piivault: it is retired.
	PersonalKey vault.PersonalKey
	// Column names the column that was opened.
	Column string
	// Source describes the value that was opened (format, KMS layer,
	// chunks, scrypt cost).
	Source Info
	// Mapped lists the Login.gov attributes that went into the Identity,
	// Extras those kept in the extras record (names only), both sorted.
	Mapped, Extras []string
}

// MigrateWithPassword migrates on a password sign-in: it opens the
// password copy with the password (one KMS call, one scrypt run), maps the
// PII onto a vault.Identity keeping every other attribute, enrolls a
// piivault account for userID under the same password
// (vault.EnrollUnlocked: one Argon2id run with the vault's policy, no
// second one to open the account; the vault NFKC-normalizes the password),
// seals the Identity and the extras through the handle it returns, checks
// that both records open again, and returns what to store.
//
// Nothing is returned unless every step succeeded: on any error the
// Migration is nil and the Login.gov columns stay the only copy. A copy
// holding null gives ErrNoPII (the user must be verified again, or, for a
// null personal-key copy, sign in with the password instead).
func (m *Migrator) MigrateWithPassword(ctx context.Context, userID string, cols Columns, password []byte) (*Migration, error) {
	value, col := pick(cols.EncryptedPII, "encrypted_pii_multi_region", cols.LegacyEncryptedPII, "encrypted_pii")
	if value == nil {
		return nil, errf(ErrInvalidInput, "profile has no password copy")
	}
	pii, err := m.r.OpenPassword(ctx, cols.UUID, value, password)
	if err != nil {
		return nil, err
	}
	defer pii.Clear()
	return m.finish(ctx, userID, value, col, pii, password)
}

// MigrateWithPersonalKey migrates a user who signs in with their Login.gov
// personal key because they forgot the password during the move: it opens
// the personal-key copy (one KMS call, one scrypt run), then proceeds as
// MigrateWithPassword with newPassword. The old personal key is retired
// and a new piivault one returned.
func (m *Migrator) MigrateWithPersonalKey(ctx context.Context, userID string, cols Columns, personalKey string, newPassword []byte) (*Migration, error) {
	value, col := pick(cols.EncryptedPIIRecovery, "encrypted_pii_recovery_multi_region", cols.LegacyEncryptedPIIRecovery, "encrypted_pii_recovery")
	if value == nil {
		return nil, errf(ErrInvalidInput, "profile has no personal-key copy")
	}
	if len(newPassword) == 0 {
		return nil, errf(ErrInvalidInput, "empty new password")
	}
	pii, err := m.r.OpenPersonalKey(ctx, cols.UUID, value, personalKey)
	if err != nil {
		return nil, err
	}
	defer pii.Clear()
	return m.finish(ctx, userID, value, col, pii, newPassword)
}

func pick(a []byte, an string, b []byte, bn string) ([]byte, string) {
	if len(a) > 0 {
		return a, an
	}
	if len(b) > 0 {
		return b, bn
	}
	return nil, ""
}

// extrasWire is the extras record (FORMAT.md).
// Fields in byte order of their names: the encoding's keys are sorted.
type extrasWire struct {
	Attributes map[string]json.RawMessage `json:"attributes"`
	Source     string                     `json:"source"`
	V          int                        `json:"v"`
}

// encodeExtras writes the extras record's plaintext (FORMAT.md section 3).
func encodeExtras(extras map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(extrasWire{V: extrasVersion, Source: "login.gov", Attributes: extras})
	if err != nil {
		return nil, fmt.Errorf("logingov: encoding extras: %w", err)
	}
	return b, nil
}

const extrasVersion = 1

func (m *Migrator) finish(ctx context.Context, userID string, value []byte, col string, pii *PII, password []byte) (*Migration, error) {
	info, err := Inspect(value)
	if err != nil {
		return nil, err // cannot happen: the value just opened
	}
	id, extras := pii.Split()
	idEnc, err := id.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("logingov: mapping to vault.Identity: %w", err)
	}
	defer clear(idEnc)
	var exEnc []byte
	if len(extras) > 0 {
		if exEnc, err = encodeExtras(extras); err != nil {
			return nil, err
		}
		defer clear(exEnc)
	}

	// One Argon2id run: the handle comes with the enrollment.
	account, u, pk, err := m.v.EnrollUnlocked(ctx, userID, password)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	fail := func(err error) (*Migration, error) {
		pk.Destroy()
		clear(account)
		return nil, err
	}
	recs := map[string][]byte{}
	plain := map[string][]byte{LabelIdentity: idEnc}
	if exEnc != nil {
		plain[LabelExtras] = exEnc
	}
	for label, pt := range plain {
		sealed, err := u.Seal(label, pt)
		if err != nil {
			return fail(fmt.Errorf("logingov: sealing %s: %w", label, err))
		}
		// Verify: the record opens under the account and gives back the
		// same bytes.
		back, err := u.Open(label, sealed)
		ok := err == nil && bytes.Equal(back, pt)
		clear(back)
		if !ok {
			return fail(fmt.Errorf("logingov: sealed %s record does not open back", label))
		}
		recs[label] = sealed
	}
	mig := &Migration{Account: account, Records: recs, PersonalKey: pk, Column: col, Source: info}
	for _, n := range pii.Names() {
		if _, ok := extras[n]; ok {
			mig.Extras = append(mig.Extras, n)
		} else if _, ok := attrToIdentity[n]; ok {
			mig.Mapped = append(mig.Mapped, n)
		}
	}
	sort.Strings(mig.Mapped)
	sort.Strings(mig.Extras)
	return mig, nil
}

// OpenExtras decodes an extras record's plaintext (what
// vault.Unlocked.Open(LabelExtras, ...) returns): the Login.gov attributes
// vault.Identity does not model, each with its raw JSON value.
func OpenExtras(plaintext []byte) (map[string]json.RawMessage, error) {
	if len(plaintext) > MaxStoredSize {
		return nil, errf(ErrTooLarge, "extras record over %d bytes", MaxStoredSize)
	}
	var w extrasWire
	dec := json.NewDecoder(bytes.NewReader(plaintext))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || dec.More() {
		return nil, errf(ErrJSON, "extras record is not valid")
	}
	if w.V != extrasVersion || w.Source != "login.gov" {
		return nil, errf(ErrJSON, "extras record version %d source %q, want %d login.gov", w.V, w.Source, extrasVersion)
	}
	return w.Attributes, nil
}
