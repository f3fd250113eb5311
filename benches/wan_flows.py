#!/usr/bin/env python3
"""The README's picture of the two flows across the emulated links.

Reads saved outputs of `benches/wan.sh` (one or more files per flow; only the rows of
its "links" sections, default TCP) and draws, per link, each flow's whole session as
the evaluator reports it: the offline phase from before the TCP connect, then the
online phase (image to class), medians of the runs.

    venv/bin/python benches/wan_flows.py benches/wan-flows.png \\
        --flow fewest-bytes benches/results/wan-9cb1987-fewest-bytes*.txt \\
        --flow fewest-round-trips benches/results/wan-9cb1987-fewest-round-trips*.txt

Needs matplotlib (models/requirements.txt).
"""

import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def link_rows(path):
    """{(rtt_ms, rate): (total_s, online_s)} of the file's "links" sections: the
    evaluator's report (eval_s) and its online part (online_s)."""
    rows, in_links = {}, False
    with open(path) as f:
        for line in f:
            if line.startswith("=="):
                in_links = "links" in line
                continue
            fields = line.split()
            if not in_links or len(fields) < 7 or not fields[0].isdigit():
                continue
            rows[(int(fields[0]), fields[1])] = (float(fields[4]), float(fields[6]))
    return rows


def name(link):
    rtt, rate = link
    return "loopback" if rate == "loopback" else f"{rtt} ms, {int(rate) / 1000:g} Gbit/s" \
        if int(rate) >= 1000 else f"{rtt} ms, {rate} Mbit/s"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--flow", nargs="+", action="append", required=True,
                    metavar=("NAME", "FILE"), help="a flow's name and its wan.sh outputs")
    args = ap.parse_args()
    flows = []
    for name_and_files in args.flow:
        if len(name_and_files) < 2:
            sys.exit(f"--flow {name_and_files[0]}: no wan.sh output given")
        rows = {}
        for path in name_and_files[1:]:
            rows.update(link_rows(path))
        flows.append((name_and_files[0], rows))
    links = sorted(set.intersection(*(set(r) for _, r in flows)),
                   key=lambda l: (l[1] != "loopback", l[0], -int(l[1]) if l[1].isdigit() else 0))
    if not links:
        sys.exit("no link is in every flow's files")
    cols = 3
    rows_n = (len(links) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(10, 3.2 * rows_n), squeeze=False)
    colours = ["#4c72b0", "#dd8452"]
    for ax, link in zip(axes.flat, links):
        for k, (flow, rows) in enumerate(flows):
            total, online = rows[link]
            colour = colours[k % len(colours)]
            ax.bar(k, total - online, color=colour, alpha=0.45, width=0.6)
            ax.bar(k, online, bottom=total - online, color=colour, width=0.6)
            ax.text(k, total, f"{total:.3f} s\n(online {online:.3f})",
                    ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(flows)), [f for f, _ in flows], fontsize=8)
        ax.set_title(name(link), fontsize=10)
        ax.set_ylim(0, 1.3 * max(r[link][0] for _, r in flows))
        ax.set_ylabel("seconds", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(links):]:
        ax.axis("off")
    fig.suptitle("One private LeNet inference from before the TCP connect: offline (light) "
                 "then online (dark), medians of 5", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
