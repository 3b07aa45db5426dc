// The decode core of the DeepSeek-V3 Model (model/decode_core.h): the compressed MLA cache and absorbed attention
// (spec §1.5–§1.6). Per layer, token t at (slot s, position p), head h:
//   cache[s][j] = [RMSNorm(c^KV_j) (kv_lora) | RoPE(k^R_j) (rope)]           written once per token
//   q̃ = W_UK_hᵀ q_nope                                                       [kv_lora]
//   score_j = scale·(q̃·c_j + q_pe·k^R_j), j ≤ p;  ō = Σ_j softmax(score)_j c_j [kv_lora]
//   o_h = W_UV_h ō                                                            [v_head_dim]
// W_UK_h / W_UV_h are row blocks of kv_b_proj read in place (no copies at load). All of a layer's cache rows of a
// step are written before its attention, so prefill tokens see their own earlier prompt tokens.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "model/model.h"
#include "ops/gemv.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"

namespace nanoseek {
namespace {

struct MlaCore final : DecodeCore {
  const Model& m;
  const ModelConfig& c;
  int64_t W, max_step;       // values per cached token; tokens per forward chunk
  // per-chunk scratch
  Buf x, q, qa, qa_n, qa_rstd, kva, c_n, c_rstd, qt, obar, o, xnf, rstd_f;
  Buf S1;                    // [H, max_len] attention scores of a one-token step
  std::vector<double> z1;    // [H] their softmax sums
  Buf run_S;                 // [rows, keys] scores of one head over a prefill run
  std::vector<double> run_z;
  std::vector<int32_t> posbuf;
  std::vector<LayerActs> acts;  // per layer (FFN half), sized for max_step tokens

  MlaCore(const Model& model, int64_t slots, int64_t max_len) : m(model), c(model.cfg) {
    check_shape(slots, max_len, m.rope.max_pos);
    W = c.kv_lora_rank + c.qk_rope_head_dim;
    reserve_cache(slots, max_len, c.num_hidden_layers, W, "compressed MLA");
    vocab = c.vocab_size;
    max_step = std::max<int64_t>(256, slots);
    const int64_t n = max_step, d = c.hidden_size, H = c.num_attention_heads;
    x.resize(n * d);
    q.resize(n * c.q_out_dim());
    if (c.q_lora_rank > 0) qa.resize(n * c.q_lora_rank), qa_n.resize(n * c.q_lora_rank), qa_rstd.resize(n);
    kva.resize(n * W);
    c_n.resize(n * c.kv_lora_rank);
    c_rstd.resize(n);
    qt.resize(n * H * c.kv_lora_rank);
    obar.resize(n * H * c.kv_lora_rank);
    o.resize(n * H * c.v_head_dim);
    xnf.resize(n * d);
    rstd_f.resize(n);
    S1.resize(size_t(H * max_len));
    z1.resize(size_t(H));
    acts.resize(c.num_hidden_layers);
    for (int64_t L = 0; L < c.num_hidden_layers; ++L) plan_layer_acts(c, L, n, acts[L]);
  }

  // Runs tokens [n] at (slot, pos) through the model; for each i in logit_rows writes logits to out + k·V.
  void forward(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
               const std::vector<int64_t>& logit_rows, float* out) override {
    forward_chunks(tok, slot, pos, n, logit_rows, out, max_step,
                   [this](auto... a) { chunk(a...); });
  }

  // Attention of rows [i0, i1) at positions p0, p0+1, ... of slot s (their cache rows already written): per head h,
  //   S = q̃_h C[0:p1]ᵀ + q_pe_h K^R[0:p1]ᵀ (GEMMs), causal softmax of scale·S per row, ō_h = E C[0:p1] / rowsum(E).
  void attend_run(int64_t L, int64_t i0, int64_t i1, int64_t s, int64_t p0) {
    const int64_t H = c.num_attention_heads, nope = c.qk_nope_head_dim, R = c.qk_rope_head_dim;
    const int64_t Dq = c.qk_head_dim(), kvl = c.kv_lora_rank, r = i1 - i0, p1 = p0 + r;
    const float scale = m.attn_scale;
    const float* C = row(L, s, 0);   // [p1, W]
    run_S.resize(size_t(r * p1));
    run_z.resize(size_t(r));
    float* S = run_S.data();
    for (int64_t h = 0; h < H; ++h) {
      gemm(false, true, r, p1, kvl, 1.f, &qt[(i0 * H + h) * kvl], H * kvl, C, W, 0.f, S, p1);
      gemm(false, true, r, p1, R, 1.f, &q[i0 * H * Dq + h * Dq + nope], H * Dq, C + kvl, W, 1.f, S, p1);
      causal_exp_rows(S, r, p0, scale, run_z.data());
      float* ob = &obar[(i0 * H + h) * kvl];
      gemm(false, false, r, kvl, p1, 1.f, S, p1, C, W, 0.f, ob, H * kvl);
      divide_rows(ob, r, H * kvl, kvl, run_z.data());
    }
  }

