"""Greedy-decoding goldens for the C++ engine: for each model golden case, the reference's absorbed-MLA cached
decoder (decode.py, float64) greedily continues two fixed prompts; tokens are written to
tests/golden/model/<case>/greedy.json together with the smallest top-1/top-2 logit margin seen, so the test is
well-posed in float32 (a margin far above float32 round-off means the argmax cannot flip).

    python3 tools/reference/make_greedy_golden.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from model import Config, DeepSeekV3Ref, load_checkpoint  # noqa: E402
from decode import LatentCache, forward_cached  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CASES = ["v3_mtp_yarn", "v2_softmax_tied_bf16", "v2_grouped_mtp2"]
PROMPTS = [[1, 2, 3], [17, 5, 40, 9, 33, 2, 61]]
NEW_TOKENS = 24


@torch.no_grad()
def greedy(model, prompt, new_tokens):
    cache = LatentCache(model, 1, len(prompt) + new_tokens)
    logits = forward_cached(model, torch.tensor([prompt]), cache)[0, -1]
    out, margin = [], float("inf")
    for _ in range(new_tokens):
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        nxt = int(logits.argmax())
        out.append(nxt)
        logits = forward_cached(model, torch.tensor([[nxt]]), cache)[0, -1]
    return out, margin


def main():
    torch.manual_seed(0)
    for case in CASES:
        d = os.path.join(ROOT, "tests", "golden", "model", case)
        cfg = Config.from_json(os.path.join(d, "config.json"))
        model = DeepSeekV3Ref(cfg).double()
        load_checkpoint(model, d)
        model.eval()
        res = {"prompts": PROMPTS, "tokens": [], "min_margin": None}
        margins = []
        for p in PROMPTS:
            toks, m = greedy(model, p, NEW_TOKENS)
            res["tokens"].append(toks)
            margins.append(m)
        res["min_margin"] = min(margins)
        with open(os.path.join(d, "greedy.json"), "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        print(f"{case}: min top1-top2 margin {res['min_margin']:.3e}; {res['tokens'][0][:8]} ...")


if __name__ == "__main__":
    main()
