package shred_test

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// fakeDB is an in-memory database/sql driver that understands exactly the
// statements SQLKeyStore issues (and fails on anything else), so the
// store's SQL, placeholders, RowsAffected handling and sql.ErrNoRows
// mapping are exercised without a database server. A real PostgreSQL run
// is left to the integration suite.
type fakeDB struct {
	mu      sync.Mutex
	created bool
	rows    map[string][]byte
	log     []string
	failAll atomic.Bool
}

var (
	fakeDBs   sync.Map // name -> *fakeDB
	fakeSeq   atomic.Int64
	registerD sync.Once
)

type fakeDriver struct{}

func (fakeDriver) Open(name string) (driver.Conn, error) {
	db, ok := fakeDBs.Load(name)
	if !ok {
		return nil, fmt.Errorf("no fake db %q", name)
	}
	return &fakeConn{db: db.(*fakeDB)}, nil
}

type fakeConn struct{ db *fakeDB }

func (c *fakeConn) Prepare(q string) (driver.Stmt, error) { return &fakeStmt{db: c.db, q: q}, nil }
func (c *fakeConn) Close() error                          { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)             { return nil, errors.New("no transactions") }

type fakeStmt struct {
	db *fakeDB
	q  string
}

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return -1 }

var errFakeDown = errors.New("fake db: connection refused")

// match returns the statement kind and checks the exact SQL text.
func (s *fakeStmt) match(table string) string {
	q := s.q
	switch {
	case strings.HasPrefix(q, "CREATE TABLE IF NOT EXISTS "+table+" ("):
		return "create"
	case q == "INSERT INTO "+table+" (user_id, wrapped_key) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
		q == "INSERT INTO "+table+" (user_id, wrapped_key) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING":
		return "insert"
	case q == "SELECT wrapped_key FROM "+table+" WHERE user_id = $1", q == "SELECT wrapped_key FROM "+table+" WHERE user_id = ?":
		return "select"
	case q == "DELETE FROM "+table+" WHERE user_id = $1", q == "DELETE FROM "+table+" WHERE user_id = ?":
		return "delete"
	case q == "SELECT user_id, wrapped_key FROM "+table+" WHERE user_id > $1 ORDER BY user_id LIMIT $2",
		q == "SELECT user_id, wrapped_key FROM "+table+" WHERE user_id > ? ORDER BY user_id LIMIT ?":
		return "page"
	case q == "UPDATE "+table+" SET wrapped_key = $1 WHERE user_id = $2 AND wrapped_key = $3",
		q == "UPDATE "+table+" SET wrapped_key = ? WHERE user_id = ? AND wrapped_key = ?":
		return "update"
	}
	return ""
}

const fakeTable = "piivault_shred_keys"

