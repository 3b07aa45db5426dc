"""Parameter counts of a DeepSeek-V3/V2 config.json (independent check for the C++ `info` command).

Counted from the config by formula (never materialised), in parameters (buffers such as the routing correction
bias are listed separately). For configs under 1e9 parameters the formula is cross-checked against the module
tree of model.py.
  total  = main model (embedding, layers 0..n-1, final norm, lm_head unless tied), without MTP
  active = total with only K routed experts per MoE layer (the shared experts and everything else always run)
  mtp    = unique MTP parameters (layers n..n+D-1 incl. enorm/hnorm/eh_proj/shared_head.norm), excluding the
           duplicate embed_tokens / shared_head.head copies, which are reported as mtp_duplicates
Usage: python3 tools/reference/count_params.py CONFIG.json [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config  # noqa: E402


def attention_params(c: Config) -> int:
    d, H = c.hidden_size, c.num_attention_heads
    q = (d * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * H * c.qk_head_dim) if c.q_lora_rank \
        else d * H * c.qk_head_dim
    kv = d * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank + c.kv_lora_rank * H * (c.qk_nope_head_dim
                                                                                           + c.v_head_dim)
    return q + kv + H * c.v_head_dim * d


def layer_params(c: Config, L: int) -> tuple[int, int]:
    """(all parameters, parameters active per token) of decoder layer L (without MTP extras)."""
    d = c.hidden_size
    common = 2 * d + attention_params(c)
    if not c.is_moe_layer(L):
        n = common + 3 * d * c.intermediate_size
        return n, n
    expert = 3 * d * c.moe_intermediate_size
    shared = c.n_shared_experts * expert
    base = common + c.n_routed_experts * d + shared
    return base + c.n_routed_experts * expert, base + c.num_experts_per_tok * expert


def count(c: Config) -> dict:
    d, V = c.hidden_size, c.vocab_size
    embed = V * d
    head = 0 if c.tie_word_embeddings else V * d
    layers = [layer_params(c, L) for L in range(c.num_hidden_layers)]
    total = embed + head + d + sum(t for t, _ in layers)
    active = embed + head + d + sum(a for _, a in layers)
    n, D = c.num_hidden_layers, c.num_nextn_predict_layers
    mtp_layers = [layer_params(c, L) for L in range(n, n + D)]
    extra = 3 * d + 2 * d * d  # enorm, hnorm, shared_head.norm, eh_proj
    mtp = sum(t + extra for t, _ in mtp_layers)
    mtp_active = sum(a + extra for _, a in mtp_layers)
    n_moe = sum(c.is_moe_layer(L) for L in range(n + D))
    bias = c.n_routed_experts * n_moe if c.topk_method == "noaux_tc" else 0
    return {"total": total, "active": active, "mtp": mtp, "mtp_active": mtp_active,
            "mtp_duplicates": D * (embed + V * d), "embedding": embed, "lm_head": head, "bias_buffers": bias,
            "moe_layers": n_moe}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    c = Config.from_json(args.config)
    r = count(c)
    if r["total"] + r["mtp"] < 1e9:  # the formula must agree with the module tree
        from model import DeepSeekV3Ref
        m = DeepSeekV3Ref(c)
        assert sum(p.numel() for p in m.parameters()) == r["total"] + r["mtp"], "formula vs module tree"
        assert sum(b.numel() for b in m.buffers()) == r["bias_buffers"]
    if args.json:
        print(json.dumps({"config": args.config, **r}))
        return
    g = lambda n: f"{n:>16,d}  ({n / 1e9:8.3f} B)"  # noqa: E731
    print(f"config {args.config}")
    for k in ("total", "active", "mtp", "mtp_active", "mtp_duplicates", "embedding", "lm_head"):
        print(f"  {k:<15}{g(r[k])}")
    print(f"  {'total+mtp':<15}{g(r['total'] + r['mtp'])}")
    print(f"  {'hf_file_total':<15}{g(r['total'] + r['mtp'] + r['mtp_duplicates'] + r['bias_buffers'])}"
          "  (everything in the checkpoint, incl. duplicates and bias buffers)")


if __name__ == "__main__":
    main()
