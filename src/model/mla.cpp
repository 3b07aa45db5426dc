// Multi-head Latent Attention (spec §1), decompressed form for training and prefill: forward and backward.
// Shapes per stack of N = B·T tokens: see model/workspace.h. Scratch slots used by backward are named below.
#include <cstring>

#include "core/parallel.h"
#include "model/model.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"

namespace nanoseek {

namespace {
enum Slot { S_DO, S_DQ, S_DK, S_DV, S_DKV, S_DC, S_DKVA, S_DQAN, S_DQA, S_DXN };
}

void mla_forward(const LayerCtx& cx, LayerActs& a) {
  const ModelConfig& c = cx.m.cfg;
  const LayerWeights& lw = cx.m.w.layers[cx.L];
  const int64_t N = cx.B * cx.T, d = c.hidden_size, H = c.num_attention_heads;
  const int64_t nope = c.qk_nope_head_dim, R = c.qk_rope_head_dim, Dq = c.qk_head_dim(), Dv = c.v_head_dim;
  const int64_t kvl = c.kv_lora_rank, kva_dim = c.kv_a_dim(), kvb_dim = c.kv_b_dim();
  const float eps = float(c.rms_norm_eps);
  AttnActs& t = a.attn;

  rmsnorm_forward(t.xn.data(), t.rstd_in.data(), a.x_in.data(), lw.in_norm, N, d, eps, d);
  // queries: q = q_b(RMSNorm(q_a(xn))) or q_proj(xn)             [N, H, Dq]
  if (c.q_lora_rank > 0) {
    const int64_t ql = c.q_lora_rank;
    linear_forward(t.qa.data(), t.xn.data(), lw.attn.q_a, N, d, ql);
    rmsnorm_forward(t.qa_n.data(), t.qa_rstd.data(), t.qa.data(), lw.attn.q_a_norm, N, ql, eps, ql);
    linear_forward(t.q.data(), t.qa_n.data(), lw.attn.q_b, N, ql, H * Dq);
  } else {
    linear_forward(t.q.data(), t.xn.data(), lw.attn.q, N, d, H * Dq);
  }
  rope_forward(t.q.data(), cx.pos, N, H, H * Dq, Dq, nope, cx.m.rope);
  // keys/values: [c | k_pe] = kv_a(xn); c_n = RMSNorm(c); [k_nope | v] = kv_b(c_n); k_pe = RoPE(k_pe)
  linear_forward(t.kva.data(), t.xn.data(), lw.attn.kv_a, N, d, kva_dim);
  rope_forward(t.kva.data(), cx.pos, N, 1, kva_dim, 0, kvl, cx.m.rope);
  rmsnorm_forward(t.c_n.data(), t.c_rstd.data(), t.kva.data(), lw.attn.kv_a_norm, N, kvl, eps, kva_dim);
  linear_forward(t.kv.data(), t.c_n.data(), lw.attn.kv_b, N, kvl, kvb_dim);
  // assemble per-head k = [k_nope | k_pe (shared by all heads)] and v
#pragma omp parallel for schedule(static) if (worth_parallel(N * H * (Dq + Dv)))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* kvh = t.kv.data() + n * kvb_dim + h * (nope + Dv);
      float* kh = t.k.data() + (n * H + h) * Dq;
      std::memcpy(kh, kvh, sizeof(float) * nope);
      std::memcpy(kh + nope, t.kva.data() + n * kva_dim + kvl, sizeof(float) * R);
      std::memcpy(t.v.data() + (n * H + h) * Dv, kvh + nope, sizeof(float) * Dv);
    }
  attention_forward(t.o.data(), t.P.data(), t.q.data(), t.k.data(), t.v.data(), cx.seg, {cx.B, cx.T, H, Dq, Dv},
                    cx.m.attn_scale);
  // x_mid = x_in + o_proj(o)
  std::memcpy(a.x_mid.data(), a.x_in.data(), sizeof(float) * N * d);
  gemm(false, true, N, d, H * Dv, 1.f, t.o.data(), H * Dv, lw.attn.o, H * Dv, 1.f, a.x_mid.data(), d);
}

