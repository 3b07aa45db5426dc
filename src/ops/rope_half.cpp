#include "ops/rope_half.h"

#include <cmath>

#include "core/parallel.h"

namespace nanoseek {

RopeHalfTable make_rope_half_table(int64_t D, int64_t P, double base) {
  RopeHalfTable t;
  t.dim = D;
  t.max_pos = P;
  const int64_t h = D / 2;
  t.cos.resize(size_t(P * h));
  t.sin.resize(size_t(P * h));
  for (int64_t i = 0; i < h; ++i) {
    const double inv_freq = std::pow(base, -double(2 * i) / double(D));
    for (int64_t p = 0; p < P; ++p) {
      const double a = double(p) * inv_freq;
      t.cos[p * h + i] = float(std::cos(a));
      t.sin[p * h + i] = float(std::sin(a));
    }
  }
  return t;
}

namespace {
// sign = +1: forward rotation; sign = −1: its transpose.
void rotate(float* x, const int32_t* pos, int64_t N, int64_t nh, const RopeHalfTable& t, float sign) {
  const int64_t D = t.dim, h = D / 2;
#pragma omp parallel for schedule(static) if (worth_parallel(N * nh * D))
  for (int64_t n = 0; n < N; ++n) {
    const float* c = &t.cos[int64_t(pos[n]) * h];
    const float* s = &t.sin[int64_t(pos[n]) * h];
    for (int64_t head = 0; head < nh; ++head) {
      float* r = x + (n * nh + head) * D;
      for (int64_t i = 0; i < h; ++i) {
        const float a = r[i], b = r[i + h], sn = sign * s[i];
        r[i] = a * c[i] - b * sn;
        r[i + h] = b * c[i] + a * sn;
      }
    }
  }
}
}  // namespace

void rope_half_forward(float* x, const int32_t* pos, int64_t N, int64_t nh, const RopeHalfTable& t) {
  rotate(x, pos, N, nh, t, 1.f);
}
void rope_half_backward(float* dx, const int32_t* pos, int64_t N, int64_t nh, const RopeHalfTable& t) {
  rotate(dx, pos, N, nh, t, -1.f);
}

}  // namespace nanoseek
