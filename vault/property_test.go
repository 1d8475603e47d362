package vault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/piivault/piivault/kdf"
)

// TestPropertyEveryRecordOpensWithCurrentSecretsOnly runs random sequences
// of seal, change-password, recover and params upgrade, and after every
// step checks that every record sealed so far opens with the current
// password and the current personal key, and that no earlier password or
// personal key opens the account.
func TestPropertyEveryRecordOpensWithCurrentSecretsOnly(t *testing.T) {
	steps := 24
	if testing.Short() {
		steps = 10
	}
	for _, prof := range profiles(t) {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", prof.name, seed), func(t *testing.T) {
				runPropertySequence(t, prof, seed, steps)
			})
		}
	}
}

// levels returns policies of strictly increasing cost, each the floor of
// the next: an account written at level i needs an upgrade at level i+1.
func levels(prof profile, n int) []kdf.Policy {
	out := make([]kdf.Policy, n)
	for i := range out {
		if prof.weak.New.Algorithm == kdf.PBKDF2SHA256 {
			out[i] = pbkdf2Policy(prof.weak.New.Iterations * uint32(i+1))
		} else {
			out[i] = argon2Policy(prof.weak.New.MemoryKiB * uint32(i+1))
		}
	}
	return out
}

type sealedRecord struct {
	label       string
	sealed, msg []byte
}

func runPropertySequence(t *testing.T, prof profile, seed uint64, steps int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	pols := levels(prof, 4)
	vaults := make([]*Vault, len(pols))
	for i, p := range pols {
		vaults[i], _ = newTestVault(t, p)
	}
	level := 0
	const uid = "prop-user"
	account, pk, err := vaults[0].Enroll(ctx, uid, pw1)
	if err != nil {
		t.Fatal(err)
	}
	curPw := pw1
	var oldPws [][]byte
	var oldPKs []PersonalKey
	var records []sealedRecord
	pwN := 0
	freshPw := func() []byte { pwN++; return []byte(fmt.Sprintf("seed %d password %d", seed, pwN)) }

	for step := range steps {
		v := vaults[level]
		op := rng.IntN(4)
		switch op {
		case 0: // seal a record
			u, up, err := v.Unlock(ctx, uid, account, curPw)
			if err != nil {
				t.Fatalf("step %d seal: %v", step, err)
			}
			if up != nil {
				t.Fatalf("step %d: unexpected upgrade", step)
			}
			r := sealedRecord{label: fmt.Sprintf("label-%d", rng.IntN(3)), msg: []byte(fmt.Sprintf("record %d", step))}
			if r.sealed, err = u.Seal(r.label, r.msg); err != nil {
				t.Fatal(err)
			}
			u.Close()
			records = append(records, r)
		case 1: // change password
			np := freshPw()
			if account, err = v.ChangePassword(ctx, uid, account, curPw, np); err != nil {
				t.Fatalf("step %d change: %v", step, err)
			}
			oldPws, curPw = append(oldPws, curPw), np
		case 2: // recover with the personal key
			np := freshPw()
			var newPK PersonalKey
			if account, newPK, err = v.Recover(ctx, uid, account, pk, np); err != nil {
				t.Fatalf("step %d recover: %v", step, err)
			}
			oldPws, curPw = append(oldPws, curPw), np
			oldPKs, pk = append(oldPKs, pk), newPK
		case 3: // policy moves up: the next unlock upgrades
			if level == len(vaults)-1 {
				continue
			}
			level++
			u, up, err := vaults[level].Unlock(ctx, uid, account, curPw)
			if err != nil {
				t.Fatalf("step %d upgrade: %v", step, err)
			}
			u.Close()
			if up == nil {
				t.Fatalf("step %d: policy moved up but no upgrade", step)
			}
			account = up
		}
		checkModel(t, vaults[level], step, uid, account, curPw, pk, oldPws, oldPKs, records)
	}
}

func checkModel(t *testing.T, v *Vault, step int, uid string, account, curPw []byte, pk PersonalKey, oldPws [][]byte, oldPKs []PersonalKey, records []sealedRecord) {
	t.Helper()
	ctx := context.Background()
	byPw, up, err := v.Unlock(ctx, uid, account, curPw)
	if err != nil {
		t.Fatalf("step %d: current password: %v", step, err)
	}
	defer byPw.Close()
	if up != nil {
		t.Fatalf("step %d: account at policy reported for upgrade", step)
	}
	byPK, err := unlockWithPK(t, uid, account, pk)
	if err != nil {
		t.Fatalf("step %d: current personal key: %v", step, err)
	}
	defer byPK.Close()
	for i, r := range records {
		for _, u := range []*Unlocked{byPw, byPK} {
			got, err := u.Open(r.label, r.sealed)
			if err != nil || string(got) != string(r.msg) {
				t.Fatalf("step %d: record %d: %q, %v", step, i, got, err)
			}
		}
	}
	for i, p := range oldPws {
		if _, _, err := v.Unlock(ctx, uid, account, p); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("step %d: old password %d: %v", step, i, err)
		}
	}
	for i, old := range oldPKs {
		if _, err := unlockWithPK(t, uid, account, old); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("step %d: old personal key %d: %v", step, i, err)
		}
	}
}
