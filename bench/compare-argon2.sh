#!/usr/bin/env bash
# Times Argon2id at equal parameters through libsodium's crypto_pwhash and
# through piivault's kdf, interleaved (one round of each, alternating) so
# that both see the same machine noise, and prints median times and the
# ratio ours / libsodium. libsodium is single-lane, so the comparison is at
# p=1. Usage: bench/compare-argon2.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-7}
if ! [ -f /usr/include/sodium.h ]; then
  apt-get update -qq && apt-get install -y -qq libsodium-dev >/dev/null
fi
mkdir -p bin
cc -O2 -o bin/pwhash libsodium/pwhash.c -lsodium
go build -o bin/argon2cmp ./argon2cmp
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-24s %12s %12s %8s\n' params "ours ms" "sodium ms" ratio
for spec in "65536 3" "19456 2"; do
  set -- $spec
  ours=(); sod=()
  for _ in $(seq "$rounds"); do
    ours+=("$(bin/argon2cmp -m "$1" -t "$2" -p 1 -rounds 1)")
    sod+=("$(bin/pwhash "$1" "$2" 1)")
  done
  o=$(printf '%s\n' "${ours[@]}" | median)
  s=$(printf '%s\n' "${sod[@]}" | median)
  printf '%-24s %12s %12s %8.2f\n' "m=$1 t=$2 p=1" "$o" "$s" "$(awk -v o="$o" -v s="$s" 'BEGIN{print o/s}')"
done
