"""The bit-width sweep priced by the protocol that runs: models/sweep.md and models/sweep.png.

For every configuration and seed, trains (or reuses) a model with `train.py`, measures its
integer accuracy on the 10 000 test images with `gcnn accuracy`, and prices it with the
exact bytes of one private inference from `gcnn compile` + `gcnn inspect` (total and
online, per the mixed protocol of this checkout, not a cost model). Writes a markdown
table (mean, min and max accuracy over the seeds) and a plot of bytes against accuracy,
one point per seed.

    venv/bin/python models/sweep.py                      # train what is missing, then write
    venv/bin/python models/sweep.py --no-train           # re-price existing runs only
    venv/bin/python models/sweep.py --configs 1/2o/1/3o/3/3o/4/4o --seeds 1 2 3
    venv/bin/python models/sweep.py --configs 1/4o/1/4o/4/4o/4/6o:8,12,15,16

A configuration is `train.py`'s `--config`: bit widths, optionally followed by `:` and
the accumulator widths (public, fixed before training, as `--acc-bits` takes them).

Runs live in --runs (default ../sweep-runs beside the checkout, not in git): one exported
model directory per configuration and seed, and one float checkpoint per seed, so a
re-run trains nothing it already has. Each `train.py` run is one thread and takes about
10-15 minutes on the 2-core machine the README names.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The candidates. Without configured accumulator widths: the old default; configurations
# whose conv1 stays lookup-sized by its worst case (1-bit pixels with 2-bit odd weights,
# or 2-bit pixels with 1-bit weights, keep its accumulator at 8 bits), wider where widths
# are cheap; and 4-bit conv1 weights, whose worst case (10 bits) is beyond the lookups.
# With them (`:acc_bits`, the widths a trained model of that shape reaches, fixed before
# training): 4- and 5-bit conv1 weights on 1-bit pixels, or 3-bit weights on 2-bit
# pixels, within conv1's 8-bit lookups, and wider later layers, priced by their
# configured rings.
CONFIGS = [
    "1/2o/1/3o/3/3o/4/4o",
    "1/2o/1/4o/3/4o/4/6o",
    "1/2o/1/4o/4/4o/4/6o",
    "1/2o/1/6o/4/6o/5/8o",
    "2/1o/1/4o/3/8o/6/8o",
    "1/4o/1/4o/3/4o/4/6o",
    "1/4o/1/4o/4/4o/4/6o",
    "2/4o/1/4o/3/4o/4/6o",
    "1/4o/1/4o/3/4o/4/6o:8,12,15,16",
    "1/4o/1/4o/4/4o/4/6o:8,12,15,16",
    "1/5o/1/4o/4/4o/4/6o:8,12,15,16",
    "1/4o/1/6o/4/6o/5/8o:8,14,17,19",
    "1/4o/1/6o/5/6o/6/8o:8,14,18,20",
    "1/4o/1/4o/5/4o/6/8o:8,12,17,20",
    "2/3o/1/4o/4/4o/4/6o:8,12,15,16",
    "2/3o/1/4o/4/4o/6/8o:8,12,15,20",
    "2/3o/1/4o/5/4o/6/8o:8,12,17,20",
]
SEEDS = [1, 2, 3]
# The bytes budget of the model-quality issue: the bytes round's 2.98 MB plus 10 %.
BUDGET_MB = 3.28


def run_dir(runs, cfg, seed):
    widths, _, acc = cfg.partition(":")
    tail = f"_acc{acc.replace(',', '-')}" if acc else ""
    return os.path.join(runs, widths.replace("/", "_") + tail + f"_s{seed}")


def train(args, cfg, seed):
    out = run_dir(args.runs, cfg, seed)
    if os.path.exists(os.path.join(out, "model.json")):
        return out
    if args.no_train:
        return None
    os.makedirs(out, exist_ok=True)
    cmd = [sys.executable, os.path.join(REPO, "models", "train.py"), "--seed", str(seed),
           "--config", cfg, "--out", out,
           "--float-checkpoint", os.path.join(args.runs, f"float_s{seed}.pt")]
    print("$", " ".join(cmd), flush=True)
    with open(os.path.join(out, "train.log"), "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return out


def accuracy(gcnn, model_dir):
    out = subprocess.run([gcnn, "accuracy", "--model", model_dir, "--json"], check=True,
                         capture_output=True, text=True).stdout
    last = json.loads(out.strip().splitlines()[-1])
    return last["correct"], last["total"]


def price(gcnn, model_dir):
    """Exact bytes of one private inference (total, online) of this model's architecture."""
    with tempfile.TemporaryDirectory() as d:
        circuit = os.path.join(d, "c.mixed")
        subprocess.run([gcnn, "compile", "--model", model_dir, "--out", circuit], check=True,
                       capture_output=True)
        out = subprocess.run([gcnn, "inspect", circuit], check=True, capture_output=True,
                             text=True).stdout
    m = re.search(r"session: (\d+) B evaluator->garbler, (\d+) B garbler->evaluator "
                  r"\(([\d.]+) MB in all, ([\d.]+) (kB|MB) online\)", out)
    if not m:
        sys.exit(f"sweep.py: cannot read the session bytes from gcnn inspect:\n{out}")
    return int(m[1]) + int(m[2]), float(m[4]) * (1e3 if m[5] == "kB" else 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="*", default=CONFIGS)
    ap.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    ap.add_argument("--runs", default=os.path.join(os.path.dirname(REPO), "sweep-runs"))
    ap.add_argument("--gcnn", default=os.path.join(REPO, "target", "release", "gcnn"))
    ap.add_argument("--no-train", action="store_true", help="only price and tabulate runs")
    ap.add_argument("--table", default=os.path.join(REPO, "models", "sweep.md"))
    ap.add_argument("--plot", default=os.path.join(REPO, "models", "sweep.png"))
    args = ap.parse_args()
    if not os.access(args.gcnn, os.X_OK):
        sys.exit(f"sweep.py: no gcnn at {args.gcnn} (cargo build --release)")
    os.makedirs(args.runs, exist_ok=True)

    rows = []
    for cfg in args.configs:
        accs, prices = {}, {}
        for seed in args.seeds:
            model_dir = train(args, cfg, seed)
            if model_dir is None:
                continue
            correct, n = accuracy(args.gcnn, model_dir)
            accs[seed] = correct / n
            total, online = prices[seed] = price(args.gcnn, model_dir)
            print(f"{cfg} seed {seed}: {correct}/{n}, {total / 1e6:.2f} MB "
                  f"({online / 1e6:.2f} MB online)", flush=True)
        if accs:
            rows.append((cfg, prices, accs))
    write_table(args, rows)
    write_plot(args, rows)


