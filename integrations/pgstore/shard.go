package pgstore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/piivault/piivault/vault"
)

// MaxShards bounds Shard.Count.
const MaxShards = 1 << 16

// Shard is part Index of Count (0 <= Index < Count) of the accounts, by a
// stable hash of the user id: the first 8 bytes of SHA-256(user id), read
// as a big-endian unsigned integer, modulo Count. Every account is in
// exactly one shard of a given Count, whatever the table's contents or
// order, so n workers on n machines, each given one shard, split a bulk job
// with no overlap and no gap. The zero Shard (and any Count of 1) is the
// whole table.
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" (0 <= i < n <= MaxShards); "" is the whole table.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	sh := Shard{Index: i, Count: n}
	if !ok || err1 != nil || err2 != nil || sh.check() != nil || n == 0 {
		return Shard{}, fmt.Errorf("pgstore: %w: shard %q: want i/n with 0 <= i < n <= %d", vault.ErrInvalidInput, s, MaxShards)
	}
	return sh, nil
}

// String returns "i/n" ("0/1" for the whole table).
func (sh Shard) String() string {
	if sh.Count <= 1 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", sh.Index, sh.Count)
}

func (sh Shard) check() error {
	if sh == (Shard{}) {
		return nil
	}
	if sh.Count < 1 || sh.Count > MaxShards || sh.Index < 0 || sh.Index >= sh.Count {
		return fmt.Errorf("pgstore: %w: shard %d/%d", vault.ErrInvalidInput, sh.Index, sh.Count)
	}
	return nil
}

// Hash is the shard hash of userID: the first 8 bytes of SHA-256(userID),
// big-endian.
func Hash(userID string) uint64 {
	sum := sha256.Sum256([]byte(userID))
	return binary.BigEndian.Uint64(sum[:8])
}

// Has reports whether userID is in the shard.
func (sh Shard) Has(userID string) bool {
	if sh.Count <= 1 {
		return true
	}
	return Hash(userID)%uint64(sh.Count) == uint64(sh.Index)
}

// shardSQL is Shard.Has in SQL on the user_id column, with the count and
// index as parameters $nArg and $iArg.
func shardSQL(nArg, iArg int) string { return ShardCondition("user_id", nArg, iArg) }

// ShardCondition is Shard.Has as an SQL condition on column (a text column
// of user ids; the caller's identifier, written into the SQL as is), with
// the shard count and index as parameters $nArg and $iArg (bigint): the
// first 8 bytes of SHA-256 of the UTF-8 user id, read as a signed bigint,
// brought to the unsigned value in numeric, modulo the count. Other tables
// keyed by user id (shred's key table) shard the same way with it.
func ShardCondition(column string, nArg, iArg int) string {
	return fmt.Sprintf(`mod(mod((('x' || encode(substr(sha256(convert_to(%s, 'UTF8')), 1, 8), 'hex'))::bit(64)::bigint)::numeric
		+ 18446744073709551616, 18446744073709551616), $%d::bigint) = $%d::bigint`, column, nArg, iArg)
}
