package shred

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/piivault/piivault/serverkey"
)

// Dialect selects the SQL a SQLKeyStore writes.
type Dialect int

const (
	// PostgreSQL: $1 placeholders, BYTEA, INSERT ... ON CONFLICT DO NOTHING.
	PostgreSQL Dialect = iota
	// SQLite (3.24 or later): ? placeholders, BLOB, the same upsert clause.
	SQLite
)

// SQLKeyStore is a KeyStore on any database/sql driver the caller opens
// (the core module imports no driver). Give it a database of its own, or
// at least a table outside the backups of the account records, and keep
// its backups briefly: a shred is final once the last backup holding the
// deleted row has expired.
//
// Its table has two columns, user_id (text, primary key) and wrapped_key
// (bytes: a serverkey ciphertext of the user key); Schema returns the
// statement that creates it. Put is one INSERT ... ON CONFLICT DO NOTHING
// (ErrExists when no row was inserted), Get one SELECT by primary key,
// Delete one DELETE by primary key; Page and Replace let serverkey.Rotate
// re-wrap the keys (see Page).
type SQLKeyStore struct {
	db                *sql.DB
	dialect           Dialect
	table             string
	put, get, del     string
	page, replace     string
	createTableString string
}

// Schema returns the CREATE TABLE statement of a key table named table in
// dialect d, for a migration tool; NewSQLKeyStore's Schema returns the
// same.
func Schema(d Dialect, table string) (string, error) {
	s, err := newSQLKeyStore(nil, d, table)
	if err != nil {
		return "", err
	}
	return s.createTableString, nil
}

// NewSQLKeyStore returns a KeyStore over table in db. table must be 1 to
// 63 bytes of [a-z0-9_], not starting with a digit (it is written into the
// SQL as is).
func NewSQLKeyStore(db *sql.DB, d Dialect, table string) (*SQLKeyStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil *sql.DB", ErrInvalidInput)
	}
	return newSQLKeyStore(db, d, table)
}

func newSQLKeyStore(db *sql.DB, d Dialect, table string) (*SQLKeyStore, error) {
	if !validTable(table) {
		return nil, fmt.Errorf("%w: table name %q", ErrInvalidInput, table)
	}
	s := &SQLKeyStore{db: db, dialect: d, table: table}
	switch d {
	case PostgreSQL:
		s.put = "INSERT INTO " + table + " (user_id, wrapped_key) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING"
		s.get = "SELECT wrapped_key FROM " + table + " WHERE user_id = $1"
		s.del = "DELETE FROM " + table + " WHERE user_id = $1"
		s.page = "SELECT user_id, wrapped_key FROM " + table + " WHERE user_id > $1 ORDER BY user_id LIMIT $2"
		s.replace = "UPDATE " + table + " SET wrapped_key = $1 WHERE user_id = $2 AND wrapped_key = $3"
		s.createTableString = "CREATE TABLE IF NOT EXISTS " + table + " (\n\tuser_id     TEXT  PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 255),\n\twrapped_key BYTEA NOT NULL\n)"
	case SQLite:
		s.put = "INSERT INTO " + table + " (user_id, wrapped_key) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING"
		s.get = "SELECT wrapped_key FROM " + table + " WHERE user_id = ?"
		s.del = "DELETE FROM " + table + " WHERE user_id = ?"
		s.page = "SELECT user_id, wrapped_key FROM " + table + " WHERE user_id > ? ORDER BY user_id LIMIT ?"
		s.replace = "UPDATE " + table + " SET wrapped_key = ? WHERE user_id = ? AND wrapped_key = ?"
		s.createTableString = "CREATE TABLE IF NOT EXISTS " + table + " (\n\tuser_id     TEXT NOT NULL PRIMARY KEY,\n\twrapped_key BLOB NOT NULL\n)"
	default:
		return nil, fmt.Errorf("%w: unknown dialect %d", ErrInvalidInput, d)
	}
	return s, nil
}

func validTable(t string) bool {
	if len(t) == 0 || len(t) > 63 || (t[0] >= '0' && t[0] <= '9') {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Schema returns the CREATE TABLE statement of the store's table.
func (s *SQLKeyStore) Schema() string { return s.createTableString }

// CreateTable runs Schema.
func (s *SQLKeyStore) CreateTable(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.createTableString); err != nil {
		return fmt.Errorf("shred: create table %s: %w", s.table, err)
	}
	return nil
}

// Put implements KeyStore.
func (s *SQLKeyStore) Put(ctx context.Context, userID string, wrapped []byte) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.put, userID, wrapped)
	if err != nil {
		return fmt.Errorf("shred: sql put: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("shred: sql put: %w", err)
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Get implements KeyStore.
func (s *SQLKeyStore) Get(ctx context.Context, userID string) ([]byte, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	var k []byte
	switch err := s.db.QueryRowContext(ctx, s.get, userID).Scan(&k); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNoKey
	case err != nil:
		return nil, fmt.Errorf("shred: sql get: %w", err)
	}
	if len(k) == 0 {
		return nil, fmt.Errorf("%w: empty wrapped key", ErrMalformed)
	}
	return k, nil
}

// Page implements serverkey.AttributeStore over the table (rows in
// user_id order, each an Attribute named KeyAttribute), so that
// serverkey.Rotate re-wraps every user key under the current data key:
// one SELECT per page.
func (s *SQLKeyStore) Page(ctx context.Context, cursor string, limit int) ([]serverkey.Attribute, string, error) {
	rows, err := s.db.QueryContext(ctx, s.page, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("shred: sql page: %w", err)
	}
	defer rows.Close()
	var out []serverkey.Attribute
	for rows.Next() {
		a := serverkey.Attribute{Name: KeyAttribute}
		if err := rows.Scan(&a.UserID, &a.Ciphertext); err != nil {
			return nil, "", fmt.Errorf("shred: sql page: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("shred: sql page: %w", err)
	}
	if len(out) == 0 {
		return nil, cursor, nil
	}
	return out, out[len(out)-1].UserID, nil
}

// Replace implements serverkey.AttributeStore: one UPDATE ... WHERE
// user_id = ? AND wrapped_key = old; no row updated (changed or shredded
// meanwhile) is serverkey.ErrConflict.
func (s *SQLKeyStore) Replace(ctx context.Context, userID, name string, old, next []byte) error {
	if name != KeyAttribute {
		return fmt.Errorf("%w: attribute %q is not %q", ErrInvalidInput, name, KeyAttribute)
	}
	res, err := s.db.ExecContext(ctx, s.replace, next, userID, old)
	if err != nil {
		return fmt.Errorf("shred: sql replace: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("shred: sql replace: %w", err)
	}
	if n == 0 {
		return serverkey.ErrConflict
	}
	return nil
}

var _ serverkey.AttributeStore = (*SQLKeyStore)(nil)

// Delete implements KeyStore.
func (s *SQLKeyStore) Delete(ctx context.Context, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.del, userID); err != nil {
		return fmt.Errorf("shred: sql delete: %w", err)
	}
	return nil
}
