#!/usr/bin/env bash
# Integration tests of the escrow adapters against real components:
# SoftHSM2 (PKCS#11) in a private temporary token directory, and moto's
# AWS KMS API server on loopback. Installs what is missing (Debian), starts
# both, runs `go test` in the integrations module with the env vars that
# enable every test, and stops what it started (by PID). Any component that
# cannot start fails the run: nothing is skipped silently.
#
# Also PostgreSQL (Debian's postgresql): a throw-away cluster initialised
# in a temporary directory, listening on 127.0.0.1 on a free port (as the
# postgres user when run as root), for integrations/pgstore and the CLI.
#
# Run locally: bash .ci/integration.sh   (needs apt-get or preinstalled
# softhsm2 + opensc + postgresql, and python3 with moto[server]).
set -euo pipefail

say() { printf '+ %s\n' "$*" >&2; }
run() { say "$*"; "$@"; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

# --- packages -----------------------------------------------------------
if ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
	run $SUDO apt-get update -qq
	run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 opensc >/dev/null
fi
MODULE="${PIIVAULT_PKCS11_MODULE:-}"
if [ -z "$MODULE" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		if [ -f "$m" ]; then MODULE="$m"; break; fi
	done
fi
[ -n "$MODULE" ] && [ -f "$MODULE" ] || { echo "FAIL: libsofthsm2.so not found" >&2; exit 1; }

if ! MOTO_VERSION="$(python3 -c 'import moto, moto.server; print(moto.__version__)' 2>/dev/null)"; then
	echo "FAIL: python3 module moto (with moto.server) is missing; install moto[server] (e.g. pip install 'moto[server]')" >&2
	exit 1
fi
say "moto $MOTO_VERSION, softhsm module $MODULE"

# --- SoftHSM2 token in a private directory ------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/piivault-integration.XXXXXX")"
MOTO_PID=""
PG_PID=""
PG_DIR=""
cleanup() {
	if [ -n "$PG_PID" ]; then
		say "kill $PG_PID (postgres)"
		kill -INT "$PG_PID" 2>/dev/null || true # fast shutdown
		for _ in $(seq 1 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PG_PID" 2>/dev/null || true
	fi
	if [ -n "$PG_DIR" ]; then rm -rf "$PG_DIR"; fi
	if [ -n "$MOTO_PID" ]; then
		say "kill $MOTO_PID (moto)"
		kill "$MOTO_PID" 2>/dev/null || true
		wait "$MOTO_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/tokens" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
TOKEN=piivault-test
PIN=123456
SO_PIN=12345678
run softhsm2-util --init-token --free --label "$TOKEN" --pin "$PIN" --so-pin "$SO_PIN" >/dev/null
P11=(pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login --pin "$PIN")
run "${P11[@]}" --keypairgen --key-type EC:prime256v1 --usage-derive --label escrow-ec --id 01 >/dev/null
run "${P11[@]}" --keygen --key-type AES:32 --usage-wrap --label escrow-aes --id 02 >/dev/null
run "${P11[@]}" --keypairgen --key-type rsa:2048 --usage-decrypt --label escrow-rsa --id 03 >/dev/null
# disclosure: the identity provider's ECDSA P-256 signing key (vault/disclosure, pkcs11hsm.ECDSASigner)
run "${P11[@]}" --keypairgen --key-type EC:prime256v1 --usage-sign --label disclosure-sign --id 04 >/dev/null
run "${P11[@]}" --list-objects >/dev/null

# --- a second SoftHSM2 token directory, for cmd/piivault's tests --------
# SoftHSM2's file store serves a token to one process at a time: the CLI's
# tests (which run the built binary while the pkcs11hsm tests run in
# parallel) get a token directory of their own, same labels and PIN.
mkdir -p "$WORK/tokens-cli"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/tokens-cli" >"$WORK/softhsm2-cli.conf"
SOFTHSM2_CONF="$WORK/softhsm2-cli.conf" run softhsm2-util --init-token --free --label "$TOKEN" --pin "$PIN" --so-pin "$SO_PIN" >/dev/null
SOFTHSM2_CONF="$WORK/softhsm2-cli.conf" run "${P11[@]}" --keypairgen --key-type EC:prime256v1 --usage-derive --label escrow-ec --id 01 >/dev/null
SOFTHSM2_CONF="$WORK/softhsm2-cli.conf" run "${P11[@]}" --keygen --key-type AES:32 --usage-wrap --label escrow-aes --id 02 >/dev/null
export PIIVAULT_CLI_SOFTHSM2_CONF="$WORK/softhsm2-cli.conf"

# --- PostgreSQL ---------------------------------------------------------
pg_bindir() {
	if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
PG_BIN="$(pg_bindir)"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
	run $SUDO apt-get update -qq
	run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	PG_BIN="$(pg_bindir)"
fi
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || { echo "FAIL: PostgreSQL (initdb, pg_ctl) not found" >&2; exit 1; }
# The server refuses to run as root: as root, it runs as the postgres user,
# in a directory of its own (WORK is private to root).
PG_AS=()
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "FAIL: running as root and there is no postgres user" >&2; exit 1; }
	PG_AS=(runuser -u postgres --)
fi
PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/piivault-pg.XXXXXX")"
PG_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
if [ "$(id -u)" = 0 ]; then chown -R postgres: "$PG_DIR"; fi
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
run "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U piivault --pwfile="$PG_DIR/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
	|| { cat "$PG_DIR/initdb.log" >&2; echo "FAIL: initdb" >&2; exit 1; }
rm -f "$PG_DIR/pwfile"
say "pg_ctl start (127.0.0.1:$PG_PORT)"
if ! "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
	-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
	cat "$PG_DIR/server.log" >&2 || true
	echo "FAIL: PostgreSQL did not start" >&2
	exit 1
fi
PG_PID="$(head -n 1 "$PG_DIR/data/postmaster.pid")"
kill -0 "$PG_PID" 2>/dev/null || { echo "FAIL: PostgreSQL not running after start" >&2; exit 1; }
say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $NF}') ready on 127.0.0.1:$PG_PORT (pid $PG_PID)"

# --- moto ---------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
say "python3 -m moto.server -H 127.0.0.1 -p $PORT"
python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for i in $(seq 1 100); do
	if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
		break
	fi
	if ! kill -0 "$MOTO_PID" 2>/dev/null; then
		echo "FAIL: moto exited:" >&2; cat "$WORK/moto.log" >&2; exit 1
	fi
	if [ "$i" = 100 ]; then echo "FAIL: moto not ready after 20 s" >&2; cat "$WORK/moto.log" >&2; exit 1; fi
	sleep 0.2
done
say "moto ready on 127.0.0.1:$PORT (pid $MOTO_PID)"

# --- tests --------------------------------------------------------------
export PIIVAULT_PKCS11_MODULE="$MODULE"
export PIIVAULT_PKCS11_TOKEN="$TOKEN"
export PIIVAULT_PKCS11_PIN="$PIN"
export PIIVAULT_PKCS11_EC_LABEL=escrow-ec
export PIIVAULT_PKCS11_AES_LABEL=escrow-aes
export PIIVAULT_PKCS11_RSA_LABEL=escrow-rsa
export PIIVAULT_PKCS11_SIGN_LABEL=disclosure-sign
export PIIVAULT_KMS_ENDPOINT="http://127.0.0.1:$PORT"
export AWS_EC2_METADATA_DISABLED=true
export PIIVAULT_PG_DSN="postgres://piivault:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
cd "$ROOT/integrations"
say "cd integrations && PIIVAULT_*=... go test -count=1 -race ./..."
# -json would be noisier; -v shows every test, and grep proves none skipped.
set +e
"$GO" test -count=1 -race -v ./... >"$WORK/test.log" 2>&1
rc=$?
set -e
grep -E '^(--- (PASS|FAIL|SKIP)|PASS|FAIL|ok|panic)|valid vectors' "$WORK/test.log" || true
if [ "$rc" != 0 ]; then cat "$WORK/test.log" >&2; echo "FAIL: integration tests" >&2; exit "$rc"; fi
if grep -q -- '--- SKIP' "$WORK/test.log"; then
	grep -B2 -A3 -- '--- SKIP' "$WORK/test.log" >&2
	echo "FAIL: an integration test skipped although every component was started" >&2
	exit 1
fi
say "integration tests passed"
