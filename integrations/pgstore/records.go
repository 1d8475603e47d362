package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/vault"
)

// MaxRecordBytes bounds a stored sealed record: the largest record the
// envelope package writes (envelope.MaxRecordSize of plaintext plus the
// version-1 overhead, the larger one). The table's CHECK allows a little
// more (16 MiB + 128 bytes), so that it need not change with the overhead.
const MaxRecordBytes = envelope.MaxRecordSize + envelope.RecordOverheadV1

var _ vault.RecordStore = (*Store)(nil)

func checkLabel(label string) error {
	if label == "" || len(label) > vault.MaxLabelLen {
		return fmt.Errorf("pgstore: %w: label must be 1 to %d bytes", vault.ErrInvalidInput, vault.MaxLabelLen)
	}
	return nil
}

// Labels implements vault.RecordStore: userID's labels, sorted bytewise.
func (s *Store) Labels(ctx context.Context, userID string) ([]string, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT label FROM piivault_records WHERE user_id = $1 ORDER BY label`, userID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: labels: %w", err)
	}
	labels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: labels: %w", err)
	}
	return labels, nil
}

// GetRecord implements vault.RecordStore.
func (s *Store) GetRecord(ctx context.Context, userID, label string) ([]byte, uint64, error) {
	if err := checkUserID(userID); err != nil {
		return nil, 0, err
	}
	if err := checkLabel(label); err != nil {
		return nil, 0, err
	}
	var (
		sealed  []byte
		version int64
	)
	err := s.pool.QueryRow(ctx, `SELECT sealed, version FROM piivault_records WHERE user_id = $1 AND label = $2`, userID, label).Scan(&sealed, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("pgstore: get record: %w", vault.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("pgstore: get record: %w", err)
	}
	return sealed, uint64(version), nil
}

// PutRecord implements vault.RecordStore with the compare-and-swap of Put.
func (s *Store) PutRecord(ctx context.Context, userID, label string, sealed []byte, expectVersion uint64) (uint64, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	if err := checkLabel(label); err != nil {
		return 0, err
	}
	if len(sealed) == 0 || len(sealed) > MaxRecordBytes {
		return 0, fmt.Errorf("pgstore: %w: sealed record must be 1 to %d bytes", vault.ErrInvalidInput, MaxRecordBytes)
	}
	if expectVersion > 1<<63-1 {
		return 0, fmt.Errorf("pgstore: put record: %w", vault.ErrConflict)
	}
	var row pgx.Row
	if expectVersion == 0 {
		row = s.pool.QueryRow(ctx, `INSERT INTO piivault_records (user_id, label, sealed, version)
			VALUES ($1, $2, $3, nextval('piivault_account_version'))
			ON CONFLICT (user_id, label) DO NOTHING RETURNING version`, userID, label, sealed)
	} else {
		row = s.pool.QueryRow(ctx, `UPDATE piivault_records
			SET sealed = $3, version = nextval('piivault_account_version'), updated_at = now()
			WHERE user_id = $1 AND label = $2 AND version = $4 RETURNING version`, userID, label, sealed, int64(expectVersion))
	}
	var version int64
	err := row.Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: put record: %w", vault.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: put record: %w", err)
	}
	return uint64(version), nil
}
