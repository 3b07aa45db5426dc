"""Throughput of the PyTorch reference (fp32, eager) as a yardstick for the C++ model.

Training mode (default): forward + backward of the full loss (CE + MTP + balance) on random tokens,
`--warmup` untimed steps, then the median of `--steps` timed steps; prints one JSON line
  {"mode": "train", "tokens_per_s": B*T/median, "threads": N, "config": path, ...}.
--generate: greedy decoding with the latent KV cache and absorbed MLA (decode.py): a prompt of --prompt tokens
for each of --batch sequences, then --new tokens; decode tokens/s = batch*(new-1)/decode time (the first new
token comes out of the prefill, which is timed separately).

Usage: python3 tools/reference/bench_torch.py tools/reference/configs/bench-30m.json --batch 4 --seq 256 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode import LatentCache, forward_cached  # noqa: E402
from model import Config, DeepSeekV3Ref  # noqa: E402


def bench_train(model, cfg, batch, seq, warmup, steps):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=gen)
    targets = torch.full_like(ids, -1)
    targets[:, :-1] = ids[:, 1:]
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        out = model(ids, targets, mtp_lambda=0.3, balance_alpha=1e-4)
        out["loss"].backward()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"mode": "train", "tokens_per_s": batch * seq / med, "step_s": med, "loss": out["loss"].item(),
            "batch": batch, "seq": seq}


@torch.no_grad()
def bench_generate(model, cfg, batch, prompt_len, new):
    if new < 2:
        raise SystemExit("--new must be >= 2 (the first token comes from the prefill)")
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_len), generator=gen)
    cache = LatentCache(model, batch, prompt_len + new)
    t0 = time.perf_counter()
    nxt = forward_cached(model, prompt, cache)[:, -1].argmax(-1, keepdim=True)
    t1 = time.perf_counter()
    for _ in range(new - 1):
        nxt = forward_cached(model, nxt, cache)[:, -1].argmax(-1, keepdim=True)
    t2 = time.perf_counter()
    return {"mode": "generate", "tokens_per_s": batch * (new - 1) / (t2 - t1),
            "prefill_tokens_per_s": batch * prompt_len / (t1 - t0), "batch": batch, "prompt": prompt_len,
            "new": new}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Config.from_json(args.config)
    model = DeepSeekV3Ref(cfg).float()
    if args.generate:
        r = bench_generate(model.eval(), cfg, args.batch, args.prompt, args.new)
    else:
        r = bench_train(model, cfg, args.batch, args.seq, args.warmup, args.steps)
    print(json.dumps({**r, "threads": args.threads, "config": args.config, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
