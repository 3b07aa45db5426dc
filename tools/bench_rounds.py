#!/usr/bin/env python3
"""Runs `nanoseek bench --json` for several setups, round by round (every setup once per round, so all see the same
machine load), and prints one Markdown table of medians: tokens/s, the achieved GFLOP/s or GB/s, the fraction of
the machine's limit measured in the same run, and the machine's figures (GEMM peak, triad) beside them.

  tools/bench_rounds.py --rounds 3 --label f32 "--config C --weights f32" --label bf16 "--config C --weights bf16"

Each setup is a label and the bench arguments (one string); environment overrides go first as NAME=VALUE words
("GOMP_SPINCOUNT=0 --config C"); BIN=PATH runs another build for that setup. Used for docs/benchmarks.md.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys


def run(binary, args):
    env = dict(os.environ)
    words = shlex.split(args)
    while words and "=" in words[0] and not words[0].startswith("-"):
        k, v = words.pop(0).split("=", 1)
        if k == "BIN":   # another build of nanoseek for this setup (an A/B of two versions)
            binary = v
        else:
            env[k] = v
    out = subprocess.run([binary, "bench", "--json", *words], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"nanoseek bench {args}: exit {out.returncode}\n{out.stderr}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/nanoseek")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--label", action="append", required=True)
    ap.add_argument("setups", nargs="+")
    a = ap.parse_args()
    if len(a.label) != len(a.setups):
        sys.exit("one --label per setup")
    runs = {label: [] for label in a.label}
    for r in range(a.rounds):
        for label, args in zip(a.label, a.setups):
            runs[label].append(run(a.bin, args))
            print(f"round {r + 1}/{a.rounds}: {label} done", file=sys.stderr)
    first = runs[a.label[0]][0]["machine"]
    print(f"{first['cpu']}, {first['isa']}, {first['threads']} threads; medians of {a.rounds} rounds\n")
    print("| setup | test | batch | tokens | tokens/s | achieved | of the limit | GEMM peak GFLOP/s | triad GB/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in a.label:
        rs = runs[label]
        peak = statistics.median(x["machine"]["gemm_gflops"] for x in rs)
        triad = statistics.median(x["machine"]["triad_gbps"] for x in rs)
        for i, row in enumerate(rs[0]["results"]):
            rows = [x["results"][i] for x in rs]
            unit = "gflops" if row["limit"] == "MFU" else "gbps"
            tps = statistics.median(x["tokens_per_s"] for x in rows)
            ach = statistics.median(x[unit] for x in rows)
            frac = statistics.median(x["fraction"] for x in rows)
            print(f"| {label} | {row['test']} | {row['batch']} | {row['tokens']} | {tps:.1f} | "
                  f"{ach:.1f} {'GFLOP/s' if unit == 'gflops' else 'GB/s'} | {100 * frac:.1f}% {row['limit']} | "
                  f"{peak:.1f} | {triad:.1f} |")


if __name__ == "__main__":
    main()
