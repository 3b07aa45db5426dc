#include "core/parallel.h"
#include "ops/swiglu.h"

#include <cmath>

namespace nanoseek {

void swiglu_forward(float* h, const float* a, const float* b, size_t n) {
#pragma omp parallel for schedule(static) if (worth_parallel(int64_t(n) * 8))
  for (size_t i = 0; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-a[i]));
    h[i] = a[i] * s * b[i];
  }
}

// d silu(a)/da = σ(a)·(1 + a·(1 − σ(a)))
void swiglu_backward(float* da, float* db, const float* dh, const float* a, const float* b, size_t n) {
#pragma omp parallel for schedule(static) if (worth_parallel(int64_t(n) * 8))
  for (size_t i = 0; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-a[i]));
    const float silu = a[i] * s;
    db[i] = dh[i] * silu;
    da[i] = dh[i] * b[i] * s * (1.f + a[i] * (1.f - s));
  }
}

}  // namespace nanoseek
