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

// RotateAccountKey gives an account a new account key through the vault's
// rotation (vault.Vault.RotateAccountKey: two KDF runs, the password kept,
// a new personal key, an escrow stanza only if v's Config.Escrow is set)
// and re-seals every record under the new key. It returns the new account
// record, the new personal key (show it to the user: the old one no longer
// opens the new account) and the re-sealed records, in order. Nothing is
// returned on error.
//
// This is what makes a purge final: once the caller has replaced the
// account and all its records, no older copy of an escrow stanza (in a
// backup or a replica) opens the new key or anything sealed under it. The
// new account still carries the old key, wrapped under the new one, for
// records not passed here; drop it once every record is resealed
// (vault.Vault.ResealInStore). It costs two KDF runs plus one open and one
// seal per record. Store the new account first: its older keys open the
// old records, so a crash between the writes loses nothing.
func RotateAccountKey(ctx context.Context, v *vault.Vault, userID string, account, password []byte, records []Record) ([]byte, vault.PersonalKey, []Record, error) {
	if v == nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: nil vault: %w", vault.ErrInvalidInput)
	}
	newAccount, pk, u, err := v.RotateAccountKey(ctx, userID, account, password)
	if err != nil {
		return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: %w", err)
	}
	defer u.Close()
	out := make([]Record, 0, len(records))
	for _, r := range records {
		pt, resealed, err := u.OpenReseal(r.Label, r.Sealed)
		clear(pt)
		if err != nil {
			pk.Destroy()
			return nil, vault.PersonalKey{}, nil, fmt.Errorf("escrow: rotate account key: record %q: %w", r.Label, err)
		}
		if resealed == nil {
			// Already under the new key (cannot happen for records of the
			// account passed in; kept as is).
			resealed = append([]byte(nil), r.Sealed...)
		}
		out = append(out, Record{Label: r.Label, Sealed: resealed})
	}
	return newAccount, pk, out, nil
}
