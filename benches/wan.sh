#!/usr/bin/env bash
# The README's WAN table in one command: private inference over the emulated links of
# ../shared/tools/wan/ (two network namespaces joined by a userspace rate/delay emulator;
# needs root and gcc), medians of RUNS sessions per link, then the protocol's round trips
# as the slope of latency against RTT with TCP slow start removed.
#
#   benches/wan.sh [RUNS]                      # from the checkout, after cargo build --release
#   GCNN=/path/to/other/gcnn benches/wan.sh    # the same for another build (before/after)
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
    "$TOOLS/wan.sh" > "$COPY/wan.sh"
chmod +x "$COPY/wan.sh"
echo "== links (default TCP) =="
"$COPY/wan.sh" -n "$RUNS" lo 1:1000 20:100 80:40 160:10
echo "== protocol round trips (initcwnd 4000, 32 MB buffers: slope over RTT) =="
"$COPY/wan.sh" -n "$RUNS" -w 4000 -b 0:0 200:0 400:0
