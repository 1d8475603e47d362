package logingov

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/internal/fipstest"
	"github.com/piivault/piivault/kdf"

	"github.com/piivault/piivault/legacy/logingov/logingovtest"
	"github.com/piivault/piivault/vault"
)

// profile returns Jane's columns: both copies, KMSc, with pk her
// Login.gov personal key as shown.
func (f *fixture) profile(cost string) (Columns, string) {
	shown, norm, err := logingovtest.PersonalKey(nil)
	require.NoError(f.t, err)
	o := logingovtest.Options{Cost: cost}
	return Columns{
		UUID:                 uuidJane,
		EncryptedPII:         f.seal(uuidJane, testPW, janeJSON(), o),
		EncryptedPIIRecovery: f.seal(uuidJane, norm, janeJSON(), o),
	}, shown
}

// checkMigrated opens the new account the way a piivault front end will
// (vault.Unlock with the password) and checks every attribute arrived.
func checkMigrated(t *testing.T, v *vault.Vault, userID string, m *Migration, password string) {
	t.Helper()
	u, _, err := v.Unlock(context.Background(), userID, m.Account, []byte(password))
	require.NoError(t, err)
	defer u.Close()
	id, err := u.OpenIdentity(LabelIdentity, m.Records[LabelIdentity])
	require.NoError(t, err)
	require.Equal(t, vault.Identity{
		GivenName: "Jane", MiddleName: "Q", FamilyName: "Sample",
		BirthDate: "1980-02-29", SSN: "900123456", Phone: "+12025550143",
		Address:  vault.Address{Line1: "123 Example St", Line2: "Apt 4", City: "Springfield", State: "VA", ZIPCode: "22150"},
		Document: vault.IDDocument{Issuer: "VA"},
	}, *id)
	pt, err := u.Open(LabelExtras, m.Records[LabelExtras])
	require.NoError(t, err)
	ex, err := OpenExtras(pt)
	require.NoError(t, err)
	require.Equal(t, map[string]json.RawMessage{
		"identity_doc_address1":          json.RawMessage(`"99 Former Rd"`),
		"identity_doc_address_state":     json.RawMessage(`"VA"`),
		"identity_doc_city":              json.RawMessage(`"Fairfax"`),
		"identity_doc_zipcode":           json.RawMessage(`"22030"`),
		"ipp_current_address_matches_id": json.RawMessage(`true`),
		"issuing_country_code":           json.RawMessage(`"US"`),
	}, ex)
	require.Equal(t, []string{"address1", "address2", "city", "dob", "first_name", "last_name", "middle_name", "phone", "ssn", "state", "state_id_jurisdiction", "zipcode"}, m.Mapped)
	require.Equal(t, []string{"identity_doc_address1", "identity_doc_address_state", "identity_doc_city", "identity_doc_zipcode", "ipp_current_address_matches_id", "issuing_country_code"}, m.Extras)
	// The records are bound to this user: another user id does not open them.
	u2, _, err := v.Unlock(context.Background(), userID, m.Account, []byte(password))
	require.NoError(t, err)
	u2.Close()
}

// TestMigrateWithPasswordCostsOneScryptOneKMSCallOneEnrollment: a sign-in
// migration opens the password copy with one scrypt run and one KMS call,
// enrolls once, and the new account opens with the same password and
// holds every attribute (mapped or kept as extras).
func TestMigrateWithPasswordCostsOneScryptOneKMSCallOneEnrollment(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	v, enrolls := testVault(t)
	m, err := NewMigrator(v, f.r)
	require.NoError(t, err)
	cols, _ := f.profile("")
	runs, calls := f.r.scryptRuns.Load(), f.kms.Decrypts()
	mig, err := m.MigrateWithPassword(context.Background(), "user-jane", cols, []byte(testPW))
	require.NoError(t, err)
	require.Equal(t, int64(1), f.r.scryptRuns.Load()-runs, "one scrypt run")
	require.Equal(t, int64(1), f.kms.Decrypts()-calls, "one KMS call")
	require.Equal(t, int64(1), enrolls.Load(), "one enrollment")
	require.Equal(t, "encrypted_pii_multi_region", mig.Column)
	require.Equal(t, LayerKMSc, mig.Source.Layer)
	require.False(t, mig.PersonalKey.IsZero())
	checkMigrated(t, v, "user-jane", mig, testPW)
	// The new personal key recovers the account; it is a piivault key.
	_, _, err = v.Recover(context.Background(), "user-jane", mig.Account, mig.PersonalKey, []byte("new password"))
	require.NoError(t, err)
}

