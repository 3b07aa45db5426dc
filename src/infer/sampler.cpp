#include "infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace nanoseek {

void check_sampling(const SamplingParams& sp) {
  check(std::isfinite(sp.temperature) && sp.temperature >= 0,
        "sampling: temperature (--temperature) must be a finite number >= 0 (0 = greedy), got {}", sp.temperature);
  check(std::isfinite(sp.top_p) && sp.top_p > 0 && sp.top_p <= 1,
        "sampling: top_p (--top-p) must be in (0, 1], got {}", sp.top_p);
  check(sp.top_k >= 0, "sampling: top_k (--top-k) must be >= 0 (0 = off), got {}", sp.top_k);
  check(sp.max_new_tokens >= 0, "sampling: max_new_tokens (--max-tokens) must be >= 0, got {}", sp.max_new_tokens);
}

Sampled sample_token(const float* logits, int64_t V, const SamplingParams& sp, Rng& rng, std::vector<float>& prob,
                     std::vector<int32_t>& order) {
  float gmx = logits[0];
  for (int64_t v = 1; v < V; ++v) gmx = std::max(gmx, logits[v]);
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(double(logits[v] - gmx));
  const double lse = double(gmx) + std::log(z);
  auto logprob = [&](int32_t t) { return float(double(logits[t]) - lse); };
  if (sp.vocab_limit > 0 && sp.vocab_limit < V) V = sp.vocab_limit;  // from here on: drawable ids only
  float mx = logits[0];
  int32_t arg = 0;
  for (int64_t v = 1; v < V; ++v)
    if (logits[v] > mx) mx = logits[v], arg = int32_t(v);
  if (sp.temperature <= 0.f) return {arg, logprob(arg)};

  // p_v ∝ exp((l_v − max)/T), then keep the top-k and the smallest prefix of mass ≥ top_p.
  prob.resize(size_t(V));
  order.resize(size_t(V));
  const double invT = 1.0 / double(sp.temperature);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += prob[v] = float(std::exp(double(logits[v] - mx) * invT));
  int64_t keep = V;
  if ((sp.top_k > 0 && sp.top_k < V) || sp.top_p < 1.f) {
    std::iota(order.begin(), order.end(), 0);
    const int64_t k = sp.top_k > 0 ? std::min<int64_t>(sp.top_k, V) : V;
    auto by_prob = [&](int32_t a, int32_t b) { return prob[a] > prob[b] || (prob[a] == prob[b] && a < b); };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), by_prob);
    keep = k;
    if (sp.top_p < 1.f) {
      double kept_total = 0;
      for (int64_t i = 0; i < k; ++i) kept_total += prob[order[i]];
      double acc = 0;
      for (int64_t i = 0; i < k; ++i) {
        acc += prob[order[i]];
        if (acc >= double(sp.top_p) * kept_total) {  // HF order: top-k first, then top-p on what remains
          keep = i + 1;
          break;
        }
      }
    }
    double ksum = 0;
    for (int64_t i = 0; i < keep; ++i) ksum += prob[order[i]];
    double u = rng.uniform() * ksum;
    for (int64_t i = 0; i < keep; ++i) {
      u -= prob[order[i]];
      if (u < 0) return {order[i], logprob(order[i])};
    }
    return {order[keep - 1], logprob(order[keep - 1])};
  }
  double u = rng.uniform() * sum;
  for (int64_t v = 0; v < V; ++v) {
    u -= prob[v];
    if (u < 0) return {int32_t(v), logprob(int32_t(v))};
  }
  return {int32_t(V - 1), logprob(int32_t(V - 1))};
}

}  // namespace nanoseek
