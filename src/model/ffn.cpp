// The FFN half of a decoder layer: dense SwiGLU (first_k_dense_replace layers) or DeepSeekMoE
// (shared experts + routed experts, spec §2), forward and backward side by side.
// MoE dispatch: the N·K (token, slot) pairs are sorted by expert (counting sort), so each expert runs two dense
// GEMMs over a contiguous block of rows. No token dropping.
#include <cstring>

#include "core/parallel.h"
#include "model/model.h"
#include "ops/linear.h"
#include "ops/moe_router.h"
#include "ops/rmsnorm.h"
#include "ops/swiglu.h"

namespace nanoseek {

namespace {

enum Slot { S_DW = 0, S_DY, S_DH, S_DA, S_DB, S_DXG, S_DSC, S_DLG, S_DXN = 9 };

}  // namespace

void ffn_forward(const LayerCtx& cx, LayerActs& a, float* out, int64_t* load) {
  const ModelConfig& c = cx.m.cfg;
  const LayerWeights& lw = cx.m.w.layers[cx.L];
  const int64_t N = cx.B * cx.T, d = c.hidden_size;
  rmsnorm_forward(a.xn2.data(), a.rstd2.data(), a.x_mid.data(), lw.post_norm, N, d, float(c.rms_norm_eps), d);
  std::memcpy(out, a.x_mid.data(), sizeof(float) * N * d);
  if (!lw.moe) {
    swiglu_ffn_forward(lw.mlp, a.xn2.data(), a.dense.a.data(), a.dense.b.data(), a.dense.h.data(), out, N, d,
                       c.intermediate_size, 1.f);
    return;
  }
  const RouterConfig& rc = cx.m.rc;
  const int64_t E = rc.E, K = rc.K, F = c.moe_intermediate_size;
  MoeActs& m = a.moe;
  // route: logits → scores, chosen experts, weights
  std::vector<float> logits(size_t(N * E));
  linear_forward(logits.data(), a.xn2.data(), lw.router, N, d, E);
  router_forward(m.scores.data(), m.idx.data(), m.w.data(), logits.data(), lw.router_bias, N, rc);
  // dispatch: counting sort of the N·K slots by expert
  std::fill(m.offsets.begin(), m.offsets.end(), 0);
  for (int64_t i = 0; i < N * K; ++i) m.offsets[m.idx[i] + 1] += 1;
  for (int64_t e = 0; e < E; ++e) m.offsets[e + 1] += m.offsets[e];
  if (load)
    for (int64_t e = 0; e < E; ++e) load[e] += m.offsets[e + 1] - m.offsets[e];
  std::vector<int64_t> fill(m.offsets.begin(), m.offsets.end() - 1);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t row = fill[m.idx[n * K + k]]++;
      m.slot_row[n * K + k] = int32_t(row);
      m.row_token[row] = int32_t(n);
    }
#pragma omp parallel for schedule(static) if (worth_parallel(N * K * d))
  for (int64_t r = 0; r < N * K; ++r) std::memcpy(&m.xg[r * d], &a.xn2[m.row_token[r] * d], sizeof(float) * d);
  // experts: one parallel task per expert, each running single-threaded GEMMs on its row block
#pragma omp parallel for schedule(dynamic) if (worth_parallel(N * K * d * F * 3))
  for (int64_t e = 0; e < E; ++e) {
    const int64_t r0 = m.offsets[e], M = m.offsets[e + 1] - r0;
    if (M == 0) continue;
    swiglu_ffn_forward(lw.experts[e], &m.xg[r0 * d], &m.routed.a[r0 * F], &m.routed.b[r0 * F], &m.routed.h[r0 * F],
                       &m.y[r0 * d], M, d, F, 0.f);
  }
  // shared experts, then combine: out += Σ_k w[n,k] · y[slot_row[n,k]]
  if (c.n_shared_experts > 0)
    swiglu_ffn_forward(lw.shared, a.xn2.data(), m.shared.a.data(), m.shared.b.data(), m.shared.h.data(), out, N, d,
                       c.shared_inter(), 1.f);
#pragma omp parallel for schedule(static) if (worth_parallel(N * K * d))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const float wk = m.w[n * K + k];
      const float* y = &m.y[int64_t(m.slot_row[n * K + k]) * d];
      float* o = out + n * d;
      for (int64_t i = 0; i < d; ++i) o[i] += wk * y[i];
    }
}

