package pgstore_test

import (
	"fmt"
	"testing"

	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/vault"
)

// BenchmarkRotateAll rotates 64 accounts' escrow stanza on PostgreSQL per
// op (back and forth between two keys) with 1 and 4 workers; compare the
// two with benchstat (the ratio, not the absolute time, carries over).
func BenchmarkRotateAll(b *testing.B) {
	s := pgtest.Store(b)
	rA, idA := escrowPairB(b)
	rB, idB := escrowPairB(b)
	v, err := vault.New(vault.Config{Policy: itest.Policy(), Escrow: rA})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%03d", i)
		if _, err := v.EnrollInStore(b.Context(), s, ids[i], []byte("pw")); err != nil {
			b.Fatal(err)
		}
	}
	audit := (&auditLog{}).audit()
	onA := true
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				var st escrow.Stats
				var err error
				if onA {
					st, err = escrow.RotateAll(b.Context(), s, ids, idA, rB, audit, workers, nil)
				} else {
					st, err = escrow.RotateAll(b.Context(), s, ids, idB, rA, audit, workers, nil)
				}
				if err != nil || st.Changed != len(ids) {
					b.Fatal(st, err)
				}
				onA = !onA
			}
		})
	}
}

func escrowPairB(b *testing.B) (*escrow.Recipient, *escrow.Identity) {
	priv, err := escrow.GenerateKey(escrow.SuiteP256)
	if err != nil {
		b.Fatal(err)
	}
	id, _ := escrow.NewIdentity(priv, purpose)
	fp, _ := escrow.FingerprintOf(priv.PublicKey())
	r, err := escrow.NewRecipient(priv.PublicKey(), fp, purpose)
	if err != nil {
		b.Fatal(err)
	}
	return r, id
}
