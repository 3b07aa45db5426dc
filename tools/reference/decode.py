"""Cached decoding with the absorbed MLA form (spec §1.5–§1.6), on top of model.py's modules.

Per layer the cache holds only the post-norm latent c [B,S,kv_lora] and the post-RoPE shared key k_pe [B,S,rope].
W^UK (the nope rows of kv_b_proj) is folded into the query, W^UV applied after the attention-weighted latent sum.
Used by bench_torch.py --generate and checked against the decompressed forward by check_reference.py.
MTP modules are not used here (plain next-token decoding).
"""
from __future__ import annotations

import torch

from model import DeepSeekV3Ref, MLA


class LatentCache:
    def __init__(self, model: DeepSeekV3Ref, batch: int, max_len: int):
        c = model.cfg
        dtype = model.model.norm.weight.dtype
        n = c.num_hidden_layers
        self.c = [torch.zeros(batch, max_len, c.kv_lora_rank, dtype=dtype) for _ in range(n)]
        self.pe = [torch.zeros(batch, max_len, c.qk_rope_head_dim, dtype=dtype) for _ in range(n)]
        self.len = 0


def absorbed_attention(attn: MLA, x, cos, sin, scale, cache_c, cache_pe, start: int):
    """x [B,T,d] normed input at positions start..start+T-1; appends to the cache; returns [B,T,d]."""
    cfg = attn.cfg
    B, T, _ = x.shape
    H, nope, kvl = cfg.num_attention_heads, cfg.qk_nope_head_dim, cfg.kv_lora_rank
    q_nope, q_pe = attn.queries(x, cos, sin)  # [B,T,H,nope], [B,T,H,rope]
    lat, k_pe = attn.latent(x, cos, sin)  # [B,T,kvl], [B,T,rope]
    end = start + T
    cache_c[:, start:end], cache_pe[:, start:end] = lat, k_pe
    C, P = cache_c[:, :end], cache_pe[:, :end]  # [B,S,kvl], [B,S,rope]
    W = attn.kv_b_proj.weight.view(H, nope + cfg.v_head_dim, kvl)
    w_uk, w_uv = W[:, :nope], W[:, nope:]  # [H,nope,kvl], [H,v,kvl]
    q_lat = torch.einsum("bthn,hnc->bthc", q_nope, w_uk)  # absorbed query [B,T,H,kvl]
    score = torch.einsum("bthc,bsc->bhts", q_lat, C) + torch.einsum("bthr,bsr->bhts", q_pe, P)
    qpos = torch.arange(start, end)[:, None]
    visible = torch.arange(end)[None, :] <= qpos  # [T,S]
    p = torch.softmax((score * scale).masked_fill(~visible, float("-inf")), dim=-1)
    o_lat = torch.einsum("bhts,bsc->bthc", p, C)  # [B,T,H,kvl]
    o = torch.einsum("bthc,hvc->bthv", o_lat, w_uv).reshape(B, T, -1)
    return attn.o_proj(o)


@torch.no_grad()
def forward_cached(model: DeepSeekV3Ref, ids: torch.Tensor, cache: LatentCache) -> torch.Tensor:
    """ids [B,T] continuing the cached sequences -> logits [B,T,V]; advances the cache."""
    start, T = cache.len, ids.shape[1]
    dtype = model.model.norm.weight.dtype
    cos, sin = model.rope.tables(torch.arange(start, start + T), dtype)
    x = model.model.embed_tokens.weight[ids]
    for L in range(model.cfg.num_hidden_layers):
        layer = model.model.layers[L]
        x = x + absorbed_attention(layer.self_attn, layer.input_layernorm(x), cos, sin, model.rope.scale,
                                   cache.c[L], cache.pe[L], start)
        x, _ = layer.ffn(x)
    cache.len = start + T
    return model.model.norm(x) @ model.head_weight().t()


@torch.no_grad()
def generate(model: DeepSeekV3Ref, prompt: torch.Tensor, new_tokens: int):
    """Greedy decoding. prompt [B,P] -> tokens [B,new_tokens]."""
    cache = LatentCache(model, prompt.shape[0], prompt.shape[1] + new_tokens)
    nxt = forward_cached(model, prompt, cache)[:, -1].argmax(-1, keepdim=True)
    out = [nxt]
    for _ in range(new_tokens - 1):
        nxt = forward_cached(model, nxt, cache)[:, -1].argmax(-1, keepdim=True)
        out.append(nxt)
    return torch.cat(out, dim=1)
