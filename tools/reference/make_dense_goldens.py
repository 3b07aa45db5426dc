"""Writes tests/golden/dense/<case>/{config.json, model.safetensors, golden.safetensors} for the dense student
(Qwen2 / Llama) C++ tests. Weights are float32 (what C++ loads); the reference runs in float64 on those exact
values and stores input_ids, targets, seg (packed cases), logits, loss and grad.<name> for every parameter.

  python3 tools/reference/make_dense_goldens.py [--out tests/golden/dense] [--check-hf]

--check-hf additionally builds transformers' Qwen2ForCausalLM / LlamaForCausalLM from the same config and weights
and asserts its logits (unpacked rows) and loss match this independent reference (needs `pip install transformers`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense_ref  # noqa: E402
import st_write  # noqa: E402

BASE = {"vocab_size": 40, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6, "initializer_range": 0.02, "rope_scaling": None, "hidden_act": "silu"}

CASES = {
    # GQA 4 heads / 2 kv heads, q/k/v biases, separate head, packed samples in row 0
    "qwen2_gqa_untied_packed": dict(model_type="qwen2", tie_word_embeddings=False, packed=True),
    "qwen2_gqa_tied": dict(model_type="qwen2", tie_word_embeddings=True, packed=False),
    # no biases, MQA (1 kv head), explicit head_dim 12 != hidden/heads, large rope base
    "llama_mqa_headdim12": dict(model_type="llama", tie_word_embeddings=False, packed=False, num_key_value_heads=1,
                                head_dim=12, attention_bias=False, rope_theta=500000.0),
}


def make_params(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name in dense_ref.param_names(cfg):
        shape = param_shape(cfg, name)
        if name.endswith("norm.weight"):
            t = 1 + 0.2 * torch.randn(shape, generator=g)        # away from 1 so the gain gradient matters
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.2 * torch.randn(shape, generator=g)
        P[name] = t.to(torch.float32)
    return P


def param_shape(cfg, name):
    d, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = dense_ref.head_dim(cfg)
    qd, kvd = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    table = {"embed_tokens.weight": (V, d), "lm_head.weight": (V, d), "norm.weight": (d,),
             "q_proj.weight": (qd, d), "k_proj.weight": (kvd, d), "v_proj.weight": (kvd, d),
             "q_proj.bias": (qd,), "k_proj.bias": (kvd,), "v_proj.bias": (kvd,), "o_proj.weight": (d, qd),
             "gate_proj.weight": (F, d), "up_proj.weight": (F, d), "down_proj.weight": (d, F)}
    for suffix, shape in table.items():
        if name.endswith(suffix):
            return shape
    raise KeyError(name)


def make_batch(cfg, packed, seed):
    g = torch.Generator().manual_seed(seed)
    B, T = 2, 7
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=g)
    targets = torch.full((B, T), -1, dtype=torch.long)
    targets[:, :-1] = ids[:, 1:]
    targets[0, 4] = -1                       # an ignored target inside a row
    seg = None
    if packed:
        seg = torch.zeros(B, T, dtype=torch.long)
        seg[0, 3:] = 1                       # row 0 holds two samples: [0..2] and [3..6]
        targets[0, 2] = -1                   # a sample must not predict the next sample's first token
    return ids, targets, seg


def run_case(name, spec, out_dir, check_hf):
    spec = dict(spec)
    packed = spec.pop("packed")
    cfg = {**BASE, **spec}
    P32 = make_params(cfg, seed=sum(map(ord, name)))
    ids, targets, seg = make_batch(cfg, packed, seed=7)
    P = {k: v.to(torch.float64).requires_grad_(True) for k, v in P32.items()}
    logits, loss = dense_ref.forward(cfg, P, ids, targets, seg)
    loss.backward()
    gold = {"input_ids": ids.to(torch.int32), "targets": targets.to(torch.int32), "logits": logits.detach(),
            "loss": loss.detach().reshape(1)}
    if seg is not None:
        gold["seg"] = seg.to(torch.int32)
    for k, v in P.items():
        gold["grad." + k] = v.grad
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"architectures": ["Qwen2ForCausalLM" if cfg["model_type"] == "qwen2" else "LlamaForCausalLM"],
                   **cfg}, f, indent=2)
        f.write("\n")
    st_write.save(P32, os.path.join(d, "model.safetensors"))
    st_write.save(gold, os.path.join(d, "golden.safetensors"))
    print(f"{name}: loss {loss.item():.6f}, {len(P)} tensors")
    if check_hf:
        check_against_hf(cfg, P32, ids, targets, seg, logits.detach(), loss.item(), {k: v.grad for k, v in P.items()})


def check_against_hf(cfg, P32, ids, targets, seg, ref_logits, ref_loss, golden_grads):
    import transformers
    cls_cfg = transformers.Qwen2Config if cfg["model_type"] == "qwen2" else transformers.LlamaConfig
    cls = transformers.Qwen2ForCausalLM if cfg["model_type"] == "qwen2" else transformers.LlamaForCausalLM
    hcfg = cls_cfg(**{k: v for k, v in cfg.items() if k != "model_type"}, attn_implementation="eager")
    model = cls(hcfg).to(torch.float64).eval()
    sd = {k: v.to(torch.float64) for k, v in P32.items()}
    if cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if "rotary_emb" not in m]
    assert not missing and not unexpected, (missing, unexpected)
    rows = [0, 1] if seg is None else [1]    # HF has no packed-segment mask; compare unpacked rows only
    # transformers keeps RMSNorm statistics, the eager softmax and the RoPE tables in float32 even for a float64
    # model, so agreement is bounded by float32 round-off (~1e-7 relative), not float64's; any architectural
    # difference (names, GQA order, biases, rotate_half pairing, norms, MLP) would show at O(1e-2..1).
    with torch.no_grad():
        hf_logits = model(input_ids=ids[rows]).logits
    rel = ((hf_logits - ref_logits[rows]).abs().max() / ref_logits[rows].abs().max()).item()
    print(f"  transformers {transformers.__version__} {cls.__name__}: logits max|diff|/max|logit| = {rel:.2e}")
    assert rel < 1e-5, rel
    if seg is None:
        lg = model(input_ids=ids).logits
        hf_loss = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), targets.reshape(-1),
                                                    ignore_index=-1)
        hf_loss.backward()
        worst = 0.0
        named = dict(model.named_parameters())
        for k in P32:
            ref_g = golden_grads[k]
            hf_g = named[k].grad
            worst = max(worst, ((hf_g - ref_g).abs().max() / ref_g.abs().max().clamp_min(1e-12)).item())
        print(f"  loss |diff| = {abs(hf_loss.item() - ref_loss):.2e}, worst grad normalized diff = {worst:.2e}")
        assert abs(hf_loss.item() - ref_loss) < 1e-5 and worst < 1e-4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/golden/dense"))
    ap.add_argument("--check-hf", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    for name, spec in CASES.items():
        run_case(name, spec, a.out, a.check_hf)


if __name__ == "__main__":
    main()
