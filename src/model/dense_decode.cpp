// The decode core (model/decode_core.h) of dense students (Qwen2 / Llama, model/dense.h): a per-layer K/V cache of post-RoPE keys and
// values per kv head, written for every token before that layer's attention (prefill tokens see their own earlier
// prompt tokens, decode tokens their whole history). Per layer, token t at (slot s, position p), head h:
//   q, k, v = q_proj(n1) + bq, k_proj(n1) + bk, v_proj(n1) + bv;  q, k ← RoPE_half(·, p)
//   cache[s][p] = [k (Hkv·D) | v (Hkv·D)]
//   o_h = Σ_{j≤p} softmax_j(scale·q_h·K_j,g) V_j,g        g = h / (H/Hkv)   (GQA: no repeated K/V stored)
//   x += o_proj(o);  x += down(silu(gate(n2)) ⊙ up(n2))
// Weights are read in place from DenseModel::w (the trainer's updates are seen by the next call).
// Legend: n tokens in the step, d hidden, H heads, Hkv kv heads, D head dim, F intermediate, V vocab.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "model/dense.h"
#include "ops/gemv.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/rope_half.h"
#include "ops/swiglu.h"

namespace nanoseek {
namespace {

struct DenseCore final : DecodeCore {
  const DenseModel& m;
  const DenseConfig& c;
  int64_t W, kvd, qd, max_step;
  std::vector<float> x, xn, rstd, q, kv, att, a, b, h;  // per-chunk scratch: [n,d] [n,d] [n] [n,qd] [n,W] ...
  std::vector<float> S1;     // [rep, max_len] attention scores of one (token, kv group)
  std::vector<double> z1;    // [rep] their softmax sums
  std::vector<float> run_S;  // [rows, keys] scores of one head over a prefill run
  std::vector<double> run_z;

  DenseCore(const DenseModel& model, int64_t slots, int64_t max_len) : m(model), c(model.cfg) {
    check_shape(slots, max_len, m.rope.max_pos);
    qd = c.num_attention_heads * c.head_dim;
    kvd = c.num_key_value_heads * c.head_dim;
    W = 2 * kvd;
    vocab = c.vocab_size;
    reserve_cache(slots, max_len, c.num_hidden_layers, W, "dense K/V per kv head");
    max_step = std::max<int64_t>(256, slots);
    const size_t n = size_t(max_step), d = size_t(c.hidden_size), F = size_t(c.intermediate_size);
    x.resize(n * d), xn.resize(n * d), rstd.resize(n), q.resize(n * qd), kv.resize(n * W), att.resize(n * qd);
    a.resize(n * F), b.resize(n * F), h.resize(n * F);
    const int64_t rep = c.num_attention_heads / c.num_key_value_heads;
    S1.resize(size_t(rep * max_len));
    z1.resize(size_t(rep));
  }

  void forward(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
               const std::vector<int64_t>& logit_rows, float* out) override {
    forward_chunks(tok, slot, pos, n, logit_rows, out, max_step,
                   [this](auto... a) { chunk(a...); });
  }

  static void add_bias(float* y, const float* bias, int64_t n, int64_t O, int64_t stride) {
    if (!bias) return;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t o = 0; o < O; ++o) y[i * stride + o] += bias[o];
  }

  // Attention of rows [i0, i1) at positions p0, p0+1, ... of slot s (their K/V rows already cached): per head h of
  // kv group g, S = Q_h K_g[0:p1]ᵀ (GEMM), causal softmax of scale·S per row, O_h = E V_g[0:p1] / rowsum(E).
  void attend_run(int64_t L, int64_t i0, int64_t i1, int64_t s, int64_t p0) {
    const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim, rep = H / Hkv;
    const int64_t r = i1 - i0, p1 = p0 + r;
    const float scale = float(1.0 / std::sqrt(double(D)));
    run_S.resize(size_t(r * p1));
    run_z.resize(size_t(r));
    float* S = run_S.data();
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / rep;
      const float* K = row(L, s, 0) + g * D;
      const float* Vg = row(L, s, 0) + kvd + g * D;
      gemm(false, true, r, p1, D, 1.f, &q[(i0 * H + h) * D], H * D, K, W, 0.f, S, p1);
      causal_exp_rows(S, r, p0, scale, run_z.data());
      float* o = &att[(i0 * H + h) * D];
      gemm(false, false, r, D, p1, 1.f, S, p1, Vg, W, 0.f, o, H * D);
      divide_rows(o, r, H * D, D, run_z.data());
    }
  }

