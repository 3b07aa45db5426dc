#include "model/decode_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/vmath.h"

namespace nanoseek {

std::string CachePlan::describe() const {
  return fmt::format("KV cache {:.1f} MiB: {} slots x {} tokens x {} layers x {} values ({}, fp32)",
                     double(bytes) / (1 << 20), slots, max_len, layers, values_per_token, kind);
}

void DecodeCore::check_shape(int64_t slots, int64_t max_len, int64_t max_pos) {
  check(slots >= 1 && max_len >= 2, "engine: need at least 1 slot and 2 positions (got {} x {})", slots, max_len);
  check(max_len <= max_pos, "engine: max_len {} exceeds the model's position table ({})", max_len, max_pos);
}

void DecodeCore::check_inputs(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n) const {
  for (int64_t i = 0; i < n; ++i) {
    check(tok[i] >= 0 && tok[i] < vocab, "token id {} is outside the vocabulary [0, {})", tok[i], vocab);
    check(pos[i] >= 0 && pos[i] < plan.max_len, "position {} exceeds the engine's max_len {}", pos[i], plan.max_len);
    check(slot[i] >= 0 && slot[i] < plan.slots, "cache slot {} outside [0, {})", slot[i], plan.slots);
  }
}

double DecodeCore::exp_scores(float* s, int64_t len, float scale) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < len; ++j) s[j] *= scale, mx = std::max(mx, s[j]);
  return exp_sum_f32(s, s, len, mx);
}

void DecodeCore::causal_exp_rows(float* S, int64_t rows, int64_t p0, float scale, double* z) {
  const int64_t p1 = p0 + rows;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * p1 * 8))
  for (int64_t t = 0; t < rows; ++t) {
    float* st = S + t * p1;
    const int64_t len = p0 + t + 1;
    z[t] = exp_scores(st, len, scale);
    std::fill(st + len, st + p1, 0.f);
  }
}

void DecodeCore::divide_rows(float* y, int64_t rows, int64_t ld, int64_t width, const double* z) {
  for (int64_t t = 0; t < rows; ++t) {
    const float inv = float(1.0 / z[t]);
    for (int64_t k = 0; k < width; ++k) y[t * ld + k] *= inv;
  }
}

void DecodeCore::reserve_cache(int64_t slots, int64_t max_len, int64_t layers, int64_t values_per_token,
                               const char* kind) {
  plan = {slots, max_len, layers, values_per_token, 0, kind};
  plan.bytes = size_t(layers * slots * max_len * values_per_token) * sizeof(float);
  cache_.assign(plan.bytes / sizeof(float), 0.f);
}

void DecodeCore::copy_prefix(int64_t from, int64_t to, int64_t len) {
  for (int64_t L = 0; L < plan.layers; ++L)
    std::memcpy(row(L, to, 0), row(L, from, 0), sizeof(float) * size_t(len * plan.values_per_token));
}

void DecodeCore::head_logits(const float* x, const std::vector<int64_t>& rows, const float* norm,
                             const float* lm_head, int64_t d, float eps, float* xn, float* rstd, float* out) const {
  if (rows.empty()) return;
  const int64_t nr = int64_t(rows.size());
  for (int64_t k = 0; k < nr; ++k) std::memcpy(&xn[k * d], &x[rows[k] * d], sizeof(float) * d);
  rmsnorm_forward(xn, rstd, xn, norm, nr, d, eps, d);
  linear_forward(out, xn, lm_head, nr, d, vocab);
}

}  // namespace nanoseek
