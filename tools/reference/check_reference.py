"""Cross-checks of the PyTorch reference before its goldens are trusted (float64 throughout).

1. torch.autograd.gradcheck of the FULL loss (CE + MTP + balance) w.r.t. several parameters, for each case.
2. The absorbed MLA form with a latent KV cache (decode.py) equals the decompressed attention: prefill logits
   and token-by-token decode logits vs the plain forward.
3. Adjacent-pair RoPE equals multiplication by attn_factor·e^{i·p·θ'} of complex numbers (x[2j], x[2j+1]).
4. The golden files reproduce: forward of the committed weights gives the committed logits/loss (F32-rounded).

Usage: python3 tools/reference/check_reference.py [--golden tests/golden/model]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from safetensors.torch import load_file
from torch.func import functional_call

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode import LatentCache, forward_cached  # noqa: E402
from model import Config, DeepSeekV3Ref, apply_rope, load_checkpoint  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Full (element-wise) gradcheck on these small tensors; every parameter also gets a fast-mode gradcheck.
GRADCHECK_PARAMS = {
    "v3_mtp_yarn": ["model.layers.1.mlp.gate.weight", "model.layers.2.mlp.gate.weight",
                    "model.layers.0.self_attn.q_a_layernorm.weight", "model.layers.1.self_attn.kv_a_layernorm.weight",
                    "model.layers.2.enorm.weight", "model.layers.2.hnorm.weight", "model.norm.weight"],
    "v2_softmax_tied_bf16": ["model.layers.2.mlp.gate.weight", "model.layers.2.post_attention_layernorm.weight"],
    "v2_grouped_mtp2": ["model.layers.0.mlp.gate.weight", "model.layers.3.mlp.gate.weight",
                        "model.layers.2.shared_head.norm.weight", "model.layers.3.hnorm.weight"],
}


def load_case(case_dir: str):
    cfg = Config.from_json(os.path.join(case_dir, "config.json"))
    model = DeepSeekV3Ref(cfg).double()
    load_checkpoint(model, case_dir)
    golden = load_file(os.path.join(case_dir, "golden.safetensors"))
    from safetensors import safe_open
    with safe_open(os.path.join(case_dir, "golden.safetensors"), "pt") as f:
        meta = f.metadata()
    return cfg, model, golden, float(meta["mtp_lambda"]), float(meta["balance_alpha"])


def check_gradcheck(name, model, ids, targets, lam, alpha):
    base = dict(model.named_parameters())
    base.update(model.named_buffers())

    def run(names, fast):
        def loss_of(*ps):
            params = dict(base)
            params.update(zip(names, ps))
            return functional_call(model, params, (ids, targets, lam, alpha))["loss"]

        inputs = tuple(base[n].detach().clone().requires_grad_(True) for n in names)
        n = sum(p.numel() for p in inputs)
        ok = torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-8, rtol=1e-6, fast_mode=fast)
        mode = "fast (random directions)" if fast else "full"
        print(f"  gradcheck {mode}, float64, {len(names)} tensors / {n} elements: {'PASS' if ok else 'FAIL'}")

    run(GRADCHECK_PARAMS[name], fast=False)
    run([n for n, _ in model.named_parameters()], fast=True)


def check_absorbed(model, ids):
    full = model(ids)["logits"]
    B, T = ids.shape
    cache = LatentCache(model, B, T)
    pre = forward_cached(model, ids[:, :T // 2], cache)
    steps = [forward_cached(model, ids[:, t:t + 1], cache) for t in range(T // 2, T)]
    cached = torch.cat([pre] + steps, dim=1)
    err = (cached - full).abs().max().item()
    print(f"  absorbed MLA + latent cache vs decompressed: max |dlogit| = {err:.3e}")
    assert err < 1e-10, err


def check_rope(model):
    T, H, R = 8, 3, model.cfg.qk_rope_head_dim
    x = torch.randn(2, T, H, R, dtype=torch.float64)
    cos, sin = model.rope.tables(torch.arange(T), torch.float64)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * model.rope.theta[None, :]
    rot = torch.polar(torch.full_like(angle, model.rope.attn_factor), angle)[:, None, :]  # [T,1,R/2]
    want = torch.view_as_real(torch.view_as_complex(x.reshape(2, T, H, R // 2, 2).contiguous()) * rot).flatten(-2)
    err = (apply_rope(x, cos, sin) - want).abs().max().item()
    print(f"  RoPE adjacent pairs vs complex rotation: max err {err:.1e}")
    assert err < 1e-12


def check_golden(model, golden, lam, alpha):
    ids, targets = golden["input_ids"].long(), golden["targets"].long()
    out = model(ids, targets, lam, alpha)
    assert torch.equal(out["logits"].float(), golden["logits"]), "logits differ from golden"
    assert torch.equal(out["loss"].float(), golden["loss"]), "loss differs from golden"
    return ids, targets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default=os.path.join(ROOT, "tests", "golden", "model"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for name in sorted(os.listdir(args.golden)):
        print(name)
        cfg, model, golden, lam, alpha = load_case(os.path.join(args.golden, name))
        ids, targets = check_golden(model, golden, lam, alpha)
        print("  golden reproduces from the committed weights")
        check_rope(model)
        check_absorbed(model, ids)
        if name in GRADCHECK_PARAMS:
            check_gradcheck(name, model, ids, targets, lam, alpha)


if __name__ == "__main__":
    main()