double layer_balance_loss(const LayerCtx& cx, const LayerActs& a, double alpha) {
  if (!cx.m.w.layers[cx.L].moe || alpha == 0) return 0;
  return balance_loss(nullptr, a.moe.scores.data(), a.moe.idx.data(), cx.B, cx.T, cx.m.rc, alpha);
}

void ffn_backward(const LayerCtx& cx, LayerActs& a, const float* dout, float* dmid, Workspace& ws, LayerWeights& lg,
                  double alpha) {
  const ModelConfig& c = cx.m.cfg;
  const LayerWeights& lw = cx.m.w.layers[cx.L];
  const int64_t N = cx.B * cx.T, d = c.hidden_size;
  float* dxn = ws.scratch(S_DXN, N * d);
  if (!lw.moe) {
    const int64_t F = c.intermediate_size;
    swiglu_ffn_backward(lw.mlp, lg.mlp, a.xn2.data(), a.dense.a.data(), a.dense.b.data(), a.dense.h.data(), dout, dxn,
                        ws.scratch(S_DH, N * F, false), ws.scratch(S_DA, N * F, false), ws.scratch(S_DB, N * F, false),
                        N, d, F);
  } else {
    const RouterConfig& rc = cx.m.rc;
    const int64_t E = rc.E, K = rc.K, F = c.moe_intermediate_size;
    MoeActs& m = a.moe;
    // combine: dw[n,k] = dout[n]·y[row], dy[row] = w[n,k]·dout[n]
    float* dw = ws.scratch(S_DW, N * K, false);
    float* dy = ws.scratch(S_DY, N * K * d, false);
#pragma omp parallel for schedule(static) if (worth_parallel(N * K * d))
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t row = m.slot_row[n * K + k];
        const float* y = &m.y[row * d];
        const float* g = dout + n * d;
        float* dyr = dy + row * d;
        double s = 0;
        for (int64_t i = 0; i < d; ++i) {
          s += double(g[i]) * y[i];
          dyr[i] = m.w[n * K + k] * g[i];
        }
        dw[n * K + k] = float(s);
      }
    float* dxg = ws.scratch(S_DXG, N * K * d);
    float* dh = ws.scratch(S_DH, N * K * F, false);
    float* da = ws.scratch(S_DA, N * K * F, false);
    float* db = ws.scratch(S_DB, N * K * F, false);
#pragma omp parallel for schedule(dynamic) if (worth_parallel(N * K * d * F * 6))
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = m.offsets[e], M = m.offsets[e + 1] - r0;
      if (M == 0) continue;
      swiglu_ffn_backward(lw.experts[e], lg.experts[e], &m.xg[r0 * d], &m.routed.a[r0 * F], &m.routed.b[r0 * F],
                          &m.routed.h[r0 * F], dy + r0 * d, dxg + r0 * d, dh + r0 * F, da + r0 * F, db + r0 * F, M, d,
                          F);
    }
    // un-dispatch: dxn[n] += Σ_k dxg[slot_row[n,k]]
#pragma omp parallel for schedule(static) if (worth_parallel(N * K * d))
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const float* src = dxg + int64_t(m.slot_row[n * K + k]) * d;
        for (int64_t i = 0; i < d; ++i) dxn[n * d + i] += src[i];
      }
    if (c.n_shared_experts > 0) {
      const int64_t Fs = c.shared_inter();
      swiglu_ffn_backward(lw.shared, lg.shared, a.xn2.data(), m.shared.a.data(), m.shared.b.data(),
                          m.shared.h.data(), dout, dxn, ws.scratch(S_DH, N * Fs, false),
                          ws.scratch(S_DA, N * Fs, false), ws.scratch(S_DB, N * Fs, false), N, d, Fs);
    }
    // router: combine weights and the balance loss both depend on the scores
    float* dsc = ws.scratch(S_DSC, N * E);
    if (alpha != 0) balance_loss(dsc, m.scores.data(), m.idx.data(), cx.B, cx.T, rc, alpha);
    float* dlg = ws.scratch(S_DLG, N * E, false);
    router_backward(dlg, dw, dsc, m.scores.data(), m.idx.data(), N, rc);
    linear_backward_input(dxn, dlg, lw.router, N, d, E);
    linear_backward_weight(lg.router, dlg, a.xn2.data(), N, d, E);
  }
  rmsnorm_backward(dmid, lg.post_norm, dxn, a.x_mid.data(), lw.post_norm, a.rstd2.data(), N, d, d);
}

}  // namespace nanoseek
