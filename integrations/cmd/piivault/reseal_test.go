package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/piivault/piivault/integrations/internal/itest"
	"github.com/piivault/piivault/integrations/pgstore"
	"github.com/piivault/piivault/integrations/pgstore/pgtest"
	"github.com/piivault/piivault/integrations/pkcs11hsm"
	"github.com/piivault/piivault/serverkey"
	"github.com/piivault/piivault/shred"
	"github.com/piivault/piivault/vault"
)

// useCLIToken points this process and the commands it runs at the token
// directory .ci/integration.sh made for these tests, apart from the one the
// pkcs11hsm tests use at the same time (SoftHSM2 serves a token to one
// process at a time).
func useCLIToken(t *testing.T) {
	t.Helper()
	t.Setenv("SOFTHSM2_CONF", itest.Env(t, "PIIVAULT_CLI_SOFTHSM2_CONF"))
}

// hsmKEK opens the token's AES key (the key-encrypting key) for the test's
// own use. SoftHSM2 (file object store) shows its token to one process at
// a time: close it before running the command.
func hsmKEK(t *testing.T) (*pkcs11hsm.KWPAEAD, func()) {
	t.Helper()
	module := itest.Env(t, "PIIVAULT_PKCS11_MODULE")
	useCLIToken(t)
	tok, err := pkcs11hsm.Open(module, itest.Env(t, "PIIVAULT_PKCS11_TOKEN"), itest.Env(t, "PIIVAULT_PKCS11_PIN"))
	require.NoError(t, err)
	kek, err := tok.KWPAEAD(itest.Env(t, "PIIVAULT_PKCS11_AES_LABEL"))
	require.NoError(t, err)
	return kek, func() { tok.Close() }
}

func TestResealRewrapsShredKeysUnderTheNewDataKeyOnceAcrossShards(t *testing.T) {
	ctx := t.Context()
	kek, closeKEK := hsmKEK(t)
	dir := t.TempDir()
	dataKey := func(id string) (serverkey.WrappedKey, string) {
		wk, err := serverkey.GenerateDataKey(ctx, kek, id, nil)
		require.NoError(t, err)
		path := filepath.Join(dir, id+".wrapped")
		require.NoError(t, os.WriteFile(path, wk.Wrapped, 0o600))
		return wk, path
	}
	oldDK, oldPath := dataKey("dk-2026-05")
	newDK, newPath := dataKey("dk-2026-11")
	ring := func(cur serverkey.WrappedKey, older ...serverkey.WrappedKey) *serverkey.Keyring {
		kr, err := serverkey.New(serverkey.Config{KEK: kek, Current: cur, Older: older})
		require.NoError(t, err)
		t.Cleanup(kr.Close)
		return kr
	}

	dsn := pgtest.DSN(t)
	accounts, err := pgstore.Open(ctx, dsn)
	require.NoError(t, err)
	defer accounts.Close()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	keys, err := shred.NewSQLKeyStore(db, shred.PostgreSQL, "piivault_shred_keys")
	require.NoError(t, err)
	require.NoError(t, keys.CreateTable(ctx))
	layer, err := shred.New(shred.Config{Keys: keys, Keyring: ring(oldDK)})
	require.NoError(t, err)
	v, err := vault.New(vault.Config{Policy: itest.Policy()})
	require.NoError(t, err)
	var ids []string
	for i := range 24 {
		uid := fmt.Sprintf("user-%03d", i)
		ids = append(ids, uid)
		_, err := v.EnrollInStore(ctx, layer.Store(accounts), uid, []byte("pw"))
		require.NoError(t, err)
	}
	closeKEK()
	args := func(extra ...string) []string {
		return append([]string{"reseal", "-dsn", dsn, "-kek-pkcs11", itest.Env(t, "PIIVAULT_PKCS11_AES_LABEL"),
			"-current", "dk-2026-11=" + newPath, "-older", "dk-2026-05=" + oldPath,
			"-actor", "agent-7", "-reason", "ticket-1234", "-batch", "5"}, extra...)
	}

	r := runBin(t, nil, nil, args("-dry-run")...)
	require.Equal(t, 0, r.code, r.stderr)
	byUser, sum := records(t, r.stdout)
	require.Len(t, byUser, len(ids))
	for _, uid := range ids {
		require.Equal(t, []string{resultWouldReseal}, byUser[uid])
	}
	require.Equal(t, float64(len(ids)), sum["would_reseal"])

	// The shards run one after the other here (SoftHSM2 serves one
	// process at a time); TestEscrowRotateShardsRunConcurrentlyDoEveryAccountOnce
	// runs shards concurrently on one database.
	const n = 2
	outs := make([]result, n)
	for i := range n {
		outs[i] = runBin(t, nil, nil, args("-shard", fmt.Sprintf("%d/%d", i, n))...)
	}
	seen := map[string]int{}
	for i, r := range outs {
		require.Equal(t, 0, r.code, r.stderr)
		byUser, sum := records(t, r.stdout)
		require.Equal(t, true, sum["complete"])
		for uid, res := range byUser {
			require.Equal(t, []string{resultResealed}, res, "shard %d %s", i, uid)
			require.True(t, pgstore.Shard{Index: i, Count: n}.Has(uid))
			seen[uid]++
		}
	}
	require.Len(t, seen, len(ids))
	for uid, c := range seen {
		require.Equal(t, 1, c, "key of %s resealed by %d shards", uid, c)
	}

	// The old data key can go: every user opens under the new one alone.
	kek, closeKEK = hsmKEK(t)
	newOnly, err := shred.New(shred.Config{Keys: keys, Keyring: ring(newDK)})
	require.NoError(t, err)
	for _, uid := range ids {
		u, err := v.UnlockInStore(ctx, newOnly.Store(accounts), uid, []byte("pw"))
		require.NoError(t, err, uid)
		u.Close()
	}
	closeKEK()
	r = runBin(t, nil, nil, args()...)
	require.Equal(t, 0, r.code, r.stderr)
	_, sum = records(t, r.stdout)
	require.Equal(t, float64(len(ids)), sum["current"], "a second run finds every key current")
	require.Equal(t, float64(0), sum["resealed"])
}
