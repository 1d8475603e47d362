package escrow

import (
	"context"
	"fmt"

	"github.com/piivault/piivault/vault"
)

// Record is one sealed record of an account: its label and its bytes.
type Record struct {
	Label  string
	Sealed []byte
}

// RotateAccountKey gives an account a new account key: it unlocks account
// with password, enrolls a fresh account for the same user and password
// through v (so the new record has a new personal key and an escrow stanza
// only if v's Config.Escrow is set), and re-seals every record under the
// new key. It returns the new account record, the new personal key (show it
// to the user: the old one no longer opens anything) and the re-sealed
// records, in order. Nothing is returned on error.
//
// This is what makes a purge final: after the caller has replaced the
// account and all its records, no older copy of an escrow stanza (in a
// backup or a replica) opens the new key. It costs three KDF runs (unlock
// old, enroll, unlock new) plus one open and one seal per record. Store the
// new account and records together (or records first, keeping the old
// account until they are in place, since both keys are needed meanwhile).
func RotateAccountKey(ctx context.Context, v *vault.Vault, userID string, account, password []byte, records []Record) ([]byte, vault.PersonalKey, []Record, error) {
	if v == nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: nil vault: %w", vault.ErrInvalidInput)
	}
	oldU, _, err := v.Unlock(ctx, userID, account, password)
	if err != nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: %w", err)
	}
	defer oldU.Close()
	newAccount, pk, err := v.Enroll(ctx, userID, password)
	if err != nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: %w", err)
	}
	newU, _, err := v.Unlock(ctx, userID, newAccount, password)
	if err != nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: %w", err)
	}
	defer newU.Close()
	out := make([]Record, 0, len(records))
	for _, r := range records {
		pt, err := oldU.Open(r.Label, r.Sealed)
		if err != nil {
			return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: record %q: %w", r.Label, err)
		}
		sealed, err := newU.Seal(r.Label, pt)
		clear(pt)
		if err != nil {
			return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: record %q: %w", r.Label, err)
		}
		out = append(out, Record{Label: r.Label, Sealed: sealed})
	}
	return newAccount, pk, out, nil
}
