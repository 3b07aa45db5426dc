#!/usr/bin/env python3
"""Plot training curves from one or more nanoseek runs (metrics.jsonl) into a PNG.

  python3 tools/plot/plot_metrics.py --runs aux-free=runs/abl-auxfree seq-aux=runs/abl-seqaux none=runs/abl-none \
      --keys loss expert_load_max_over_mean_avg --out docs/ablation_balance.png

Each --runs entry is LABEL=DIR (DIR/metrics.jsonl). Keys are plotted against the step, one panel per key; a moving
average (--smooth N steps) makes noisy per-step losses readable. Also prints each run's final value of every key.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    rows = []
    with open(os.path.join(path, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def smooth(xs, n):
    if n <= 1:
        return xs
    out, acc = [], []
    for x in xs:
        acc.append(x)
        if len(acc) > n:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True, help="LABEL=DIR")
    ap.add_argument("--keys", nargs="+", default=["loss"])
    ap.add_argument("--smooth", type=int, default=10)
    ap.add_argument("--title", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = [(r.rsplit("=", 1)[0], load(r.rsplit("=", 1)[1])) for r in a.runs]
    fig, axes = plt.subplots(1, len(a.keys), figsize=(5 * len(a.keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], a.keys):
        for label, rows in runs:
            pts = [(r["step"], r[key]) for r in rows if key in r and isinstance(r[key], (int, float))]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ys = smooth(list(ys), a.smooth if len(pts) > 20 else 1)
            ax.plot(xs, ys, label=label, marker="o" if len(pts) <= 20 else None)
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    for label, rows in runs:
        last = {}
        for r in rows:
            last.update(r)
        print(label, {k: last.get(k) for k in a.keys})


if __name__ == "__main__":
    main()
