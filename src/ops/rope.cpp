#include "core/parallel.h"
#include "ops/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace nanoseek {

double yarn_mscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

RopeTable make_rope_table(int64_t R, double theta, const std::optional<YarnScaling>& yarn, int64_t max_pos) {
  RopeTable t;
  const int64_t half = R / 2;
  t.dim = R;
  t.max_pos = max_pos;
  t.inv_freq.resize(half);
  const double base = theta;
  for (int64_t j = 0; j < half; ++j) t.inv_freq[j] = std::pow(base, -double(2 * j) / double(R));
  if (yarn) {
    const YarnScaling& y = *yarn;
    auto corr_dim = [&](double rotations) {
      return double(R) * std::log(double(y.original_max_position_embeddings) / (rotations * 2.0 * std::numbers::pi)) /
             (2.0 * std::log(base));
    };
    double low = std::max(std::floor(corr_dim(y.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr_dim(y.beta_slow)), double(R - 1));
    if (low == high) high += 0.001;  // avoid a zero-width ramp
    for (int64_t j = 0; j < half; ++j) {
      double ramp = std::clamp((double(j) - low) / (high - low), 0.0, 1.0);
      double keep = 1.0 - ramp;  // 1 = keep the original (high-frequency) θ, 0 = fully interpolated θ/factor
      t.inv_freq[j] = t.inv_freq[j] / y.factor * (1.0 - keep) + t.inv_freq[j] * keep;
    }
    t.attn_factor = yarn_mscale(y.factor, y.mscale) / yarn_mscale(y.factor, y.mscale_all_dim);
  }
  t.cos.resize(size_t(max_pos * half));
  t.sin.resize(size_t(max_pos * half));
  for (int64_t p = 0; p < max_pos; ++p)
    for (int64_t j = 0; j < half; ++j) {
      double a = double(p) * t.inv_freq[j];
      t.cos[p * half + j] = float(std::cos(a) * t.attn_factor);
      t.sin[p * half + j] = float(std::sin(a) * t.attn_factor);
    }
  return t;
}

double attention_softmax_scale(int64_t qk_head_dim, const std::optional<YarnScaling>& yarn) {
  double s = 1.0 / std::sqrt(double(qk_head_dim));
  if (yarn && yarn->mscale_all_dim != 0) {
    double m = yarn_mscale(yarn->factor, yarn->mscale_all_dim);
    s *= m * m;
  }
  return s;
}

template <bool kInverse>
static void rope_apply(float* x, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                       int64_t offset, const RopeTable& t) {
  const int64_t half = t.dim / 2;
  for (int64_t n = 0; n < N; ++n)  // validate before the parallel loop: exceptions must not cross OpenMP regions
    if (pos[n] < 0 || pos[n] >= t.max_pos) fail("rope: position {} outside the table [0, {})", pos[n], t.max_pos);
#pragma omp parallel for schedule(static) if (worth_parallel(N * heads * t.dim * 3))
  for (int64_t n = 0; n < N; ++n) {
    const int64_t p = pos[n];
    const float* cs = t.cos.data() + p * half;
    const float* sn = t.sin.data() + p * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + n * stride + h * head_stride + offset;
      for (int64_t j = 0; j < half; ++j) {
        const float a = v[2 * j], b = v[2 * j + 1];
        const float c = cs[j], s = kInverse ? -sn[j] : sn[j];
        v[2 * j] = a * c - b * s;
        v[2 * j + 1] = a * s + b * c;
      }
    }
  }
}

void rope_forward(float* x, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                  int64_t offset, const RopeTable& t) {
  rope_apply<false>(x, pos, N, heads, stride, head_stride, offset, t);
}

void rope_backward(float* dx, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                   int64_t offset, const RopeTable& t) {
  rope_apply<true>(dx, pos, N, heads, stride, head_stride, offset, t);
}

}  // namespace nanoseek
