#!/usr/bin/env bash
# gcnn beside emp-toolkit, measured in one sitting on this machine: builds emp-toolkit from
# sources you provide, then runs `gcnn bench gates` and the emp harnesses in benches/emp/
# alternately (gcnn, emp, gcnn, emp, ...) and prints the medians and the ratios.
#
#   benches/peers.sh --emp-src DIR [--rounds N] [--gcnn PATH] [--work DIR]
#   benches/peers.sh --emp-bench DIR [--rounds N] [--gcnn PATH]
#
# --emp-src DIR   holds emp-tool, emp-ot and emp-sh2pc source trees (GitHub emp-toolkit at
#                 emp-tool 1eef34652bd3ea08807e1b10468bf8a4048a665f, emp-ot
#                 c441adff6f7846b83923ae407a84700925c1b458, emp-sh2pc
#                 c57fdcf2171dbcbe46f8c1038492c2a72e0a391e); they are built, in that order,
#                 into --work (default: a fresh temporary folder), then the harnesses.
#                 Needs cmake, a C++20 compiler, OpenSSL, GMP and Boost headers
#                 (Debian: cmake build-essential libssl-dev libgmp-dev libboost-dev).
# --emp-bench DIR a folder where the harnesses are already built (emp_gates, emp_2pc, emp_ot).
# --rounds N      alternating rounds, at least 5 (default 6).
# --gcnn PATH     the gcnn executable (default: target/release/gcnn, built if missing).
#
# Like for like: one thread per party; garbling and evaluation of 4M half-gates ANDs on
# random slots of 1,024 wires into and from pre-sized memory; two-party runs (set-up, 4M
# chained ANDs, IKNP 2^22 correlated OTs) over 127.0.0.1. A two-party figure is the slower
# party's. Ratios are gcnn / emp in speed: above 1, gcnn is faster (set-up included).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=6 GCNN=target/release/gcnn SRC= BENCH= WORK=
while [ $# -gt 0 ]; do
  case "$1" in
    --emp-src) SRC=$2; shift 2 ;;
    --emp-bench) BENCH=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --gcnn) GCNN=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    *) echo "peers.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ "$ROUNDS" -ge 5 ] 2>/dev/null || { echo "peers.sh: --rounds must be a number >= 5" >&2; exit 2; }
if [ -z "$BENCH" ]; then
  [ -n "$SRC" ] || { echo "peers.sh: give --emp-src DIR or --emp-bench DIR" >&2; exit 2; }
  WORK=${WORK:-$(mktemp -d)}
  mkdir -p "$WORK"
  PREFIX=$WORK/prefix
  for repo in emp-tool emp-ot emp-sh2pc; do
    [ -f "$SRC/$repo/CMakeLists.txt" ] || { echo "peers.sh: no $SRC/$repo/CMakeLists.txt" >&2; exit 2; }
    echo "== building $repo into $PREFIX" >&2
    # Tests off: emp-ot's test/trace_hash does not compile at the commit above.
    cmake -S "$SRC/$repo" -B "$WORK/build-$repo" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DEMP_TOOL_BUILD_TESTS=OFF -DEMP_OT_BUILD_TESTS=OFF -DEMP_SH2PC_BUILD_TESTS=OFF >&2
    make -C "$WORK/build-$repo" -j"$(nproc)" install >&2
  done
  BENCH=$WORK/build-harness
  cmake -S benches/emp -B "$BENCH" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" >&2
  make -C "$BENCH" -j"$(nproc)" >&2
fi
for h in emp_gates emp_2pc emp_ot; do
  [ -x "$BENCH/$h" ] || { echo "peers.sh: $BENCH/$h missing" >&2; exit 2; }
done
if [ ! -x "$GCNN" ]; then cargo build --release --locked >&2; fi

LOG=$(mktemp -d)
pair() { # port harness: party 1 (garbler, OT sender) in the background, party 2 here
  local port=$1 h=$2; shift 2
  "$BENCH/$h" 1 "$port" "$@" & local p=$!
  sleep 0.2
  "$BENCH/$h" 2 "$port" "$@"
  wait "$p"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r of $ROUNDS" >&2
  "$GCNN" bench gates > "$LOG/gcnn.$r" 2>/dev/null
  { "$BENCH/emp_gates" 4000000
    pair $((31000 + 2 * r)) emp_2pc 4000000
    pair $((31001 + 2 * r)) emp_ot 22; } > "$LOG/emp.$r" 2>&1
done

# pick GLOB PATTERN UNIT AGG: per round file, the number before UNIT on lines matching
# PATTERN; AGG min (the slower party's rate), max (its set-up time) or the only one.
pick() {
  for f in "$LOG"/$1.*; do
    awk -v pat="$2" -v unit="$3" -v agg="$4" '
      $0 ~ pat { for (i = 2; i <= NF; i++) if ($i == unit) {
        x = $(i - 1) + 0
        v = (n++ == 0 || (agg == "min" && x < v) || (agg == "max" && x > v)) ? x : v } }
      END { if (n) print v; else { print "peers.sh: no \"" pat "\" in " FILENAME > "/dev/stderr"; exit 1 } }' "$f"
  done
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
row() { # name gcnn-pattern emp-pattern unit agg higher-is-better(1|0)
  local g e
  g=$(pick gcnn "$2" "$4" one | median) e=$(pick emp "$3" "$4" "$5" | median)
  awk -v n="$1" -v g="$g" -v e="$e" -v u="$4" -v up="$6" 'BEGIN {
    printf "| %s | %.1f %s | %.1f %s | %.2f |\n", n, g, u, e, u, (up ? g / e : e / g) }'
}

cpu=$(awk -F: '/model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
flags=$(grep -m1 -o -w -E 'vaes|avx512f' /proc/cpuinfo | sort -u | paste -sd, -)
echo
echo "$ROUNDS alternating rounds on $(nproc) cores: $cpu (${flags:-no VAES, no AVX-512}); medians"
echo "gcnn $(sed -n 's/^AES: /AES path: /p' "$LOG/gcnn.1")"
echo
echo "| figure | gcnn | emp | gcnn / emp |"
echo "|---|---|---|---|"
row "half-gates ANDs garbled, 1 core" "half-gates AND garbled" "emp half-gates AND garbled" M/s one 1
row "half-gates ANDs evaluated, 1 core" "half-gates AND evaluated" "emp half-gates AND evaluated" M/s one 1
row "two-party ANDs over loopback" "two-party ANDs" "two-party ANDs" M/s min 1
row "IKNP extended OTs over loopback" "IKNP OTs" "IKNP extended OTs" M/s min 1
row "session set-up" "session set-up" "set-up" ms max 0
echo
echo "raw outputs: $LOG"