  void chunk(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n, const std::vector<int64_t>& rows,
             float* out) {
    const int64_t d = c.hidden_size, F = c.intermediate_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads;
    const int64_t D = c.head_dim, rep = H / Hkv;
    const float eps = float(c.rms_norm_eps), scale = float(1.0 / std::sqrt(double(D)));
    for (int64_t i = 0; i < n; ++i) std::memcpy(&x[i * d], m.w.embed + int64_t(tok[i]) * d, sizeof(float) * d);
    for (int64_t L = 0; L < c.num_hidden_layers; ++L) {
      const DenseLayerWeights& lw = m.w.layers[L];
      rmsnorm_forward(xn.data(), rstd.data(), x.data(), lw.in_norm, n, d, eps, d);
      linear_forward(q.data(), xn.data(), lw.q, n, d, qd);
      add_bias(q.data(), lw.q_bias, n, qd, qd);
      rope_half_forward(q.data(), pos, n, H, m.rope);
      // k and v land side by side in kv [n, 2·kvd] rows, then into the cache
      std::vector<float>& k = att;   // att is free until attention: [n, kvd] k, then [n, kvd] v packed below
      linear_forward(k.data(), xn.data(), lw.k, n, d, kvd);
      add_bias(k.data(), lw.k_bias, n, kvd, kvd);
      rope_half_forward(k.data(), pos, n, Hkv, m.rope);
      for (int64_t i = 0; i < n; ++i) std::memcpy(&kv[i * W], &k[i * kvd], sizeof(float) * kvd);
      linear_forward(k.data(), xn.data(), lw.v, n, d, kvd);
      add_bias(k.data(), lw.v_bias, n, kvd, kvd);
      for (int64_t i = 0; i < n; ++i) {
        std::memcpy(&kv[i * W + kvd], &k[i * kvd], sizeof(float) * kvd);
        std::memcpy(row(L, slot[i], pos[i]), &kv[i * W], sizeof(float) * W);
      }
      // Per token and kv group, the group's `rep` query heads at once: each cached K and V row is read once for all
      // of them (ops/gemv.h): S = Q_g K_gᵀ·scale, E = exp(S − max), O_g = E V_g / rowsum(E)
      auto attend = [&](int64_t i, int64_t g, float* S, double* z) {
        const int64_t len = pos[i] + 1;
        const float* K = row(L, slot[i], 0) + g * D;          // [len] rows W apart
        const float* Vg = row(L, slot[i], 0) + kvd + g * D;
        gemv_f32(S, len, &q[(i * H + g * rep) * D], D, K, W, rep, D, len, false);
        for (int64_t r = 0; r < rep; ++r) z[r] = exp_scores(&S[r * len], len, scale);
        float* o = &att[(i * H + g * rep) * D];
        gemv_t_f32(o, D, S, len, Vg, W, rep, len, D, false);
        divide_rows(o, rep, D, D, z);
      };
      // A prefill run — kPrefillRun or more consecutive positions of one slot — as GEMMs per head over the run's
      // rows; the other tokens one by one.
      const std::vector<int64_t> single =
          split_prefill_runs(slot, pos, n, [&](int64_t i0, int64_t i1) { attend_run(L, i0, i1, slot[i0], pos[i0]); });
      // one token of one kv group: the kernels split its keys across threads; else (token, group) across threads
      const int64_t ns = int64_t(single.size());
      if (ns * Hkv == 1) {
        attend(single[0], 0, S1.data(), z1.data());
      } else if (ns > 0) {
        int64_t work = 0;
        for (int64_t i : single) work += (pos[i] + 1) * H * 2 * D;
#pragma omp parallel if (worth_parallel(work))
        {
          std::vector<float> S(S1.size());
          std::vector<double> z(z1.size());
#pragma omp for collapse(2) schedule(dynamic)
          for (int64_t k = 0; k < ns; ++k)
            for (int64_t g = 0; g < Hkv; ++g) attend(single[size_t(k)], g, S.data(), z.data());
        }
      }
      // x += o_proj(att)   (the residual is accumulated by the GEMM's beta = 1)
      gemm(false, true, n, d, qd, 1.f, att.data(), qd, lw.o, qd, 1.f, x.data(), d);
      rmsnorm_forward(xn.data(), rstd.data(), x.data(), lw.post_norm, n, d, eps, d);
      swiglu_ffn_forward(lw.mlp, xn.data(), a.data(), b.data(), h.data(), x.data(), n, d, F, 1.f);   // x += mlp(xn)
    }
    head_logits(x.data(), rows, m.w.norm, m.w.lm_head, d, eps, xn.data(), rstd.data(), out);
  }
};

}  // namespace

std::unique_ptr<DecodeCore> DenseModel::decode_core(int64_t slots, int64_t max_len) const {
  return std::make_unique<DenseCore>(*this, slots, max_len);
}

}  // namespace nanoseek
