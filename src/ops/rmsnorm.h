// RMSNorm: y = x / sqrt(mean(x²) + eps) · g        (spec §1.7; fp32 statistics)
// Legend: N rows, C channels. x may be a strided view (x_stride >= C), e.g. the latent part of kv_a's output.
#pragma once
#include <cstdint>

namespace nanoseek {

// y[N,C] (overwrite), rstd[N] saved for backward.
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* g, int64_t N, int64_t C, float eps,
                     int64_t x_stride);
// dx[N,x_stride] += ..., dg[C] += ...   (dy[N,C] contiguous)
void rmsnorm_backward(float* dx, float* dg, const float* dy, const float* x, const float* g, const float* rstd,
                      int64_t N, int64_t C, int64_t x_stride);

}  // namespace nanoseek
