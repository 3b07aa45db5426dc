#!/usr/bin/env python3
"""HF transformers' own model of a config, timed the way `nanoseek bench` times ours (tools only; the product never
needs Python): random weights, fp32, eager attention.
  train:  forward + backward of the causal-LM loss on random tokens [B, T], median of --steps after --warmup
  decode: greedy generate() with the KV cache, B prompts of P random tokens, N new tokens; decode tok/s =
          B·(N−1) / (time of generating N − time of generating 1)
Prints one JSON line per measurement (the key tokens_per_s, as model_bench).
  tools/peers/hf_bench.py CONFIG [--threads 2] [--batch 4 --seq 256] [--decode-batch 1] [--prompt 32 --new 64]
"""
import argparse
import json
import statistics
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--decode-batch", type=int, default=0, help="0: train only")
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = transformers.AutoConfig.from_pretrained(a.config)
    cfg._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    base = {"config": a.config, "threads": a.threads, "model": type(model).__name__,
            "transformers": transformers.__version__, "torch": torch.__version__}
    V = cfg.vocab_size
    if a.decode_batch == 0:
        model.train()
        ids = torch.randint(0, V, (a.batch, a.seq))
        times = []
        for s in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            model.zero_grad(set_to_none=True)
            out = model(input_ids=ids, labels=ids)
            out.loss.backward()
            if s >= a.warmup:
                times.append(time.perf_counter() - t0)
        print(json.dumps({**base, "mode": "train", "batch": a.batch, "seq": a.seq,
                          "tokens_per_s": a.batch * a.seq / statistics.median(times)}))
    else:
        model.eval()
        ids = torch.randint(0, V, (a.decode_batch, a.prompt))
        def gen(n):
            t0 = time.perf_counter()
            with torch.no_grad():
                model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=True,
                               pad_token_id=0)
            return time.perf_counter() - t0
        gen(2)   # warmup
        t1, tn = gen(1), gen(a.new)
        print(json.dumps({**base, "mode": "generate", "batch": a.decode_batch, "prompt": a.prompt, "new": a.new,
                          "tokens_per_s": a.decode_batch * (a.new - 1) / (tn - t1)}))


if __name__ == "__main__":
    main()
