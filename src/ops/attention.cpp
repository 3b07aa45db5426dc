#include "core/parallel.h"
#include "ops/attention.h"
#include "ops/vmath.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/linear.h"

namespace nanoseek {

// Each (sequence, head) pair is independent: the parallel loop runs over them and each does its own small
// GEMMs (OpenBLAS's OpenMP build runs single-threaded inside a parallel region).
void attention_forward(float* o, float* P, const float* q, const float* k, const float* v, const int32_t* seg,
                       const AttnShape& s, float scale) {
  const int64_t T = s.T, qs = s.H * s.Dq, vs = s.H * s.Dv;
#pragma omp parallel for collapse(2) schedule(dynamic) if (worth_parallel(s.B * s.H * T * T * (s.Dq + s.Dv)))
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const float* qh = q + b * T * qs + h * s.Dq;
      const float* kh = k + b * T * qs + h * s.Dq;
      const float* vh = v + b * T * vs + h * s.Dv;
      float* Ph = P + (b * s.H + h) * T * T;
      const int32_t* sg = seg ? seg + b * T : nullptr;
      // S = scale · Q K^T  [T,T]
      gemm(false, true, T, T, s.Dq, scale, qh, qs, kh, qs, 0.f, Ph, T);
      for (int64_t i = 0; i < T; ++i) {
        float* row = Ph + i * T;
        float m = -INFINITY;
        for (int64_t j = 0; j <= i; ++j)
          if (!sg || sg[j] == sg[i]) m = row[j] > m ? row[j] : m;
        double sum = 0;
        if (!sg) {   // causal: the prefix [0, i] in one vector pass (ops/vmath.h), the rest zero
          sum = exp_sum_f32(row, row, i + 1, m);
          std::fill(row + i + 1, row + T, 0.f);
        } else {
          for (int64_t j = 0; j < T; ++j) {
            const bool on = j <= i && sg[j] == sg[i];
            row[j] = on ? std::exp(row[j] - m) : 0.f;
            sum += row[j];
          }
        }
        const float inv = float(1.0 / sum);
        for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      }
      // O = P V  [T,Dv]
      gemm(false, false, T, s.Dv, T, 1.f, Ph, T, vh, vs, 0.f, o + b * T * vs + h * s.Dv, vs);
    }
}

// dP = dO V^T; dV += P^T dO; dS = P ⊙ (dP − rowsum(P ⊙ dP)); dQ += scale·dS K; dK += scale·dS^T Q.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* P, const float* q,
                        const float* k, const float* v, const AttnShape& s, float scale) {
  const int64_t T = s.T, qs = s.H * s.Dq, vs = s.H * s.Dv;
#pragma omp parallel if (worth_parallel(2 * s.B * s.H * T * T * (s.Dq + s.Dv)))
  {
    std::vector<float> dS(static_cast<size_t>(T * T));
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t h = 0; h < s.H; ++h) {
        const int64_t qo = b * T * qs + h * s.Dq, vo = b * T * vs + h * s.Dv;
        const float* Ph = P + (b * s.H + h) * T * T;
        gemm(false, true, T, T, s.Dv, 1.f, dout + vo, vs, v + vo, vs, 0.f, dS.data(), T);
        gemm(true, false, T, s.Dv, T, 1.f, Ph, T, dout + vo, vs, 1.f, dv + vo, vs);
        for (int64_t i = 0; i < T; ++i) {
          const float* p = Ph + i * T;
          float* d = dS.data() + i * T;
          double dot = 0;
          for (int64_t j = 0; j <= i; ++j) dot += double(p[j]) * d[j];
          for (int64_t j = 0; j < T; ++j) d[j] = j <= i ? p[j] * (d[j] - float(dot)) : 0.f;
        }
        gemm(false, false, T, s.Dq, T, scale, dS.data(), T, k + qo, qs, 1.f, dq + qo, qs);
        gemm(true, false, T, s.Dq, T, scale, dS.data(), T, q + qo, qs, 1.f, dk + qo, qs);
      }
  }
}

}  // namespace nanoseek