void mla_backward(const LayerCtx& cx, LayerActs& a, const float* dmid, float* dx_in, Workspace& ws, LayerWeights& lg) {
  const ModelConfig& c = cx.m.cfg;
  const LayerWeights& lw = cx.m.w.layers[cx.L];
  const int64_t N = cx.B * cx.T, d = c.hidden_size, H = c.num_attention_heads;
  const int64_t nope = c.qk_nope_head_dim, R = c.qk_rope_head_dim, Dq = c.qk_head_dim(), Dv = c.v_head_dim;
  const int64_t kvl = c.kv_lora_rank, kva_dim = c.kv_a_dim(), kvb_dim = c.kv_b_dim();
  AttnActs& t = a.attn;

  // o_proj
  float* d_o = ws.scratch(S_DO, N * H * Dv);
  linear_backward_input(d_o, dmid, lw.attn.o, N, H * Dv, d);
  linear_backward_weight(lg.attn.o, dmid, t.o.data(), N, H * Dv, d);
  // core attention
  float* dq = ws.scratch(S_DQ, N * H * Dq);
  float* dk = ws.scratch(S_DK, N * H * Dq);
  float* dv = ws.scratch(S_DV, N * H * Dv);
  attention_backward(dq, dk, dv, d_o, t.P.data(), t.q.data(), t.k.data(), t.v.data(), {cx.B, cx.T, H, Dq, Dv},
                     cx.m.attn_scale);
  // split dk back into kv_b's output (k_nope, v) and the shared k_pe (summed over heads)
  float* dkv = ws.scratch(S_DKV, N * kvb_dim, false);
  float* dkva = ws.scratch(S_DKVA, N * kva_dim);
#pragma omp parallel for schedule(static) if (worth_parallel(N * H * (Dq + Dv)))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      float* dkvh = dkv + n * kvb_dim + h * (nope + Dv);
      const float* dkh = dk + (n * H + h) * Dq;
      std::memcpy(dkvh, dkh, sizeof(float) * nope);
      std::memcpy(dkvh + nope, dv + (n * H + h) * Dv, sizeof(float) * Dv);
      float* dpe = dkva + n * kva_dim + kvl;
      for (int64_t r = 0; r < R; ++r) dpe[r] += dkh[nope + r];
    }
  float* dc = ws.scratch(S_DC, N * kvl);
  linear_backward_input(dc, dkv, lw.attn.kv_b, N, kvl, kvb_dim);
  linear_backward_weight(lg.attn.kv_b, dkv, t.c_n.data(), N, kvl, kvb_dim);
  rmsnorm_backward(dkva, lg.attn.kv_a_norm, dc, t.kva.data(), lw.attn.kv_a_norm, t.c_rstd.data(), N, kvl, kva_dim);
  rope_backward(dkva, cx.pos, N, 1, kva_dim, 0, kvl, cx.m.rope);
  float* dxn = ws.scratch(S_DXN, N * d);
  linear_backward_input(dxn, dkva, lw.attn.kv_a, N, d, kva_dim);
  linear_backward_weight(lg.attn.kv_a, dkva, t.xn.data(), N, d, kva_dim);
  // queries
  rope_backward(dq, cx.pos, N, H, H * Dq, Dq, nope, cx.m.rope);
  if (c.q_lora_rank > 0) {
    const int64_t ql = c.q_lora_rank;
    float* dqan = ws.scratch(S_DQAN, N * ql);
    linear_backward_input(dqan, dq, lw.attn.q_b, N, ql, H * Dq);
    linear_backward_weight(lg.attn.q_b, dq, t.qa_n.data(), N, ql, H * Dq);
    float* dqa = ws.scratch(S_DQA, N * ql);
    rmsnorm_backward(dqa, lg.attn.q_a_norm, dqan, t.qa.data(), lw.attn.q_a_norm, t.qa_rstd.data(), N, ql, ql);
    linear_backward_input(dxn, dqa, lw.attn.q_a, N, d, ql);
    linear_backward_weight(lg.attn.q_a, dqa, t.xn.data(), N, d, ql);
  } else {
    linear_backward_input(dxn, dq, lw.attn.q, N, d, H * Dq);
    linear_backward_weight(lg.attn.q, dq, t.xn.data(), N, d, H * Dq);
  }
  rmsnorm_backward(dx_in, lg.in_norm, dxn, a.x_in.data(), lw.in_norm, t.rstd_in.data(), N, d, d);
}

}  // namespace nanoseek
