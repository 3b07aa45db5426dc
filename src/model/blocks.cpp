#include "model/blocks.h"

#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/cross_entropy.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/swiglu.h"

namespace nanoseek {

// ---------------------------------------------------------------- embedding

void embed_forward(float* out, const float* table, const int32_t* ids, int64_t N, int64_t d) {
#pragma omp parallel for schedule(static) if (worth_parallel(N * d))
  for (int64_t n = 0; n < N; ++n) std::memcpy(out + n * d, table + int64_t(ids[n]) * d, sizeof(float) * d);
}

void embed_backward(float* dtable, const float* drows, const int32_t* ids, int64_t N, int64_t d) {
  for (int64_t n = 0; n < N; ++n) {
    float* dst = dtable + int64_t(ids[n]) * d;
    const float* src = drows + n * d;
    for (int64_t i = 0; i < d; ++i) dst[i] += src[i];
  }
}

// ---------------------------------------------------------------- SwiGLU FFN

void swiglu_ffn_forward(const FfnWeights& f, const float* x, float* a, float* b, float* h, float* out, int64_t M,
                        int64_t d, int64_t F, float beta) {
  linear_forward(a, x, f.gate, M, d, F);   // a = x·gateᵀ   [M,F]
  linear_forward(b, x, f.up, M, d, F);     // b = x·upᵀ     [M,F]
  swiglu_forward(h, a, b, size_t(M * F));  // h = silu(a) ⊙ b
  gemm(false, true, M, d, F, 1.f, h, F, f.down, F, beta, out, d);   // out = beta·out + h·downᵀ   [M,d]
}

void swiglu_ffn_backward(const FfnWeights& f, FfnWeights& fg, const float* x, const float* a, const float* b,
                         const float* h, const float* dout, float* dx, float* dh, float* da, float* db, int64_t M,
                         int64_t d, int64_t F) {
  std::memset(dh, 0, sizeof(float) * size_t(M * F));
  linear_backward_input(dh, dout, f.down, M, F, d);      // dh = dout·down            [M,F]
  linear_backward_weight(fg.down, dout, h, M, F, d);     // d down += doutᵀ·h          [d,F]
  swiglu_backward(da, db, dh, a, b, size_t(M * F));
  linear_backward_input(dx, da, f.gate, M, d, F);        // dx += da·gate + db·up      [M,d]
  linear_backward_input(dx, db, f.up, M, d, F);
  linear_backward_weight(fg.gate, da, x, M, d, F);       // d gate += daᵀ·x, d up += dbᵀ·x
  linear_backward_weight(fg.up, db, x, M, d, F);
}

// ---------------------------------------------------------------- output tail

OutputLoss output_forward(const OutputHead& o, const OutputActs& a, const int32_t* targets, const float* weights,
                          float* logprobs) {
  const int64_t N = a.N;
  rmsnorm_forward(a.xn, a.rstd, a.h, o.norm, N, o.d, o.eps, o.d);   // xn = RMSNorm(h)     [N,d]
  linear_forward(a.logits, a.xn, o.head, N, o.d, o.V);               // logits = xn·headᵀ  [N,V]
  OutputLoss out;
  if (!targets) return out;
  const CeResult ce = cross_entropy_forward(a.logits, targets, N, o.V, logprobs);   // per-row CE into logprobs
  out.count = ce.count;
  out.ce = ce.count ? ce.loss_sum / double(ce.count) : 0.0;
  if (weights) {
    double s = 0;
    if (logprobs) {
      for (int64_t n = 0; n < N; ++n) s += double(weights[n]) * logprobs[n];   // ignored rows hold 0
    } else {
      std::vector<float> row(static_cast<size_t>(N));
      cross_entropy_forward(a.logits, targets, N, o.V, row.data());
      for (int64_t n = 0; n < N; ++n) s += double(weights[n]) * row[n];
    }
    out.ce = s;
  }
  if (logprobs)
    for (int64_t n = 0; n < N; ++n) logprobs[n] = -logprobs[n];   // CE → log p(target)
  return out;
}

void output_dlogits(const OutputActs& a, int64_t V, const int32_t* targets, const float* weights, float scale,
                    const float* given, const float* extra) {
  const int64_t N = a.N;
  if (given) {
    std::memcpy(a.logits, given, sizeof(float) * size_t(N * V));
  } else if (weights) {   // loss = Σ w_n·CE_n: row n of the gradient scaled by w_n
    cross_entropy_backward(a.logits, a.logits, targets, N, V, scale, weights);
  } else {                // loss = mean CE over valid targets
    int64_t count = 0;
    for (int64_t n = 0; n < N; ++n) count += targets[n] >= 0;
    cross_entropy_backward(a.logits, a.logits, targets, N, V, count ? scale / float(count) : 0.f);
  }
  if (extra)
    for (int64_t i = 0; i < N * V; ++i) a.logits[i] += extra[i];
}

void output_backward(const OutputHead& o, const OutputActs& a, float* g_norm, float* g_head, float* dxn, float* dh) {
  const int64_t N = a.N;
  std::memset(dxn, 0, sizeof(float) * size_t(N * o.d));
  linear_backward_input(dxn, a.logits, o.head, N, o.d, o.V);      // dxn = dlogits·head    [N,d]
  linear_backward_weight(g_head, a.logits, a.xn, N, o.d, o.V);    // d head += dlogitsᵀ·xn  [V,d]
  rmsnorm_backward(dh, g_norm, dxn, a.h, o.norm, a.rstd, N, o.d, o.d);
}

}  // namespace nanoseek
