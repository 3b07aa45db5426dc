#include "core/parallel.h"
#include "ops/rmsnorm.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace nanoseek {

void rmsnorm_forward(float* y, float* rstd, const float* x, const float* g, int64_t N, int64_t C, float eps,
                     int64_t x_stride) {
#pragma omp parallel for schedule(static) if (worth_parallel(N * C * 4))
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * x_stride;
    float* yr = y + n * C;
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(xr[c]) * xr[c];
    float r = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
    rstd[n] = r;
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * r * g[c];
  }
}

// With y_c = x_c r g_c and r = (mean(x²)+eps)^-1/2:
//   dx_c = r g_c dy_c − x_c r³/C · Σ_j dy_j g_j x_j,   dg_c = Σ_n dy_c x_c r.
void rmsnorm_backward(float* dx, float* dg, const float* dy, const float* x, const float* g, const float* rstd,
                      int64_t N, int64_t C, int64_t x_stride) {
  const int nt = omp_get_max_threads();
  std::vector<float> dg_part(size_t(nt) * C, 0.f);
#pragma omp parallel if (worth_parallel(N * C * 8))
  {
    float* dgp = dg_part.data() + size_t(omp_get_thread_num()) * C;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + n * x_stride;
      const float* dyr = dy + n * C;
      float* dxr = dx + n * x_stride;
      const float r = rstd[n];
      double dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += double(dyr[c]) * g[c] * xr[c];
      const float k = float(dot) * r * r * r / float(C);
      for (int64_t c = 0; c < C; ++c) {
        dxr[c] += r * g[c] * dyr[c] - xr[c] * k;
        dgp[c] += dyr[c] * xr[c] * r;
      }
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) dg[c] += dg_part[size_t(t) * C + c];
}

}  // namespace nanoseek
