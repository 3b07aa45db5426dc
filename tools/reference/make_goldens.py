"""Writes the model golden files tests/golden/model/<case>/ from the independent PyTorch reference (model.py).

Per case: config.json (HF layout), the weights (model.safetensors, or bf16 shards + model.safetensors.index.json)
and golden.safetensors (inputs, logits, losses, hidden states, expert loads, every gradient). Weights are drawn
in fp32 (case B: then rounded to bf16), and everything is computed in float64 from exactly the stored weights,
so the only error in a golden value is its final rounding to F32. Deterministic: same bytes on every run.

Usage: python3 tools/reference/make_goldens.py [--out tests/golden/model] [--case NAME]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, DeepSeekV3Ref, load_checkpoint, rope_params, route  # noqa: E402
from st_write import save as save_file  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MTP_LAMBDA, BALANCE_ALPHA = 0.3, 0.01
B, T = 2, 8
MIN_ROUTING_MARGIN = 2e-4  # selection gaps must survive the C++ fp32 arithmetic (its error is ~1e-6 here)


def tiny_config(**over) -> dict:
    cfg = {
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "moe_intermediate_size": 16,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
        "q_lora_rank": 24, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8,
        "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
        "n_group": 4, "topk_group": 2, "topk_method": "noaux_tc", "scoring_func": "sigmoid",
        "norm_topk_prob": True, "routed_scaling_factor": 2.5,
        "first_k_dense_replace": 1, "moe_layer_freq": 1, "num_nextn_predict_layers": 1,
        "aux_loss_alpha": BALANCE_ALPHA, "seq_aux": True, "hidden_act": "silu",
        "rope_theta": 10000.0, "rope_scaling": None, "rms_norm_eps": 1e-6,
        "max_position_embeddings": 64, "initializer_range": 0.02,
        "attention_bias": False, "attention_dropout": 0.0,
        "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1, "use_cache": True,
        "torch_dtype": "float32",
    }
    cfg.update(over)
    return cfg


V2 = {"architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2"}
CASES = {
    # V3 as released: sigmoid + noaux_tc with bias and groups, YaRN, one MTP module, q compression.
    # YaRN: with rope=8 (4 frequencies) and the real betas 32/1, orig 1024 puts low=0, high=3, so the
    # frequencies are kept / 1/3 / 2/3 / fully interpolated (checked below). max_pos = factor * orig.
    "v3_mtp_yarn": dict(seed=1000, cfg=tiny_config(
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024,
                      "beta_fast": 32, "beta_slow": 1, "mscale": 0.8, "mscale_all_dim": 0.7},
        max_position_embeddings=4096), bf16=False),
    # V2-Lite-like: single q_proj, softmax + greedy, unnormalised weights, 2 shared experts, dense layer by
    # moe_layer_freq, no MTP, tied embeddings, bf16 weights in two HF shards.
    "v2_softmax_tied_bf16": dict(seed=2000, cfg=tiny_config(
        **V2, q_lora_rank=None, topk_method="greedy", scoring_func="softmax", n_group=1, topk_group=1,
        norm_topk_prob=False, routed_scaling_factor=1.0, n_shared_experts=2, first_k_dense_replace=1,
        moe_layer_freq=2, num_hidden_layers=3, num_nextn_predict_layers=0, tie_word_embeddings=True,
        torch_dtype="bfloat16"), bf16=True),
    # V2 device-limited routing (group max), all layers MoE, two chained MTP modules. K = 3: with a group MAX
    # score and K <= topk_group the top-K always lies in the best groups, so group limiting would be a no-op.
    "v2_grouped_mtp2": dict(seed=3000, cfg=tiny_config(
        **V2, topk_method="group_limited_greedy", scoring_func="softmax", n_group=4, topk_group=2,
        num_experts_per_tok=3,
        norm_topk_prob=True, routed_scaling_factor=1.5, n_shared_experts=1, first_k_dense_replace=0,
        num_hidden_layers=2, num_nextn_predict_layers=2), bf16=False),
}


def init_weights(model: DeepSeekV3Ref, gen: torch.Generator, bf16: bool):
    """std 0.2 matrices (routing/attention far from uniform), gains 1+0.1N, correction bias N(0, 0.05^2)."""
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            else:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            if bf16:
                p.copy_(p.to(torch.bfloat16).float())
        for _, b in model.named_buffers():
            b.copy_(torch.randn(b.shape, generator=gen) * 0.05)
            if bf16:
                b.copy_(b.to(torch.bfloat16).float())


def make_inputs(cfg: Config, gen: torch.Generator):
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=gen)
    targets = torch.full((B, T), -1, dtype=torch.long)
    targets[:, :-1] = ids[:, 1:]
    targets[1, 3] = -1  # one extra ignored position inside a sequence
    return ids, targets


def routing_margin(cfg: Config, s: torch.Tensor, bias) -> float:
    """Smallest gap, over tokens, at the two discrete decisions: group cut (topk_group-th vs next group) and
    expert cut (K-th vs K+1-th masked selection score). s [N,E]."""
    sel = s + bias if bias is not None else s
    gaps = []
    if cfg.n_group > 1 and cfg.topk_method != "greedy":
        g = sel.view(sel.shape[0], cfg.n_group, -1)
        gs = g.topk(2, -1).values.sum(-1) if cfg.topk_method == "noaux_tc" else g.max(-1).values
        top = gs.sort(-1, descending=True).values
        gaps.append((top[:, cfg.topk_group - 1] - top[:, cfg.topk_group]).min())
    _, masked = route(cfg, s, bias)
    top = masked.sort(-1, descending=True).values
    K = cfg.num_experts_per_tok
    gaps.append((top[:, K - 1] - top[:, K]).min())
    return float(min(gaps))


def check_branches(name: str, cfg: Config, model: DeepSeekV3Ref, out: dict) -> list[str]:
    """Returns the reasons this seed is unsuitable (empty = fine)."""
    bad = []
    for L, info in out["routing"].items():
        bias = getattr(model.model.layers[L].mlp.gate, "e_score_correction_bias", None)
        s = info["s"].reshape(-1, cfg.n_routed_experts).detach()
        if routing_margin(cfg, s, bias) < MIN_ROUTING_MARGIN:
            bad.append(f"layer {L}: routing margin below {MIN_ROUTING_MARGIN}")
    infos = [(L, info["s"].reshape(-1, cfg.n_routed_experts).detach()) for L, info in out["routing"].items()]

    def sets(chosen):
        return chosen.sort(-1).values

    def differs(f):
        return any(not torch.equal(sets(route(cfg, s, b0)[0]), sets(f(s, b0)))
                   for L, s in infos
                   for b0 in [getattr(model.model.layers[L].mlp.gate, "e_score_correction_bias", None)])

    if cfg.topk_method == "noaux_tc" and not differs(lambda s, b: route(cfg, s, None)[0]):
        bad.append("correction bias never changes a selection")
    if cfg.n_group > 1 and not differs(lambda s, b: route(cfg, s, b, grouped=False)[0]):
        bad.append("group limiting never changes a selection")
    if any(int(n) == 0 for n in sum(out["expert_load"].values())):
        bad.append("some expert is never used in any layer")
    return bad


def build(name: str, spec: dict, max_tries: int = 50):
    cfg = Config.from_dict(spec["cfg"])
    for seed in range(spec["seed"], spec["seed"] + max_tries):
        gen = torch.Generator().manual_seed(seed)
        model = DeepSeekV3Ref(cfg)
        init_weights(model, gen, spec["bf16"])
        ids, targets = make_inputs(cfg, gen)
        ref = DeepSeekV3Ref(cfg).double()
        ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        out = ref(ids, targets, MTP_LAMBDA, BALANCE_ALPHA)
        bad = check_branches(name, cfg, ref, out)
        if not bad:
            return cfg, seed, model, ref, ids, targets
        print(f"  {name}: seed {seed} rejected: {'; '.join(bad)}")
    raise SystemExit(f"{name}: no suitable seed in {max_tries} tries")


def save_weights(dirpath: str, cfg: Config, model: DeepSeekV3Ref, bf16: bool):
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    for k in range(1, cfg.num_nextn_predict_layers + 1):  # HF duplicates, copies of the shared tensors
        L = cfg.num_hidden_layers + k - 1
        state[f"model.layers.{L}.embed_tokens.weight"] = state["model.embed_tokens.weight"].clone()
        head = "model.embed_tokens.weight" if cfg.tie_word_embeddings else "lm_head.weight"
        state[f"model.layers.{L}.shared_head.head.weight"] = state[head].clone()
    if not bf16:
        save_file(state, os.path.join(dirpath, "model.safetensors"), metadata={"format": "pt"})
        return
    state = {k: v.to(torch.bfloat16) for k, v in state.items()}
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    weight_map = {}
    for fname, keys in shards.items():
        save_file({k: state[k] for k in keys}, os.path.join(dirpath, fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in keys})
    total = sum(v.numel() * v.element_size() for v in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(dirpath, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def write_case(name: str, spec: dict, out_root: str):
    cfg, seed, model, ref, ids, targets = build(name, spec)
    out = ref(ids, targets, MTP_LAMBDA, BALANCE_ALPHA)
    out["loss"].backward()
    dirpath = os.path.join(out_root, name)
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(spec["cfg"], f, indent=2)
        f.write("\n")
    save_weights(dirpath, cfg, model, spec["bf16"])

    f32 = lambda t: t.detach().float().contiguous()  # noqa: E731
    g = {"input_ids": ids.int(), "targets": targets.int(), "logits": f32(out["logits"])}
    for k, lg in enumerate(out["mtp_logits"], start=1):
        g[f"mtp_logits.{k}"] = f32(lg)
    for key in ("loss", "ce", "mtp", "bal"):
        g[key] = f32(out[key]).reshape(())
    for L, h in out["hidden"].items():
        g[f"hidden.{L}"] = f32(h)
    for L, load in out["expert_load"].items():
        g[f"expert_load.{L}"] = load.int()
    for pname, p in ref.named_parameters():  # unused experts get an explicit zero gradient
        g[f"grad.{pname}"] = f32(p.grad) if p.grad is not None else torch.zeros(p.shape)
    meta = {"mtp_lambda": repr(MTP_LAMBDA), "balance_alpha": repr(BALANCE_ALPHA), "seed": str(seed)}
    save_file(g, os.path.join(dirpath, "golden.safetensors"), metadata=meta)
    back_g = load_file(os.path.join(dirpath, "golden.safetensors"))  # our writer against the reference reader
    assert back_g.keys() == g.keys() and all(torch.equal(back_g[k], g[k]) for k in g), name

    # Round trip: the files just written must reproduce the golden exactly.
    back = DeepSeekV3Ref(Config.from_json(os.path.join(dirpath, "config.json"))).double()
    load_checkpoint(back, dirpath)
    again = back(ids, targets, MTP_LAMBDA, BALANCE_ALPHA)
    assert torch.equal(again["logits"], out["logits"]) and torch.equal(again["loss"], out["loss"]), name

    parts = " ".join(f"{k}={out[k].item():.6f}" for k in ("loss", "ce", "mtp", "bal"))
    mtp = " ".join(f"ce_mtp{k + 1}={c.item():.6f}" for k, c in enumerate(out.get("mtp_ce", [])))
    loads = " ".join(f"L{L}={load.tolist()}" for L, load in out["expert_load"].items())
    print(f"{name}: seed {seed} {parts} {mtp}\n  max|logit|={out['logits'].abs().max():.4f} loads {loads}")
    size = sum(os.path.getsize(os.path.join(dirpath, f)) for f in os.listdir(dirpath))
    print(f"  files: {sorted(os.listdir(dirpath))} total {size / 1024:.1f} KiB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "model"))
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    args = ap.parse_args()
    torch.set_num_threads(1)  # same reduction order on every machine and run
    torch.use_deterministic_algorithms(True)
    theta0, _, _ = rope_params(Config.from_dict({**CASES["v3_mtp_yarn"]["cfg"], "rope_scaling": None}))
    theta, attn_factor, mscale_sq = rope_params(Config.from_dict(CASES["v3_mtp_yarn"]["cfg"]))
    ratio = (theta / theta0).tolist()
    print(f"v3_mtp_yarn YaRN theta'/theta = {[round(r, 4) for r in ratio]} "
          f"attn_factor={attn_factor:.6f} mscale_sq={mscale_sq:.6f}")
    assert ratio[0] == 1.0 and abs(ratio[-1] - 0.25) < 1e-12 and any(0.25 < r < 1 for r in ratio), "YaRN blend"
    for name in args.case or CASES:
        write_case(name, CASES[name], args.out)


if __name__ == "__main__":
    main()