func (s *fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	db := s.db
	if db.failAll.Load() {
		return nil, errFakeDown
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.log = append(db.log, s.q)
	switch s.match(fakeTable) {
	case "create":
		db.created = true
		return driver.RowsAffected(0), nil
	case "insert":
		if !db.created {
			return nil, errors.New("no such table")
		}
		uid, key := args[0].(string), args[1].([]byte)
		if _, ok := db.rows[uid]; ok {
			return driver.RowsAffected(0), nil
		}
		db.rows[uid] = append([]byte(nil), key...)
		return driver.RowsAffected(1), nil
	case "update":
		next, uid, old := args[0].([]byte), args[1].(string), args[2].([]byte)
		if cur, ok := db.rows[uid]; ok && bytes.Equal(cur, old) {
			db.rows[uid] = bytes.Clone(next)
			return driver.RowsAffected(1), nil
		}
		return driver.RowsAffected(0), nil
	case "delete":
		uid := args[0].(string)
		_, ok := db.rows[uid]
		delete(db.rows, uid)
		if ok {
			return driver.RowsAffected(1), nil
		}
		return driver.RowsAffected(0), nil
	}
	return nil, fmt.Errorf("fake db: unexpected exec %q", s.q)
}

func (s *fakeStmt) Query(args []driver.Value) (driver.Rows, error) {
	db := s.db
	if db.failAll.Load() {
		return nil, errFakeDown
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.log = append(db.log, s.q)
	switch s.match(fakeTable) {
	case "select":
		r := &fakeRows{cols: []string{"wrapped_key"}}
		if k, ok := db.rows[args[0].(string)]; ok {
			r.vals = [][]driver.Value{{bytes.Clone(k)}}
		}
		return r, nil
	case "page":
		cursor, limit := args[0].(string), int(args[1].(int64))
		ids := slices.Sorted(maps.Keys(db.rows))
		r := &fakeRows{cols: []string{"user_id", "wrapped_key"}}
		for _, id := range ids {
			if id > cursor && len(r.vals) < limit {
				r.vals = append(r.vals, []driver.Value{id, bytes.Clone(db.rows[id])})
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("fake db: unexpected query %q", s.q)
}

type fakeRows struct {
	cols []string
	vals [][]driver.Value
}

func (r *fakeRows) Columns() []string { return r.cols }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if len(r.vals) == 0 {
		return io.EOF
	}
	copy(dest, r.vals[0])
	r.vals = r.vals[1:]
	return nil
}

func openFakeDB(t *testing.T) (*sql.DB, *fakeDB) {
	registerD.Do(func() { sql.Register("piivault-fake", fakeDriver{}) })
	name := fmt.Sprintf("db%d", fakeSeq.Add(1))
	f := &fakeDB{rows: map[string][]byte{}}
	fakeDBs.Store(name, f)
	db, err := sql.Open("piivault-fake", name)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, f
}

func TestSQLKeyStoreImplementsTheKeyStoreContract(t *testing.T) {
	for _, d := range []shred.Dialect{shred.PostgreSQL, shred.SQLite} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			ctx := t.Context()
			db, f := openFakeDB(t)
			ks, err := shred.NewSQLKeyStore(db, d, fakeTable)
			require.NoError(t, err)
			require.NoError(t, ks.CreateTable(ctx))
			_, err = ks.Get(ctx, jane)
			require.ErrorIs(t, err, shred.ErrNoKey)
			require.NoError(t, ks.Put(ctx, jane, []byte("wrapped-1")))
			require.ErrorIs(t, ks.Put(ctx, jane, []byte("wrapped-2")), shred.ErrExists)
			got, err := ks.Get(ctx, jane)
			require.NoError(t, err)
			require.Equal(t, "wrapped-1", string(got), "Put never overwrites")
			require.NoError(t, ks.Delete(ctx, jane))
			require.NoError(t, ks.Delete(ctx, jane), "idempotent")
			_, err = ks.Get(ctx, jane)
			require.ErrorIs(t, err, shred.ErrNoKey)

			f.failAll.Store(true)
			_, err = ks.Get(ctx, jane)
			require.ErrorIs(t, err, errFakeDown)
			require.NotErrorIs(t, err, shred.ErrNoKey, "a database failure is not a shredded user")
			require.ErrorIs(t, ks.Put(ctx, jane, []byte("x")), errFakeDown)
			require.ErrorIs(t, ks.Delete(ctx, jane), errFakeDown)
		})
	}
}

func TestSQLKeyStoreUnderTheLayerShredsThroughBackups(t *testing.T) {
	ctx := t.Context()
	db, f := openFakeDB(t)
	ks, err := shred.NewSQLKeyStore(db, shred.PostgreSQL, fakeTable)
	require.NoError(t, err)
	require.NoError(t, ks.CreateTable(ctx))
	l, err := shred.New(shred.Config{Keys: ks, Keyring: newKeyring(t, newFakeKMS(t))})
	require.NoError(t, err)
	main := vault.NewMemStore()
	s := l.Store(main)
	v := newVault(t, vault.Config{})
	_, err = v.EnrollInStore(ctx, s, jane, []byte("pw"))
	require.NoError(t, err)
	u, err := v.UnlockInStore(ctx, s, jane, []byte("pw"))
	require.NoError(t, err)
	u.Close()
	backup := backupAccounts(t, main, jane)
	require.NoError(t, s.Shred(ctx, jane))
	require.Empty(t, f.rows)
	_, err = v.UnlockInStore(ctx, l.Store(restoreAccounts(t, backup)), jane, []byte("pw"))
	require.ErrorIs(t, err, vault.ErrWrongSecret)
	_, _, err = l.Store(restoreAccounts(t, backup)).Get(ctx, jane)
	require.ErrorIs(t, err, shred.ErrShredded)
	// The failure of the key database is not mistaken for a shred.
	f.failAll.Store(true)
	_, err = v.UnlockInStore(ctx, l.Store(restoreAccounts(t, backup)), jane, []byte("pw"))
	require.ErrorIs(t, err, errFakeDown)
	require.NotErrorIs(t, err, shred.ErrShredded)
}

func TestSQLKeyStoreRefusesUnsafeTableNames(t *testing.T) {
	db, _ := openFakeDB(t)
	for _, name := range []string{"", "keys; DROP TABLE users", "Keys", "1keys", "k-eys", strings.Repeat("k", 64)} {
		_, err := shred.NewSQLKeyStore(db, shred.PostgreSQL, name)
		require.ErrorIs(t, err, shred.ErrInvalidInput, "%q", name)
	}
	_, err := shred.NewSQLKeyStore(nil, shred.PostgreSQL, "k")
	require.ErrorIs(t, err, shred.ErrInvalidInput)
	_, err = shred.NewSQLKeyStore(db, shred.Dialect(9), "k")
	require.ErrorIs(t, err, shred.ErrInvalidInput)
}

func TestSQLSchemaNamesBothColumns(t *testing.T) {
	db, _ := openFakeDB(t)
	for _, d := range []shred.Dialect{shred.PostgreSQL, shred.SQLite} {
		ks, err := shred.NewSQLKeyStore(db, d, fakeTable)
		require.NoError(t, err)
		require.Contains(t, ks.Schema(), "user_id")
		require.Contains(t, ks.Schema(), "wrapped_key")
		require.Contains(t, ks.Schema(), "PRIMARY KEY")
	}
}

func TestRotateRewrapsTheKeyTableUnderTheNewDataKey(t *testing.T) {
	ctx := t.Context()
	kms := newFakeKMS(t)
	oldKey, err := serverkey.GenerateDataKey(ctx, kms, "shred-2026-05", nil)
	require.NoError(t, err)
	newKey, err := serverkey.GenerateDataKey(ctx, kms, "shred-2026-11", nil)
	require.NoError(t, err)
	ring := func(cur serverkey.WrappedKey, older ...serverkey.WrappedKey) *serverkey.Keyring {
		kr, err := serverkey.New(serverkey.Config{KEK: kms, Current: cur, Older: older})
		require.NoError(t, err)
		t.Cleanup(kr.Close)
		return kr
	}
	sqlStore := func(d shred.Dialect) *shred.SQLKeyStore {
		db, _ := openFakeDB(t)
		ks, err := shred.NewSQLKeyStore(db, d, fakeTable)
		require.NoError(t, err)
		require.NoError(t, ks.CreateTable(ctx))
		return ks
	}
	for name, keys := range map[string]interface {
		shred.KeyStore
		serverkey.AttributeStore
	}{"memory": shred.NewMemKeyStore(), "postgresql": sqlStore(shred.PostgreSQL), "sqlite": sqlStore(shred.SQLite)} {
		t.Run(name, func(t *testing.T) {
			before, err := shred.New(shred.Config{Keys: keys, Keyring: ring(oldKey)})
			require.NoError(t, err)
			layered := map[string][]byte{}
			for i := range 25 {
				uid := fmt.Sprintf("user-%s-%02d", name, i)
				layered[uid], err = before.Wrap(ctx, uid, []byte("account of "+uid))
				require.NoError(t, err)
			}
			both := ring(newKey, oldKey)
			p, err := serverkey.Rotate(ctx, both, keys, serverkey.RotateOptions{PageSize: 10})
			require.NoError(t, err)
			require.Equal(t, 25, p.Rotated)
			after, err := shred.New(shred.Config{Keys: keys, Keyring: ring(newKey)})
			require.NoError(t, err)
			for uid, b := range layered {
				got, err := after.Unwrap(ctx, uid, b)
				require.NoError(t, err, "opens with the new data key alone")
				require.Equal(t, "account of "+uid, string(got))
			}
			// A row shredded during the rotation stays shredded.
			require.NoError(t, after.Shred(ctx, fmt.Sprintf("user-%s-00", name)))
			old, err := keys.Get(ctx, fmt.Sprintf("user-%s-01", name))
			require.NoError(t, err)
			require.ErrorIs(t, keys.Replace(ctx, fmt.Sprintf("user-%s-00", name), shred.KeyAttribute, old, old), serverkey.ErrConflict)
			require.ErrorIs(t, keys.Replace(ctx, fmt.Sprintf("user-%s-01", name), "email", old, old), shred.ErrInvalidInput)
		})
	}
}