def span(values):
    """MB of the seeds' exports, one figure or their range: a seed's calibrated shifts
    (public architecture) can change a stage circuit, or a ring width where none is
    configured."""
    values = list(values)
    lo, hi = f"{min(values) / 1e6:.2f}", f"{max(values) / 1e6:.2f}"
    return lo if lo == hi else f"{lo}–{hi}"


def write_table(args, rows):
    seeds = args.seeds
    with open(args.table, "w") as f:
        f.write("# Bit-width sweep, priced by the protocol that runs\n\n")
        f.write("Written by `venv/bin/python models/sweep.py` (see its docstring): integer "
                "accuracy from `gcnn accuracy` on the 10 000 test images, bytes of one private "
                "inference from `gcnn compile` + `gcnn inspect` (exact; a range where the "
                "seeds' calibrated shifts give different circuits).\n\n")
        f.write("| config (B0/W1/A1/W2/A2/W3/A3/W4[:accumulator bits]) | MB per inference | MB online | "
                + " | ".join(f"seed {s}" for s in seeds) + " | mean | min | max |\n")
        f.write("|---|---|---|" + "---|" * len(seeds) + "---|---|---|\n")
        for cfg, prices, accs in sorted(rows, key=lambda r: min(r[1].values())):
            vals = list(accs.values())
            cells = [f"{accs[s] * 100:.2f} %" if s in accs else "—" for s in seeds]
            total = span(t for t, _ in prices.values())
            online = span(o for _, o in prices.values())
            f.write(f"| `{cfg}` | {total} | {online} | "
                    + " | ".join(cells)
                    + f" | {statistics.mean(vals) * 100:.2f} % | {min(vals) * 100:.2f} % | "
                      f"{max(vals) * 100:.2f} % |\n")
    print(f"wrote {args.table}")


def write_plot(args, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    colours = plt.get_cmap("tab20").colors
    for k, (cfg, prices, accs) in enumerate(rows):
        xs = [prices[s][0] / 1e6 for s in accs]
        # Circles: configured accumulator widths; crosses: the worst case of the widths.
        marker = "o" if ":" in cfg else "x"
        ax.scatter(xs, [a * 100 for a in accs.values()], label=cfg, s=30, marker=marker,
                   color=colours[k % len(colours)])
    ax.axhline(99.2, color="grey", lw=0.8, ls="--")
    ax.axvline(BUDGET_MB, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("bytes of one private inference (MB, exact)")
    ax.set_ylabel("integer test accuracy (%)")
    ax.set_title("Bit widths: bytes against accuracy, one point per seed\n"
                 "(dashed: 99.2 %; dotted: the 3.28 MB budget)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
