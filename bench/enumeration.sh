#!/usr/bin/env bash
# Unknown user versus wrong password through vault.UnlockInStore, run
# alternately (-count=10 interleaves the two sub-benchmarks), compared with
# benchstat. Equal times (within noise) mean the response time does not
# tell an attacker whether a user id exists.
#
#   bash bench/enumeration.sh                    (wrong password first)
#   ENUM_BENCH_SWAP=1 bash bench/enumeration.sh  (unknown user first)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
out=$(mktemp)
go test -run='^$' -bench='^BenchmarkUnlockInStoreUnknownUserVsWrongPassword$' -count="${COUNT:-10}" -benchtime="${BENCHTIME:-20x}" ./vault/ | tee "$out"
if command -v benchstat >/dev/null; then
  # One column per case: rename the sub-benchmarks to a common name.
  grep '/wrong-password' "$out" | sed 's#/wrong-password##' >"$out.wrong"
  grep '/unknown-user' "$out" | sed 's#/unknown-user##' >"$out.unknown"
  benchstat wrong-password="$out.wrong" unknown-user="$out.unknown"
else
  echo "benchstat not installed: go install golang.org/x/perf/cmd/benchstat@latest"
fi
