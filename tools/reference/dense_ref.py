"""Independent PyTorch reference of the dense Qwen2 / Llama decoder (the R1-Distill student architecture), written
from the architecture description, not from transformers' modeling code. Float64 by default.

  x = embed[ids];  per layer: h = x + o(attn(rope(q(n1)), rope(k(n1)), v(n1))), n1 = rms(x)·g1
                              x = h + down(silu(gate(n2)) * up(n2)),              n2 = rms(h)·g2
  logits = lm_head(rms(x)·g);  loss = mean CE over targets >= 0
RoPE is "rotate_half": dim i pairs with i + D/2, angle pos·base^(-2i/D). GQA: head h reads kv head h // (H/Hkv).
qwen2 has q/k/v biases (never o); llama has none. Packed samples (seg) restrict attention within a sample; positions
stay 0..T-1 per row (the HF default position_ids)."""
from __future__ import annotations

import math

import torch


def rms_norm(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rope_half(x, pos, base):
    # x [B, T, nh, D]
    D = x.shape[-1]
    inv = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)          # [D/2]
    ang = pos.to(torch.float64)[:, None] * inv[None, :]                       # [T, D/2]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)[None, :, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin


def param_names(cfg: dict) -> list[str]:
    names = ["model.embed_tokens.weight"]
    qwen = cfg["model_type"] == "qwen2"
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        names.append(p + "input_layernorm.weight")
        for s in "qkv":
            names.append(p + f"self_attn.{s}_proj.weight")
            if qwen:
                names.append(p + f"self_attn.{s}_proj.bias")
        names += [p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
                  p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
    names.append("model.norm.weight")
    if not cfg["tie_word_embeddings"]:
        names.append("lm_head.weight")
    return names


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def forward(cfg: dict, P: dict[str, torch.Tensor], ids, targets=None, seg=None):
    """ids, targets, seg: [B, T] long. Returns (logits [B, T, V], loss or None)."""
    B, T = ids.shape
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg)
    eps, base = cfg["rms_norm_eps"], cfg["rope_theta"]
    qwen = cfg["model_type"] == "qwen2"
    pos = torch.arange(T)
    mask = torch.ones(T, T, dtype=torch.bool).tril()[None, None]              # [1, 1, T, T]
    if seg is not None:
        mask = mask & (seg[:, None, :, None] == seg[:, None, None, :])
    x = P["model.embed_tokens.weight"][ids]
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        n1 = rms_norm(x, P[p + "input_layernorm.weight"], eps)

        def proj(s):
            y = n1 @ P[p + f"self_attn.{s}_proj.weight"].T
            return y + P[p + f"self_attn.{s}_proj.bias"] if qwen else y
        q = rope_half(proj("q").view(B, T, H, D), pos, base)
        k = rope_half(proj("k").view(B, T, Hkv, D), pos, base)
        v = proj("v").view(B, T, Hkv, D)
        rep = H // Hkv
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        s = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(D)
        s = s.masked_fill(~mask, float("-inf"))
        o = torch.einsum("bhts,bshd->bthd", s.softmax(-1), v).reshape(B, T, H * D)
        x = x + o @ P[p + "self_attn.o_proj.weight"].T
        n2 = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        a = n2 @ P[p + "mlp.gate_proj.weight"].T
        u = n2 @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(a) * u) @ P[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    logits = x @ head.T
    loss = None
    if targets is not None:
        loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1), ignore_index=-1)
    return logits, loss
