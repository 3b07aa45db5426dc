// PPO baseline: token rewards, GAE, whitening, clipped value loss (see ppo.h).
#include "rl/ppo.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nanoseek {

namespace {
void check_offsets(std::span<const int64_t> offsets, const char* fn) {
  check(!offsets.empty() && offsets[0] == 0, "{}: offsets must start with 0 (S+1 entries)", fn);
  for (size_t s = 1; s < offsets.size(); ++s)
    check(offsets[s] >= offsets[s - 1], "{}: offsets[{}] = {} < offsets[{}] = {}", fn, s, offsets[s], s - 1,
          offsets[s - 1]);
}
void check_size(size_t got, size_t want, const char* fn, const char* name) {
  check(got == want, "{}: {} has {} entries, expected {}", fn, name, got, want);
}
}  // namespace

std::vector<float> ppo_token_rewards(std::span<const int64_t> offsets, std::span<const float> outcome,
                                     std::span<const float> logp_old, std::span<const float> logp_ref,
                                     double kl_coef) {
  check_offsets(offsets, "ppo_token_rewards");
  const size_t S = offsets.size() - 1, N = size_t(offsets[S]);
  check_size(outcome.size(), S, "ppo_token_rewards", "outcome");
  const bool kl = kl_coef != 0;
  if (kl) {
    check_size(logp_old.size(), N, "ppo_token_rewards", "logp_old");
    check_size(logp_ref.size(), N, "ppo_token_rewards", "logp_ref");
  }
  std::vector<float> r(N, 0.f);
  for (size_t s = 0; s < S; ++s) {
    for (int64_t t = offsets[s]; t < offsets[s + 1]; ++t) {
      double v = kl ? -kl_coef * (double(logp_old[size_t(t)]) - double(logp_ref[size_t(t)])) : 0.0;
      if (t == offsets[s + 1] - 1) v += outcome[s];
      r[size_t(t)] = float(v);
    }
  }
  return r;
}

void gae(std::span<const int64_t> offsets, std::span<const float> rewards, std::span<const float> values,
         double gamma, double lambda, std::span<float> advantages, std::span<float> returns) {
  check_offsets(offsets, "gae");
  const size_t N = size_t(offsets.back());
  check_size(rewards.size(), N, "gae", "rewards");
  check_size(values.size(), N, "gae", "values");
  check_size(advantages.size(), N, "gae", "advantages");
  check_size(returns.size(), N, "gae", "returns");
  check(gamma >= 0 && gamma <= 1 && lambda >= 0 && lambda <= 1, "gae: gamma and lambda must be in [0, 1], got {} {}",
        gamma, lambda);
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    double next_v = 0, next_a = 0;  // past the end: terminal
    for (int64_t t = offsets[s + 1] - 1; t >= offsets[s]; --t) {
      const size_t i = size_t(t);
      const double delta = double(rewards[i]) + gamma * next_v - double(values[i]);
      next_a = delta + gamma * lambda * next_a;
      next_v = values[i];
      advantages[i] = float(next_a);
      returns[i] = float(next_a + double(values[i]));
    }
  }
}

void whiten(std::span<float> x) {
  const size_t n = x.size();
  check(n >= 2, "whiten: needs at least 2 values, got {}", n);
  double mean = 0;
  for (float v : x) mean += v;
  mean /= double(n);
  double ss = 0;
  for (float v : x) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / double(n - 1));
  // A spread at float rounding level is noise, not signal (equal rewards with a β > 0 KL term differing only in
  // ~1e-7 rounding): dividing by it would turn the noise into unit advantages. Such a rollout carries no signal,
  // as a GRPO group of equal rewards does: every advantage 0.
  double rms = 0;
  for (float v : x) rms += double(v) * v;
  rms = std::sqrt(rms / double(n));
  if (sd <= 1e-6 * rms) {   // ~10 float ulps of the values
    std::fill(x.begin(), x.end(), 0.f);
    return;
  }
  for (float& v : x) v = float((v - mean) / (sd + 1e-8));
}

ValueLossOut value_loss(std::span<const float> values, std::span<const float> values_old,
                        std::span<const float> returns, double clip_eps, std::span<float> dvalues) {
  const size_t N = values.size();
  check(N > 0, "value_loss: no tokens");
  check_size(values_old.size(), N, "value_loss", "values_old");
  check_size(returns.size(), N, "value_loss", "returns");
  check_size(dvalues.size(), N, "value_loss", "dvalues");
  check(clip_eps >= 0, "value_loss: clip_eps must be >= 0, got {}", clip_eps);
  double loss = 0;
  int64_t n_clip = 0;
  for (size_t i = 0; i < N; ++i) {
    const double v = values[i], vo = values_old[i], R = returns[i];
    const double d = v - vo, dc = std::clamp(d, -clip_eps, clip_eps);
    const double vc = vo + dc;
    const double e1 = (v - R) * (v - R), e2 = (vc - R) * (vc - R);
    double g;  // d max(e1, e2) / dv
    if (e2 > e1) {
      ++n_clip;
      g = dc == d ? 2 * (vc - R) : 0.0;  // the clipped value is constant in v outside the band
    } else {
      g = 2 * (v - R);
    }
    loss += 0.5 * std::max(e1, e2);
    dvalues[i] = float(0.5 * g / double(N));
  }
  return {loss / double(N), double(n_clip) / double(N)};
}

}  // namespace nanoseek
