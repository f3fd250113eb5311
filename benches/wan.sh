#!/usr/bin/env bash
# The README's WAN table in one command: private inference over the emulated links of
# ../shared/tools/wan/ (two network namespaces joined by a userspace rate/delay emulator;
# needs root and gcc), medians of RUNS sessions per link, then the protocol's round trips
# as the slope of latency against RTT with TCP slow start removed.
#
#   benches/wan.sh [RUNS]                      # from the checkout, after cargo build --release
#   GCNN=/path/to/other/gcnn benches/wan.sh    # the same for another build (before/after)
#   FLOW=fewest-round-trips benches/wan.sh     # the evaluators ask for that flow
#   LINKS="20:100 80:40" benches/wan.sh        # only these links (RTT ms:Mbit/s, or lo)
#
# wan.sh reads the evaluator's and the garbler's report lines; this runs a copy of it
# adapted to today's lines ("private inference of NAME: … (offline …", and the garbler's
# timestamped log). WAN_TOOLS overrides where wan.sh lives (default ../shared/tools/wan).
set -eu -o pipefail
RUNS=${1:-5}
TOOLS=${WAN_TOOLS:-../shared/tools/wan}
[ -x "$TOOLS/wan.sh" ] || { echo "benches/wan.sh: no $TOOLS/wan.sh (set WAN_TOOLS)" >&2; exit 1; }
COPY=$(mktemp -d /tmp/gcnn-wan.XXXXXX)
trap 'rm -rf "$COPY"' EXIT
cp "$TOOLS/netemu.c" "$COPY/"
sed -e 's/"s\/^private inference: /"s\/^private inference of [^:]*: /' \
    -e 's/ s (set-up \\(\[0-9.\]\*\\) s, online/ s (offline \\([0-9.]*\\) s, online/' \
    -e "s/'s\/^session \[0-9\]\* /'s\/^.*session [0-9]* /" \
    -e 's/"\$1" evaluator --connect/"$1" evaluator $6 --connect/' \
    -e 's/_ "\$GCNN" "\$RUNS" "\$LISTEN" "\$WORK" "\$spec"$/& "$EVALUATOR_FLAGS"/' \
    "$TOOLS/wan.sh" > "$COPY/wan.sh"
chmod +x "$COPY/wan.sh"
grep -q 'evaluator $6 --connect' "$COPY/wan.sh" && grep -q '"$EVALUATOR_FLAGS"$' "$COPY/wan.sh" ||
  { echo "benches/wan.sh: $TOOLS/wan.sh changed; cannot pass the evaluator's flags" >&2; exit 1; }
export EVALUATOR_FLAGS="${FLOW:+--flow $FLOW}"
echo "== links (default TCP) =="
# shellcheck disable=SC2086 # LINKS is a list
"$COPY/wan.sh" -n "$RUNS" ${LINKS:-lo 1:1000 20:100 80:40 160:10}
echo "== protocol round trips (initcwnd 4000, 32 MB buffers: slope over RTT) =="
"$COPY/wan.sh" -n "$RUNS" -w 4000 -b 0:0 200:0 400:0