  void chunk(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n, const std::vector<int64_t>& rows,
             float* out) {
    const int64_t d = c.hidden_size, H = c.num_attention_heads, nope = c.qk_nope_head_dim, R = c.qk_rope_head_dim;
    const int64_t Dq = c.qk_head_dim(), Dv = c.v_head_dim, kvl = c.kv_lora_rank, kvb = nope + Dv;
    const float eps = float(c.rms_norm_eps), scale = m.attn_scale;
#pragma omp parallel for schedule(static) if (worth_parallel(n * d))
    for (int64_t i = 0; i < n; ++i) std::memcpy(&x[i * d], m.w.embed + int64_t(tok[i]) * d, sizeof(float) * d);
    for (int64_t L = 0; L < c.num_hidden_layers; ++L) {
      const LayerWeights& lw = m.w.layers[L];
      LayerActs& a = acts[L];
      float* xn = a.attn.xn.data();
      rmsnorm_forward(xn, a.attn.rstd_in.data(), x.data(), lw.in_norm, n, d, eps, d);
      if (c.q_lora_rank > 0) {
        const int64_t ql = c.q_lora_rank;
        linear_forward(qa.data(), xn, lw.attn.q_a, n, d, ql);
        rmsnorm_forward(qa_n.data(), qa_rstd.data(), qa.data(), lw.attn.q_a_norm, n, ql, eps, ql);
        linear_forward(q.data(), qa_n.data(), lw.attn.q_b, n, ql, H * Dq);
      } else {
        linear_forward(q.data(), xn, lw.attn.q, n, d, H * Dq);
      }
      rope_forward(q.data(), pos, n, H, H * Dq, Dq, nope, m.rope);
      linear_forward(kva.data(), xn, lw.attn.kv_a, n, d, W);
      rope_forward(kva.data(), pos, n, 1, W, 0, kvl, m.rope);
      rmsnorm_forward(c_n.data(), c_rstd.data(), kva.data(), lw.attn.kv_a_norm, n, kvl, eps, W);
      for (int64_t i = 0; i < n; ++i) {  // write the compressed cache rows first
        float* r = row(L, slot[i], pos[i]);
        std::memcpy(r, &c_n[i * kvl], sizeof(float) * kvl);
        std::memcpy(r + kvl, &kva[i * W + kvl], sizeof(float) * R);
      }
      // q̃_h = q_nope_h · W_UK_h   ([n, nope] × [nope, kvl])
      for (int64_t h = 0; h < H; ++h)
        gemm(false, false, n, kvl, nope, 1.f, &q[h * Dq], H * Dq, lw.attn.kv_b + h * kvb * kvl, kvl, 0.f,
             &qt[h * kvl], H * kvl);
      // Per token, all heads at once: the latent rows are shared by every head, so each is read once for the H
      // queries (ops/gemv.h streams the rows and applies each to all H):
      //   S[h, j] = q̃_h·c_j + q_pe_h·k^R_j,  E = exp(scale·S − max),  ō_h = Σ_j E[h, j] c_j / Σ_j E[h, j]
      auto attend = [&](int64_t i, float* S, double* z) {
        const int64_t len = pos[i] + 1;
        const float* C = row(L, slot[i], 0);   // [len, W] rows: latent | rope key
        gemv_f32(S, len, &qt[i * H * kvl], kvl, C, W, H, kvl, len, false);
        gemv_f32(S, len, &q[i * H * Dq + nope], Dq, C + kvl, W, H, R, len, true);
        for (int64_t h = 0; h < H; ++h) z[h] = exp_scores(&S[h * len], len, scale);
        float* ob = &obar[i * H * kvl];
        gemv_t_f32(ob, kvl, S, len, C, W, H, len, kvl, false);
        divide_rows(ob, H, kvl, kvl, z);
      };
      // A prefill run — kPrefillRun or more consecutive positions of one slot — as GEMMs per head over the run's
      // rows (the same absorbed math, at GEMM speed); the other tokens one by one.
      const std::vector<int64_t> single =
          split_prefill_runs(slot, pos, n, [&](int64_t i0, int64_t i1) { attend_run(L, i0, i1, slot[i0], pos[i0]); });
      // one token: the kernels split its keys across threads; several: tokens across threads, kernels serial
      const int64_t ns = int64_t(single.size());
      if (ns == 1) {
        attend(single[0], S1.data(), z1.data());
      } else if (ns > 1) {
        int64_t work = 0;
        for (int64_t i : single) work += (pos[i] + 1) * H * 2 * (kvl + R);
#pragma omp parallel if (worth_parallel(work))
        {
          std::vector<float> S(S1.size());
          std::vector<double> z(z1.size());
#pragma omp for schedule(dynamic)
          for (int64_t k = 0; k < ns; ++k) attend(single[size_t(k)], S.data(), z.data());
        }
      }
      // o_h = ō_h · W_UV_hᵀ   ([n, kvl] × [kvl, Dv])
      for (int64_t h = 0; h < H; ++h)
        gemm(false, true, n, Dv, kvl, 1.f, &obar[h * kvl], H * kvl, lw.attn.kv_b + (h * kvb + nope) * kvl, kvl, 0.f,
             &o[h * Dv], H * Dv);
      std::memcpy(a.x_mid.data(), x.data(), sizeof(float) * n * d);
      gemm(false, true, n, d, H * Dv, 1.f, o.data(), H * Dv, lw.attn.o, H * Dv, 1.f, a.x_mid.data(), d);
      LayerCtx cx{m, L, 1, n, pos, nullptr};
      ffn_forward(cx, a, x.data(), nullptr);
    }
    head_logits(x.data(), rows, m.w.norm, m.w.lm_head, d, eps, xnf.data(), rstd_f.data(), out);
  }
};

}  // namespace

std::unique_ptr<DecodeCore> Model::decode_core(int64_t slots, int64_t max_len) const {
  return std::make_unique<MlaCore>(*this, slots, max_len);
}

}  // namespace nanoseek
