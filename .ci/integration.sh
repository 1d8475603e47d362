#!/usr/bin/env bash
# Integration tests of the escrow adapters against real components:
# SoftHSM2 (PKCS#11) in a private temporary token directory, and moto's
# AWS KMS API server on loopback. Installs what is missing (Debian), starts
# both, runs `go test` in the integrations module with the env vars that
# enable every test, and stops what it started (by PID). Any component that
# cannot start fails the run: nothing is skipped silently.
#
# Run locally: bash .ci/integration.sh   (needs apt-get or preinstalled
# softhsm2 + opensc, and python3 with moto[server]).
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
cleanup() {
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
