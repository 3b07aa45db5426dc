#include "rl/kd_loss.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace nanoseek {

namespace {
double log_sum_exp(const float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  return double(mx) + std::log(s);
}
}  // namespace

void topk_logprobs(const float* logits, int64_t V, int64_t K, int32_t* ids, float* logprobs) {
  check(K >= 1 && K <= V, "top-k log-probs: k = {} must be in [1, {}]", K, V);
  const double lse = log_sum_exp(logits, V);
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int64_t i = 0; i < K; ++i) ids[i] = order[i], logprobs[i] = float(double(logits[order[i]]) - lse);
}

double topk_kl(const float* logits, int64_t V, const int64_t* rows, int64_t R, int64_t K, const int32_t* ids,
               const float* logprobs, double scale, float* dlogits) {
  double total = 0;
  for (int64_t r = 0; r < R; ++r) {
    const float* z = logits + rows[r] * V;
    const int32_t* id = ids + r * K;
    const float* lp = logprobs + r * K;
    const double lse_s = log_sum_exp(z, V), lse_t = log_sum_exp(lp, K);
    double kl = 0;
    for (int64_t i = 0; i < K; ++i) {
      check(id[i] >= 0 && id[i] < V, "distillation: teacher id {} outside the student vocabulary [0, {})", id[i], V);
      const double logp = double(lp[i]) - lse_t;
      kl += std::exp(logp) * (logp - (double(z[id[i]]) - lse_s));
    }
    total += kl;
    if (!dlogits) continue;
    float* dz = dlogits + rows[r] * V;
    for (int64_t v = 0; v < V; ++v) dz[v] += float(scale * std::exp(double(z[v]) - lse_s));
    for (int64_t i = 0; i < K; ++i) dz[id[i]] -= float(scale * std::exp(double(lp[i]) - lse_t));
  }
  return scale * total;
}

}  // namespace nanoseek
