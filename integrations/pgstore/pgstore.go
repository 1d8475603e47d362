// Package pgstore is a vault.Store (and escrow.Store) on PostgreSQL, with
// pgx's connection pool.
//
// Each account is one row of the table piivault_accounts (user_id, account,
// version, updated_at); Store is also a vault.RecordStore, each sealed
// record one row of piivault_records (user_id, label, sealed, version,
// updated_at), so that vault.ResealInStore runs on the same database. Compare-and-swap is one statement per write: an
// INSERT ... ON CONFLICT DO NOTHING for a new account (expectVersion 0) and
// an UPDATE ... WHERE version = expectVersion otherwise, each drawing the
// new version from a sequence, so that a version is never 0 and never
// reused (not even after a delete and a re-create). PostgreSQL row locks
// make two concurrent writes on one row serialise: the second re-checks
// the version after the first commits and writes nothing.
//
// The schema is in migrations/*.sql (embedded): Migrate applies the ones
// not applied yet, in order, under an advisory lock, recording each in
// piivault_schema_migrations. A DBA may apply the same files by hand
// instead (and insert the version rows).
//
// Every call takes a context: cancelling it cancels the query. A deleted
// row's bytes stay in the table's pages until VACUUM, and in the WAL and
// backups: shredding that reaches backups is the shred package's job.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/piivault/piivault/vault"
)

// MaxAccountSize bounds a stored account record (the table's CHECK says
// the same); far above the longest envelope header.
const MaxAccountSize = 1 << 20

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a vault.Store on a PostgreSQL pool; safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	own  bool
}

var _ vault.Store = (*Store)(nil)

// New returns a Store on pool; Close does not close pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Open connects to dsn (a PostgreSQL URL or key=value string; pool
// settings such as pool_max_conns may go in it) and checks the connection.
// Close closes the pool.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN (a password); keep only a
		// fixed text.
		return nil, errors.New("pgstore: invalid DSN")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	return &Store{pool: pool, own: true}, nil
}

// Pool returns the Store's pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool if Open made it.
func (s *Store) Close() {
	if s.own {
		s.pool.Close()
	}
}

func checkUserID(userID string) error {
	if userID == "" || len(userID) > vault.MaxUserIDLen {
		return fmt.Errorf("pgstore: %w: user id must be 1 to %d bytes", vault.ErrInvalidInput, vault.MaxUserIDLen)
	}
	return nil
}

// Get implements vault.Store.
func (s *Store) Get(ctx context.Context, userID string) ([]byte, uint64, error) {
	if err := checkUserID(userID); err != nil {
		return nil, 0, err
	}
	var (
		account []byte
		version int64
	)
	err := s.pool.QueryRow(ctx, `SELECT account, version FROM piivault_accounts WHERE user_id = $1`, userID).Scan(&account, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("pgstore: get: %w", vault.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("pgstore: get: %w", err)
	}
	return account, uint64(version), nil
}

// Put implements vault.Store: an insert when expectVersion is 0, otherwise
// an update of the row holding expectVersion; no row written is
// vault.ErrConflict.
func (s *Store) Put(ctx context.Context, userID string, account []byte, expectVersion uint64) (uint64, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	if len(account) == 0 || len(account) > MaxAccountSize {
		return 0, fmt.Errorf("pgstore: %w: account record must be 1 to %d bytes", vault.ErrInvalidInput, MaxAccountSize)
	}
	if expectVersion > 1<<63-1 {
		return 0, fmt.Errorf("pgstore: put: %w", vault.ErrConflict) // no stored version is that large
	}
	var (
		row     pgx.Row
		version int64
	)
	if expectVersion == 0 {
		row = s.pool.QueryRow(ctx, `INSERT INTO piivault_accounts (user_id, account, version)
			VALUES ($1, $2, nextval('piivault_account_version'))
			ON CONFLICT (user_id) DO NOTHING RETURNING version`, userID, account)
	} else {
		row = s.pool.QueryRow(ctx, `UPDATE piivault_accounts
			SET account = $2, version = nextval('piivault_account_version'), updated_at = now()
			WHERE user_id = $1 AND version = $3 RETURNING version`, userID, account, int64(expectVersion))
	}
	err := row.Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: put: %w", vault.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: put: %w", err)
	}
	return uint64(version), nil
}

// Delete implements vault.Store. One statement deletes the row if it holds
// expectVersion and tells, from the same snapshot, whether the row existed.
func (s *Store) Delete(ctx context.Context, userID string, expectVersion uint64) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if expectVersion == 0 || expectVersion > 1<<63-1 {
		expectVersion = 0 // matches no row
	}
	var deleted, existed bool
	err := s.pool.QueryRow(ctx, `WITH d AS (
			DELETE FROM piivault_accounts WHERE user_id = $1 AND version = $2 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM piivault_accounts WHERE user_id = $1)`,
		userID, int64(expectVersion)).Scan(&deleted, &existed)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: delete: %w", err)
	case deleted:
		return nil
	case existed:
		return fmt.Errorf("pgstore: delete: %w", vault.ErrConflict)
	}
	return fmt.Errorf("pgstore: delete: %w", vault.ErrNotFound)
}

// MaxPage bounds UserIDs' limit.
const MaxPage = 10000

// UserIDs returns up to limit user ids of shard (the zero Shard is the whole
// table) that sort after after (bytewise; "" is the start), in order: page
// through the table by passing the last id returned, until a page comes back
// short. The shard is computed in SQL (see Shard) so that n workers read
// disjoint pages.
func (s *Store) UserIDs(ctx context.Context, shard Shard, after string, limit int) ([]string, error) {
	if limit < 1 || limit > MaxPage {
		return nil, fmt.Errorf("pgstore: %w: limit must be 1 to %d", vault.ErrInvalidInput, MaxPage)
	}
	if err := shard.check(); err != nil {
		return nil, err
	}
	q := `SELECT user_id FROM piivault_accounts WHERE user_id > $1`
	args := []any{after, limit}
	if shard.Count > 1 {
		q += ` AND ` + shardSQL(3, 4)
		args = append(args, int64(shard.Count), int64(shard.Index))
	}
	q += ` ORDER BY user_id LIMIT $2`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return ids, nil
}

// Count returns the number of accounts of shard (the zero Shard: all)
// whose user id sorts after after ("": all).
func (s *Store) Count(ctx context.Context, shard Shard, after string) (int, error) {
	if err := shard.check(); err != nil {
		return 0, err
	}
	q := `SELECT count(*) FROM piivault_accounts WHERE user_id > $1`
	args := []any{after}
	if shard.Count > 1 {
		q += ` AND ` + shardSQL(2, 3)
		args = append(args, int64(shard.Count), int64(shard.Index))
	}
	var n int64
	if err := s.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count: %w", err)
	}
	return int(n), nil
}

// Migration is one schema step from migrations/.
type Migration struct {
	Version int    // from the file name's leading number
	Name    string // the file name
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() []Migration {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	var out []Migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("pgstore: migration without a number: " + e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out
}

// migrateLock is the advisory lock key Migrate holds (any fixed number).
const migrateLock = 0x70696976 // "piiv"

// Migrate applies the embedded migrations not applied yet, each in its own
// transaction with its version row, under a transaction-level advisory lock
// so that concurrent callers apply each once. It returns the versions it
// applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	var applied []int
	for _, m := range Migrations() {
		did, err := s.applyOne(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("pgstore: migrate %s: %w", m.Name, err)
		}
		if did {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

func (s *Store) applyOne(ctx context.Context, m Migration) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit: no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS piivault_schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, err
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM piivault_schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO piivault_schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}
