package vault

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/piivault/piivault/envelope"
)

// TestAuditLogNeverContainsSecretsOrPII runs every operation, successful
// and failing, with a synthetic identity sealed, and then scans the audit
// output for every secret and every PII value in every spelling a careless
// log line would use.
func TestAuditLogNeverContainsSecretsOrPII(t *testing.T) {
	ctx := context.Background()
	prof := profiles(t)[0]
	rr := &recordingReader{}
	escrowRecip, escrowID := newEscrow(t, "kms-key")
	const uid = "5f0c9a4e-8d2b-4c1e-9a77-3b6f2d1e0c42"
	weak, audit := newTestVault(t, prof.weak, func(c *Config) { c.Rand = rr; c.Escrow = escrowRecip })
	strong, err := New(Config{Policy: prof.strong, Audit: weak.audit, Rand: rr, Escrow: escrowRecip})
	if err != nil {
		t.Fatal(err)
	}

	var secrets []string
	addKey := func(b []byte) {
		secrets = append(secrets, hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
			base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
	}
	addPK := func(pk PersonalKey) {
		s := pk.Reveal()
		secrets = append(secrets, s, strings.ToLower(s), strings.ReplaceAll(s, "-", ""), s[:9])
		addKey(pk.b[:])
	}

	rr.reset()
	account, pk, err := weak.Enroll(ctx, uid, pw1)
	if err != nil {
		t.Fatal(err)
	}
	addKey(rr.bytes()[:envelope.KeySize]) // the account key: Enroll's first read
	addPK(pk)
	u := mustUnlock(t, weak, uid, account, pw1)
	sealed, err := u.SealIdentity("pii", janeSample)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	// Sanity: the recorded bytes are the account key (else the scan below
	// would look for the wrong thing).
	if rk, err := envelope.NewRecordKey(rr.bytes()[:envelope.KeySize], nil); err != nil {
		t.Fatal(err)
	} else if _, err := rk.Open(nil, envelope.Binding{UserID: uid, Label: "pii"}, sealed); err != nil {
		t.Fatalf("recorded account key does not open the record: %v", err)
	}
	weak.Unlock(ctx, uid, account, pw2) // failure
	_, upgraded, err := strong.Unlock(ctx, uid, account, pw1)
	if err != nil || upgraded == nil {
		t.Fatalf("upgrade: %v", err)
	}
	changed, err := strong.ChangePassword(ctx, uid, upgraded, pw1, pw2)
	if err != nil {
		t.Fatal(err)
	}
	strong.ChangePassword(ctx, uid, upgraded, pw3, pw2) // failure
	recovered, pk2, err := strong.Recover(ctx, uid, changed, pk, pw3)
	if err != nil {
		t.Fatal(err)
	}
	addPK(pk2)
	strong.Recover(ctx, uid, recovered, pk, pw1) // failure: old key
	escrowed, pk3, err := strong.RecoverWithEscrow(ctx, uid, recovered, escrowID, pw1, "agent-7", "ticket 42")
	if err != nil {
		t.Fatal(err)
	}
	addPK(pk3)
	if err := strong.Shred(ctx, uid, escrowed); err != nil {
		t.Fatal(err)
	}
	s := NewMemStore()
	pk4, err := strong.EnrollInStore(ctx, s, uid, pw2)
	if err != nil {
		t.Fatal(err)
	}
	addPK(pk4)
	strong.ChangePasswordInStore(ctx, s, uid, pw2, pw3)
	strong.ShredInStore(ctx, s, uid)

	for _, p := range [][]byte{pw1, pw2, pw3} {
		secrets = append(secrets, string(p), base64.StdEncoding.EncodeToString(p), hex.EncodeToString(p))
	}
	for _, name := range AttributeNames() {
		if v, _ := janeSample.Attribute(name); len(v) >= 4 {
			secrets = append(secrets, v, strings.ToLower(v))
		}
	}
	secrets = append(secrets, "900-12-3456", "Jane", hex.EncodeToString(sealed[:16]))

	log := audit.String()
	for _, sec := range secrets {
		if strings.Contains(log, sec) {
			t.Errorf("audit log contains a secret or PII value %q", sec)
		}
	}

	// Every line is an audit event with exactly the documented attributes.
	allowed := []string{"time", "level", "msg", attrEvent, attrUserID, attrOutcome, attrError, attrActor, attrReason}
	seen := map[string]map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		for k := range ev {
			if !slices.Contains(allowed, k) {
				t.Errorf("undocumented audit attribute %q in %s", k, sc.Text())
			}
		}
		if ev["msg"] != AuditMessage || ev[attrUserID] != uid {
			t.Errorf("bad event %s", sc.Text())
		}
		name, _ := ev[attrEvent].(string)
		outcome, _ := ev[attrOutcome].(string)
		if seen[name] == nil {
			seen[name] = map[string]bool{}
		}
		seen[name][outcome] = true
		if (outcome == OutcomeFailure) != (ev[attrError] != nil) {
			t.Errorf("error class present iff failure: %s", sc.Text())
		}
	}
	for _, want := range []struct{ event, outcome string }{
		{EventEnroll, OutcomeSuccess}, {EventUnlock, OutcomeSuccess}, {EventUnlock, OutcomeFailure},
		{EventParamsUpgrade, OutcomeSuccess}, {EventChangePassword, OutcomeSuccess},
		{EventChangePassword, OutcomeFailure}, {EventRecover, OutcomeSuccess}, {EventRecover, OutcomeFailure},
		{EventEscrowRecover, OutcomeSuccess}, {EventShred, OutcomeSuccess},
	} {
		if !seen[want.event][want.outcome] {
			t.Errorf("no %s %s event in the audit log", want.event, want.outcome)
		}
	}
	if !strings.Contains(log, `"error":"wrong_secret"`) {
		t.Error("failed unlock not classed wrong_secret")
	}
}

func TestAuditUsesInjectedClock(t *testing.T) {
	ctx := context.Background()
	var buf syncBuffer
	v, err := New(Config{
		Policy: testPolicy(t),
		Audit:  newJSONLogger(&buf),
		Now:    fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	v.Shred(ctx, "u", nil)
	if !strings.Contains(buf.String(), `"time":"2026-01-02T03:04:05Z"`) {
		t.Fatalf("audit time not from Config.Now: %s", buf.String())
	}
}
