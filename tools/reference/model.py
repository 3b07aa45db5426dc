"""Independent PyTorch reference of the nanoseek model (DeepSeek-V3 / V2 family).

Written from /work/briefs/semantics.md and /work/shared/spec/deepseek-v3-r1.md §1–§3 only; plain eager
PyTorch, no fused kernels, readable over fast. Parameter names (state_dict keys) are exactly the HF names,
so `model.load_state_dict(safetensors.torch.load_file(...), strict=False)` round-trips a checkpoint (the MTP
duplicate copies `model.layers.{L}.embed_tokens.weight` / `.shared_head.head.weight` are not parameters:
the math uses the main embedding and head; see `without_duplicates`).

Shape legend: B batch, T tokens, d hidden, H heads, V vocab, E routed experts, K experts per token.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

ALLOWED_ROUTING = {("sigmoid", "noaux_tc"), ("softmax", "greedy"), ("softmax", "group_limited_greedy")}


@dataclass
class Config:
    model_type: str = "deepseek_v3"
    vocab_size: int = 64
    hidden_size: int = 32
    intermediate_size: int = 48
    moe_intermediate_size: int = 16
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    q_lora_rank: int | None = 24
    kv_lora_rank: int = 16
    qk_nope_head_dim: int = 8
    qk_rope_head_dim: int = 8
    v_head_dim: int = 8
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    rms_norm_eps: float = 1e-6
    n_routed_experts: int = 0
    n_shared_experts: int = 0
    num_experts_per_tok: int = 1
    n_group: int = 1
    topk_group: int = 1
    topk_method: str = "greedy"
    scoring_func: str = "softmax"
    norm_topk_prob: bool = False
    routed_scaling_factor: float = 1.0
    first_k_dense_replace: int = 0
    moe_layer_freq: int = 1
    num_nextn_predict_layers: int = 0
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 4096
    initializer_range: float = 0.02
    raw: dict = field(default_factory=dict, repr=False)

    @staticmethod
    def from_dict(d: dict) -> "Config":
        cfg = Config(raw=dict(d))
        for name in Config.__dataclass_fields__:
            if name != "raw" and d.get(name) is not None:
                setattr(cfg, name, d[name])
        cfg.q_lora_rank = d.get("q_lora_rank") or None  # null and 0 both mean "no query compression"
        cfg.rope_scaling = d.get("rope_scaling")
        cfg.validate()
        return cfg

    @staticmethod
    def from_json(path: str) -> "Config":
        with open(path) as f:
            return Config.from_dict(json.load(f))

    def validate(self):
        if self.n_routed_experts > 0:
            pair = (self.scoring_func, self.topk_method)
            if pair not in ALLOWED_ROUTING:
                raise ValueError(f"config: (scoring_func, topk_method) = {pair} is not one of {sorted(ALLOWED_ROUTING)}")
            if self.n_routed_experts % self.n_group:
                raise ValueError(f"config: n_routed_experts {self.n_routed_experts} not divisible by n_group {self.n_group}")
        if self.qk_rope_head_dim % 2:
            raise ValueError("config: qk_rope_head_dim must be even")
        if self.rope_scaling is not None:
            kind = self.rope_scaling.get("type", self.rope_scaling.get("rope_type"))
            if kind != "yarn":
                raise ValueError(f"config: rope_scaling type {kind!r} unsupported (only yarn)")

    def is_moe_layer(self, layer: int) -> bool:
        return (self.n_routed_experts > 0 and layer >= self.first_k_dense_replace
                and layer % self.moe_layer_freq == 0)

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


# ----------------------------------------------------------------------------------------------- RoPE / YaRN
def yarn_mscale(s: float, m: float) -> float:
    return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0


def rope_params(cfg: Config):
    """Returns (theta' [rope/2] float64, attn_factor, mscale_sq) per semantics.md."""
    dim = cfg.qk_rope_head_dim
    j = torch.arange(dim // 2, dtype=torch.float64)
    theta = cfg.rope_theta ** (-2.0 * j / dim)
    rs = cfg.rope_scaling
    if rs is None:
        return theta, 1.0, 1.0
    factor, orig = float(rs["factor"]), float(rs["original_max_position_embeddings"])
    beta_fast, beta_slow = float(rs.get("beta_fast", 32)), float(rs.get("beta_slow", 1))

    def corr(r):
        return dim * math.log(orig / (2 * math.pi * r)) / (2 * math.log(cfg.rope_theta))

    low = max(math.floor(corr(beta_fast)), 0)
    high = min(math.ceil(corr(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    keep = 1.0 - ((j - low) / (high - low)).clamp(0.0, 1.0)
    theta = (theta / factor) * (1.0 - keep) + theta * keep
    m, m_all = float(rs.get("mscale", 1) or 0), float(rs.get("mscale_all_dim", 0) or 0)
    attn_factor = yarn_mscale(factor, m) / yarn_mscale(factor, m_all)
    mscale_sq = yarn_mscale(factor, m_all) ** 2 if m_all else 1.0
    return theta, attn_factor, mscale_sq


class Rope:
    """cos/sin tables (already multiplied by attn_factor) and the softmax scale."""

    def __init__(self, cfg: Config):
        self.theta, self.attn_factor, mscale_sq = rope_params(cfg)
        self.scale = cfg.qk_head_dim ** -0.5 * mscale_sq

    def tables(self, positions: torch.Tensor, dtype):
        angle = positions.to(torch.float64)[:, None] * self.theta[None, :]  # [T, rope/2]
        return (torch.cos(angle) * self.attn_factor).to(dtype), (torch.sin(angle) * self.attn_factor).to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Adjacent-pair rotation. x [..., T, (H,) rope]; cos/sin [T, rope/2] broadcast over the head axis if any."""
    if x.dim() == cos.dim() + 2:  # [B, T, H, rope]: insert head axis
        cos, sin = cos[:, None, :], sin[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


# ----------------------------------------------------------------------------------------------- building blocks
class RMSNorm(nn.Module):
    def __init__(self, n: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def linear(n_in: int, n_out: int) -> nn.Linear:
    return nn.Linear(n_in, n_out, bias=False)


class SwiGLU(nn.Module):
    def __init__(self, d: int, inter: int):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = linear(d, inter), linear(d, inter), linear(inter, d)

    def forward(self, u):
        return self.down_proj(F.silu(self.gate_proj(u)) * self.up_proj(u))


class MLA(nn.Module):
    """Multi-head latent attention, decompressed form (semantics.md 'Attention')."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        d, H = cfg.hidden_size, cfg.num_attention_heads
        if cfg.q_lora_rank:
            self.q_a_proj = linear(d, cfg.q_lora_rank)
            self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, cfg.rms_norm_eps)
            self.q_b_proj = linear(cfg.q_lora_rank, H * cfg.qk_head_dim)
        else:
            self.q_proj = linear(d, H * cfg.qk_head_dim)
        self.kv_a_proj_with_mqa = linear(d, cfg.kv_lora_rank + cfg.qk_rope_head_dim)
        self.kv_a_layernorm = RMSNorm(cfg.kv_lora_rank, cfg.rms_norm_eps)
        self.kv_b_proj = linear(cfg.kv_lora_rank, H * (cfg.qk_nope_head_dim + cfg.v_head_dim))
        self.o_proj = linear(H * cfg.v_head_dim, d)

    def queries(self, x, cos, sin):
        """x [B,T,d] -> q_nope [B,T,H,nope], q_pe [B,T,H,rope] (rotated)."""
        c = self.cfg
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if c.q_lora_rank else self.q_proj(x)
        q = q.view(*x.shape[:2], c.num_attention_heads, c.qk_head_dim)
        return q[..., :c.qk_nope_head_dim], apply_rope(q[..., c.qk_nope_head_dim:], cos, sin)

    def latent(self, x, cos, sin):
        """x [B,T,d] -> normed latent c [B,T,kv_lora], rotated shared rope key k_pe [B,T,rope] (what decode caches)."""
        a = self.kv_a_proj_with_mqa(x)
        return self.kv_a_layernorm(a[..., :self.cfg.kv_lora_rank]), apply_rope(a[..., self.cfg.kv_lora_rank:], cos, sin)

    def forward(self, x, cos, sin, scale):
        c = self.cfg
        B, T, _ = x.shape
        q_nope, q_pe = self.queries(x, cos, sin)
        lat, k_pe = self.latent(x, cos, sin)
        kv = self.kv_b_proj(lat).view(B, T, c.num_attention_heads, c.qk_nope_head_dim + c.v_head_dim)
        k_nope, v = kv[..., :c.qk_nope_head_dim], kv[..., c.qk_nope_head_dim:]
        score = torch.einsum("bthd,bshd->bhts", q_nope, k_nope) + torch.einsum("bthd,bsd->bhts", q_pe, k_pe)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        p = torch.softmax((score * scale).masked_fill(~causal, float("-inf")), dim=-1)  # [B,H,T,T]
        o = torch.einsum("bhts,bshd->bthd", p, v).reshape(B, T, -1)
        return self.o_proj(o)


class Gate(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(cfg.n_routed_experts, cfg.hidden_size))
        if cfg.topk_method == "noaux_tc":
            self.register_buffer("e_score_correction_bias", torch.zeros(cfg.n_routed_experts))


def route(cfg: Config, s: torch.Tensor, bias: torch.Tensor | None, grouped: bool = True):
    """Expert selection (no gradient). s [N,E] scores -> (chosen [N,K] long, sel [N,E] masked selection scores).
    grouped=False / bias=None exist only so the golden script can prove the branches change the result."""
    with torch.no_grad():
        sel = s + bias if (cfg.topk_method == "noaux_tc" and bias is not None) else s.clone()
        if grouped and cfg.n_group > 1 and cfg.topk_method in ("noaux_tc", "group_limited_greedy"):
            g = sel.view(sel.shape[0], cfg.n_group, -1)  # [N, G, E/G]
            if cfg.topk_method == "noaux_tc":
                group_score = g.topk(2, dim=-1).values.sum(-1)
            else:
                group_score = g.max(dim=-1).values
            keep = group_score.topk(cfg.topk_group, dim=-1).indices  # [N, topk_group]
            mask = torch.ones_like(group_score, dtype=torch.bool).scatter(1, keep, False)
            sel = g.masked_fill(mask[..., None], float("-inf")).view_as(sel)
        chosen = sel.topk(cfg.num_experts_per_tok, dim=-1).indices
    return chosen, sel


class MoE(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList(SwiGLU(cfg.hidden_size, cfg.moe_intermediate_size)
                                     for _ in range(cfg.n_routed_experts))
        if cfg.n_shared_experts:
            self.shared_experts = SwiGLU(cfg.hidden_size, cfg.n_shared_experts * cfg.moe_intermediate_size)

    def scores(self, u):
        logits = u @ self.gate.weight.t()  # [N, E]
        return torch.sigmoid(logits) if self.cfg.scoring_func == "sigmoid" else torch.softmax(logits, dim=-1)

    def forward(self, x):
        """x [B,T,d] (already RMS-normed) -> (out [B,T,d], info dict with s [B,T,E], chosen [B,T,K])."""
        c = self.cfg
        B, T, d = x.shape
        u = x.reshape(B * T, d)
        s = self.scores(u)
        chosen, _ = route(c, s, getattr(self.gate, "e_score_correction_bias", None))
        w = s.gather(1, chosen)  # [N, K], differentiable into gate.weight
        if c.norm_topk_prob:
            w = w / (w.sum(-1, keepdim=True) + 1e-20)
        w = w * c.routed_scaling_factor
        out = torch.zeros_like(u)
        for e, expert in enumerate(self.experts):
            tok, slot = (chosen == e).nonzero(as_tuple=True)
            if tok.numel():
                out = out.index_add(0, tok, expert(u[tok]) * w[tok, slot, None])
        if c.n_shared_experts:
            out = out + self.shared_experts(u)
        return out.view(B, T, d), {"s": s.view(B, T, -1), "chosen": chosen.view(B, T, -1), "u": u}


def balance_loss(cfg: Config, s: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Sequence-wise balance loss of one MoE layer, mean over the batch. s [B,T',E], chosen [B,T',K]."""
    B, Tp, E = s.shape
    K = cfg.num_experts_per_tok
    hit = torch.zeros(B, Tp, E, dtype=s.dtype).scatter(2, chosen, 1.0)  # token's set contains e
    f = hit.sum(1) * (E / (K * Tp))  # [B,E], constant
    P = (s / s.sum(-1, keepdim=True)).mean(1)  # [B,E]
    return (f * P).sum(-1).mean()


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Config, layer: int, mtp: bool):
        super().__init__()
        d, eps = cfg.hidden_size, cfg.rms_norm_eps
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = MLA(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.is_moe = cfg.is_moe_layer(layer)
        self.mlp = MoE(cfg) if self.is_moe else SwiGLU(d, cfg.intermediate_size)
        if mtp:  # MTP module extras; its embedding and head are the main model's
            self.enorm, self.hnorm = RMSNorm(d, eps), RMSNorm(d, eps)
            self.eh_proj = linear(2 * d, d)
            self.shared_head = nn.Module()
            self.shared_head.norm = RMSNorm(d, eps)

    def ffn(self, x):
        """Returns (x + FFN(norm(x)), routing info or None)."""
        h = self.post_attention_layernorm(x)
        if self.is_moe:
            out, info = self.mlp(h)
            return x + out, info
        return x + self.mlp(h), None

    def forward(self, x, cos, sin, scale):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, scale)
        return self.ffn(x)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over targets >= 0 of -log softmax(logits)[target]. logits [B,T,V], targets [B,T]."""
    valid = targets >= 0
    logp = torch.log_softmax(logits[valid], dim=-1)
    return -logp.gather(1, targets[valid].long()[:, None]).mean()


class DeepSeekV3Ref(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.rope = Rope(cfg)
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        n_main, D = cfg.num_hidden_layers, cfg.num_nextn_predict_layers
        self.model.layers = nn.ModuleList(DecoderLayer(cfg, L, mtp=L >= n_main) for L in range(n_main + D))
        self.model.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if not cfg.tie_word_embeddings:
            self.lm_head = linear(cfg.hidden_size, cfg.vocab_size)
        self.reset_parameters()

    def reset_parameters(self):
        """Default init (used by the bench): normal(initializer_range) matrices, unit norms, zero bias."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    p.normal_(0.0, self.cfg.initializer_range)
                else:
                    p.fill_(1.0)
            for b in self.buffers():
                b.zero_()

    def head_weight(self):
        return self.model.embed_tokens.weight if self.cfg.tie_word_embeddings else self.lm_head.weight

    def forward(self, ids, targets=None, mtp_lambda: float = 0.0, balance_alpha: float = 0.0):
        """ids, targets [B,T] (targets -1 = ignored). Returns a dict, see the module docstring in README."""
        cfg = self.cfg
        B, T = ids.shape
        n_main, D = cfg.num_hidden_layers, cfg.num_nextn_predict_layers
        dtype = self.model.embed_tokens.weight.dtype
        embed, head = self.model.embed_tokens.weight, self.head_weight()
        out = {"hidden": {}, "expert_load": {}, "routing": {}, "mtp_logits": [], "mtp_hidden": []}
        bal_terms = []

        def run_layer(L, x):
            pos = torch.arange(x.shape[1])
            cos, sin = self.rope.tables(pos, dtype)
            x, info = self.model.layers[L](x, cos, sin, self.rope.scale)
            if info is not None:
                out["expert_load"][L] = torch.bincount(info["chosen"].flatten(), minlength=cfg.n_routed_experts)
                out["routing"][L] = info
                bal_terms.append(balance_loss(cfg, info["s"], info["chosen"]))
            return x

        x = embed[ids]
        for L in range(n_main):
            x = run_layer(L, x)
            out["hidden"][L] = x
        h = x  # h^0: last main layer output, before the final norm
        out["logits"] = self.model.norm(h) @ head.t()
        for k in range(1, D + 1):
            L = n_main + k - 1
            layer = self.model.layers[L]
            e = embed[ids[:, k:]]  # [B, T-k, d]
            m = layer.eh_proj(torch.cat((layer.enorm(e), layer.hnorm(h[:, :T - k])), dim=-1))
            h = run_layer(L, m)
            out["mtp_hidden"].append(h)
            out["mtp_logits"].append(layer.shared_head.norm(h) @ head.t())
        if targets is not None:
            zero = out["logits"].new_zeros(())
            out["ce"] = cross_entropy(out["logits"], targets)
            mtp_ce = [cross_entropy(lg, targets[:, k + 1:]) for k, lg in enumerate(out["mtp_logits"])]
            out["mtp_ce"] = mtp_ce
            out["mtp"] = mtp_lambda / D * torch.stack(mtp_ce).sum() if D else zero
            out["bal"] = balance_alpha * torch.stack(bal_terms).sum() if bal_terms else zero
            out["loss"] = out["ce"] + out["mtp"] + out["bal"]
        return out


def without_duplicates(state: dict, cfg: Config) -> dict:
    """Drops the MTP duplicate copies (embed_tokens / shared_head.head under model.layers.{L}) before loading."""
    dup = tuple(f"model.layers.{L}.{n}" for L in range(cfg.num_hidden_layers, cfg.num_hidden_layers
                                                        + cfg.num_nextn_predict_layers)
                for n in ("embed_tokens.weight", "shared_head.head.weight"))
    return {k: v for k, v in state.items() if k not in dup}


def load_checkpoint(model: DeepSeekV3Ref, directory: str):
    """Loads model.safetensors or a sharded model.safetensors.index.json from an HF-layout directory."""
    import os
    from safetensors.torch import load_file
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    state = {}
    for s in shards:
        state.update(load_file(os.path.join(directory, s)))
    state = {k: v.to(model.model.norm.weight.dtype) for k, v in without_duplicates(state, model.cfg).items()}
    model.load_state_dict(state, strict=True)
