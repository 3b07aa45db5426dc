#include "core/parallel.h"
#include "ops/cross_entropy.h"
#include "ops/vmath.h"

#include <cmath>

namespace nanoseek {

static inline float row_max(const float* x, int64_t V) {
  float m = x[0];
  for (int64_t v = 1; v < V; ++v) m = x[v] > m ? x[v] : m;
  return m;
}

// exp in float (ops/vmath.h, ≤ 2 ulp), the sum in double
static inline double row_logsumexp(const float* x, int64_t V) {
  const float m = row_max(x, V);
  return double(m) + std::log(exp_sum_f32(nullptr, x, V, m));
}

CeResult cross_entropy_forward(const float* logits, const int32_t* targets, int64_t N, int64_t V, float* row_loss) {
  double sum = 0;
  int64_t count = 0;
#pragma omp parallel for reduction(+ : sum, count) schedule(static) if (worth_parallel(N * V))
  for (int64_t n = 0; n < N; ++n) {
    float l = 0;
    if (targets[n] >= 0) {
      const float* x = logits + n * V;
      l = float(row_logsumexp(x, V) - double(x[targets[n]]));
      sum += l;
      count += 1;
    }
    if (row_loss) row_loss[n] = l;
  }
  return {sum, count};
}

void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                            float grad_scale, const float* row_scale) {
#pragma omp parallel for schedule(static) if (worth_parallel(N * V))
  for (int64_t n = 0; n < N; ++n) {
    const float* x = logits + n * V;
    float* d = dlogits + n * V;
    if (targets[n] < 0) {
      for (int64_t v = 0; v < V; ++v) d[v] = 0.f;
      continue;
    }
    const double lse = row_logsumexp(x, V);
    const int32_t t = targets[n];
    const float gs = row_scale ? grad_scale * row_scale[n] : grad_scale;
    // d = gs·softmax(x) − gs·onehot(t): softmax as exp(x − m)/Σ with the row max m as the shift (exp's argument is
    // exact), normalised by the double sum
    const float m = row_max(x, V);
    const double z = std::exp(lse - double(m));
    exp_sum_f32(d, x, V, m, float(double(gs) / z));
    d[t] -= gs;
  }
}

void token_logprobs(float* out, const float* logits, const int32_t* targets, int64_t N, int64_t V) {
#pragma omp parallel for schedule(static) if (worth_parallel(N * V))
  for (int64_t n = 0; n < N; ++n)
    out[n] = targets[n] < 0 ? 0.f : float(double(logits[n * V + targets[n]]) - row_logsumexp(logits + n * V, V));
}

}  // namespace nanoseek