// TestMigrationsOnlyVaultEventIsOneEnrollment: both migrations write
// exactly one vault audit event, the enrollment (vault.EnrollUnlocked
// hands back the open account): no Unlock, which would cost a second
// Argon2id run.
func TestMigrationsOnlyVaultEventIsOneEnrollment(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	p := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	for _, withPK := range []bool{false, true} {
		events := &eventLog{}
		v, err := vault.New(vault.Config{
			Policy: kdf.Policy{New: p, FloorArgon2id: p, Caps: kdf.DefaultCaps()},
			Audit:  slog.New(events),
		})
		require.NoError(t, err)
		m, err := NewMigrator(v, f.r)
		require.NoError(t, err)
		cols, oldPK := f.profile("")
		var mig *Migration
		if withPK {
			mig, err = m.MigrateWithPersonalKey(context.Background(), "user-jane", cols, oldPK, []byte("a new password"))
		} else {
			mig, err = m.MigrateWithPassword(context.Background(), "user-jane", cols, []byte(testPW))
		}
		require.NoError(t, err)
		require.Equal(t, []string{vault.EventEnroll}, events.list(), "personal-key migration: %v", withPK)
		require.NotNil(t, mig)
	}
}

// TestMigrateWithPersonalKeyRetiresTheOldKey: a user who forgot the
// password migrates with the Login.gov personal key (one scrypt, one KMS
// call) and a new password; the old 80-bit key opens nothing in piivault
// (it is not even a piivault key), the new one does.
func TestMigrateWithPersonalKeyRetiresTheOldKey(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	v, enrolls := testVault(t)
	m, err := NewMigrator(v, f.r)
	require.NoError(t, err)
	cols, oldPK := f.profile("")
	runs, calls := f.r.scryptRuns.Load(), f.kms.Decrypts()
	mig, err := m.MigrateWithPersonalKey(context.Background(), "user-jane", cols, toLower(oldPK), []byte("a new password"))
	require.NoError(t, err)
	require.Equal(t, int64(1), f.r.scryptRuns.Load()-runs)
	require.Equal(t, int64(1), f.kms.Decrypts()-calls)
	require.Equal(t, int64(1), enrolls.Load())
	require.Equal(t, "encrypted_pii_recovery_multi_region", mig.Column)
	checkMigrated(t, v, "user-jane", mig, "a new password")
	_, err = vault.ParsePersonalKey(oldPK)
	require.ErrorIs(t, err, vault.ErrInvalidInput, "an 80-bit Login.gov key is not a piivault key")
	require.NotEqual(t, oldPK, mig.PersonalKey.Reveal())
}

// TestMigrationReturnsNothingAndEnrollsNothingOnFailure: a wrong password,
// a wrong personal key, a tampered value, a wrong uuid and a null copy
// each give their error, a nil Migration, and no enrollment.
func TestMigrationReturnsNothingAndEnrollsNothingOnFailure(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	v, enrolls := testVault(t)
	m, err := NewMigrator(v, f.r)
	require.NoError(t, err)
	cols, pk := f.profile("")
	ctx := context.Background()

	mig, err := m.MigrateWithPassword(ctx, "user-jane", cols, []byte(testPW+" "))
	requireKind(t, err, ErrAuth)
	require.Nil(t, mig)

	mig, err = m.MigrateWithPersonalKey(ctx, "user-jane", cols, "0000-0000-0000-0000", []byte("pw"))
	requireKind(t, err, ErrAuth)
	require.Nil(t, mig)

	other := cols
	other.UUID = uuidJohn
	mig, err = m.MigrateWithPassword(ctx, "user-jane", other, []byte(testPW))
	requireKind(t, err, ErrKMS)
	require.Nil(t, mig)

	null := cols
	_, norm, _ := logingovtest.PersonalKey(nil)
	null.EncryptedPIIRecovery = f.seal(uuidJane, norm, []byte("null"), logingovtest.Options{})
	mig, err = m.MigrateWithPersonalKey(ctx, "user-jane", null, norm, []byte("pw"))
	requireKind(t, err, ErrNoPII)
	require.Nil(t, mig)

	tampered := cols
	tampered.EncryptedPII = append([]byte(nil), cols.EncryptedPII...)
	tampered.EncryptedPII[30] ^= 1
	mig, err = m.MigrateWithPassword(ctx, "user-jane", tampered, []byte(testPW))
	require.Error(t, err)
	require.Nil(t, mig)

	mig, err = m.MigrateWithPassword(ctx, "user-jane", Columns{UUID: uuidJane}, []byte(testPW))
	requireKind(t, err, ErrInvalidInput)
	require.Nil(t, mig)
	require.Zero(t, enrolls.Load(), "no account is enrolled unless the copy opened")

	// The untouched profile still migrates with its personal key.
	_, err = m.MigrateWithPersonalKey(ctx, "user-jane", cols, pk, []byte("pw"))
	require.NoError(t, err)
	require.Equal(t, int64(1), enrolls.Load())
}

