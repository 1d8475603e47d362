#!/usr/bin/env bash
# Times Argon2id at equal parameters through piivault's kdf (its own engine,
# arenas reused), golang.org/x/crypto/argon2.IDKey and libsodium's
# crypto_pwhash, interleaved round by round so that all three see the same
# machine noise, and prints median milliseconds and the ratios
# piivault/x-crypto and piivault/libsodium (below 1: piivault is faster).
# The x/crypto ratio is the median of per-round ratios (each round's two
# runs are back to back), which a load change on a shared machine moves
# less than a ratio of medians; the libsodium one is a ratio of medians.
#
# Two modes:
#   cold  every timed derivation runs in a fresh process (the first login
#         after a start: piivault maps and faults its arena in);
#   warm  in-process loops after one untimed derivation (a server that has
#         served logins: piivault reuses its arena). piivault and x/crypto
#         alternate inside one process; libsodium runs its own loop
#         between them (its first, untimed round dropped).
# libsodium is single-lane, so its column is empty at p>1.
#
# Usage: bench/compare-argon2.sh [ROUNDS] [MODE...]   (default: 7 cold warm)
# PUREGO=1 builds with the purego tag: piivault's compression function G
# and x/crypto's are then both pure Go, which isolates what arena reuse
# gains from what assembly gains.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-7}
shift || true
modes=${*:-cold warm}
if ! [ -f /usr/include/sodium.h ]; then
  apt-get update -qq && apt-get install -y -qq libsodium-dev >/dev/null
fi
mkdir -p bin
cc -O2 -o bin/pwhash libsodium/pwhash.c -lsodium
tags=()
[ "${PUREGO:-0}" = 1 ] && tags=(-tags purego)
go build "${tags[@]}" -o bin/argon2cmp ./argon2cmp
g="piivault G: fastest assembly for this CPU (AVX-512, AVX2); x/crypto G: its SSE4.1 assembly"
[ "${PUREGO:-0}" = 1 ] && g="G: pure Go in piivault and x/crypto (-tags purego)"
echo "$g; $rounds rounds"
median() { sort -g | awk '{a[NR]=$1} END {if (!NR) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v o="$1" -v s="$2" 'BEGIN{ if (s == "-" || s == 0) print "-"; else printf "%.3f", o/s }'; }
printf '%-20s %-5s %10s %10s %10s %9s %9s\n' params mode "piivault" "x/crypto" libsodium "/x-crypto" "/sodium"
for spec in "65536 3 1" "19456 2 1" "65536 3 4"; do
  set -- $spec
  for mode in $modes; do
    ours=(); xc=(); sod=()
    for _ in $(seq "$rounds"); do
      if [ "$mode" = cold ]; then
        ours+=("$(bin/argon2cmp -impl piivault -m "$1" -t "$2" -p "$3" -rounds 1 | awk '{print $2}')")
        xc+=("$(bin/argon2cmp -impl xcrypto -m "$1" -t "$2" -p "$3" -rounds 1 | awk '{print $2}')")
        [ "$3" = 1 ] && sod+=("$(bin/pwhash "$1" "$2" 1)")
      else
        out=$(bin/argon2cmp -impl both -warm -m "$1" -t "$2" -p "$3" -rounds 2)
        while read -r name ms; do
          case $name in piivault) ours+=("$ms") ;; xcrypto) xc+=("$ms") ;; esac
        done <<<"$out"
        [ "$3" = 1 ] && while read -r ms; do sod+=("$ms"); done < <(bin/pwhash "$1" "$2" 3 | tail -n +2)
      fi
    done
    rs=()
    for i in "${!ours[@]}"; do rs+=("$(ratio "${ours[$i]}" "${xc[$i]}")"); done
    r=$(printf '%s\n' "${rs[@]}" | median)
    o=$(printf '%s\n' "${ours[@]}" | median)
    x=$(printf '%s\n' "${xc[@]}" | median)
    s=$( ((${#sod[@]})) && printf '%s\n' "${sod[@]}" | median || echo -)
    printf '%-20s %-5s %10s %10s %10s %9s %9s\n' "m=$1 t=$2 p=$3" "$mode" "$o" "$x" "$s" "$r" "$(ratio "$o" "$s")"
  done
done