// TestMigrationFallsBackToTheLegacyColumnOnlyWhenTheMultiRegionOneIsEmpty.
func TestMigrationFallsBackToTheLegacyColumnOnlyWhenTheMultiRegionOneIsEmpty(t *testing.T) {
	fipstest.Skip(t, fipstest.Scrypt)
	f := newFixture(t)
	v, _ := testVault(t)
	m, err := NewMigrator(v, f.r)
	require.NoError(t, err)
	legacy := f.seal(uuidJane, testPW, janeJSON(), logingovtest.Options{Layer: logingovtest.KMSx})
	cols := Columns{UUID: uuidJane, LegacyEncryptedPII: legacy}
	mig, err := m.MigrateWithPassword(context.Background(), "user-jane", cols, []byte(testPW))
	require.NoError(t, err)
	require.Equal(t, "encrypted_pii", mig.Column)
	require.Equal(t, LayerKMSx, mig.Source.Layer)
	// With both present, the multi-region one is read (here it is under
	// another password, so the password that opens the legacy one fails).
	cols.EncryptedPII = f.seal(uuidJane, "another password", janeJSON(), logingovtest.Options{})
	_, err = m.MigrateWithPassword(context.Background(), "user-jane", cols, []byte(testPW))
	requireKind(t, err, ErrAuth)
}

// TestSplitKeepsEveryAttribute: the 2016 member set with old formats is
// reformatted losslessly into the Identity; a value that does not fit its
// field (a control character, an unparseable date, a number) and unknown
// keys go to extras; nulls and empty strings are dropped.
func TestSplitKeepsEveryAttribute(t *testing.T) {
	pii, err := parsePlaintext([]byte(`{"first_name":"John","middle_name":"","last_name":"Sam\tple","ssn":"900-12-3457","dob":"07/04/1976",` +
		`"phone":"(301) 555-0199","zipcode":"209101234","city":null,"state":"MD","prev_city":"Old Town","otp":null,"dob_unknown":12,` +
		`"address1":"1 Test Ave","same_address_as_id":"true","identity_doc_address1":"x","state_id_jurisdiction":"MD"}`))
	require.NoError(t, err)
	id, ex := pii.Split()
	require.NoError(t, id.Validate())
	require.Equal(t, vault.Identity{
		GivenName: "John", SSN: "900123457", BirthDate: "1976-07-04", Phone: "+13015550199",
		Address:  vault.Address{Line1: "1 Test Ave", State: "MD", ZIPCode: "20910-1234"},
		Document: vault.IDDocument{Issuer: "MD"},
	}, *id)
	require.Equal(t, map[string]json.RawMessage{
		"last_name":             json.RawMessage(`"Sam\tple"`),
		"prev_city":             json.RawMessage(`"Old Town"`),
		"dob_unknown":           json.RawMessage(`12`),
		"same_address_as_id":    json.RawMessage(`"true"`),
		"identity_doc_address1": json.RawMessage(`"x"`),
	}, ex)
	for _, bad := range []string{`{"dob":"1976-13-40"}`, `{"ssn":"12345"}`, `{"phone":"call me"}`, `{"zipcode":"ABCDE"}`, `{"first_name":["J"]}`} {
		pii, err := parsePlaintext([]byte(bad))
		require.NoError(t, err)
		id, ex := pii.Split()
		require.Equal(t, vault.Identity{}, *id, bad)
		require.Len(t, ex, 1, bad)
	}
}

// TestExtrasRecordVector: the extras record of FORMAT.md section 3 is
// written byte for byte as the vector says (sorted keys, compacted values,
// HTML characters escaped, nulls and empty strings dropped, modelled
// attributes left out) and reads back.
func TestExtrasRecordVector(t *testing.T) {
	var v struct {
		In     string `json:"plaintext_in"`
		Record string `json:"record"`
	}
	readJSON(t, "extras-v1.json", &v)
	pii, err := parsePlaintext([]byte(v.In))
	require.NoError(t, err)
	_, ex := pii.Split()
	enc, err := encodeExtras(ex)
	require.NoError(t, err)
	require.Equal(t, v.Record, string(enc))
	back, err := OpenExtras(enc)
	require.NoError(t, err)
	require.Len(t, back, 4)
	for _, bad := range []string{`{"attributes":{},"source":"login.gov","v":2}`, `{"attributes":{},"source":"x","v":1}`, `{"attributes":{},"source":"login.gov","v":1,"z":0}`, `{"attributes":{},"source":"login.gov","v":1}{}`, `[]`} {
		_, err := OpenExtras([]byte(bad))
		requireKind(t, err, ErrJSON)
	}
}
