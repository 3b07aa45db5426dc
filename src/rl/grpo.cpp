// GRPO advantages and the clipped-surrogate + k3 loss; see grpo.h for the math and the departures from the paper.
#include "rl/grpo.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nanoseek {

GrpoConfig::Agg parse_agg(const std::string& name) {
  if (name == "sequence") return GrpoConfig::Agg::Sequence;
  if (name == "token") return GrpoConfig::Agg::Token;
  fail("grpo.agg: '{}' is not sequence or token", name);
}
const char* agg_name(GrpoConfig::Agg a) { return a == GrpoConfig::Agg::Token ? "token" : "sequence"; }

RlAlgo parse_rl_algo(const std::string& name) {
  if (name == "grpo") return RlAlgo::Grpo;
  if (name == "ppo") return RlAlgo::Ppo;
  fail("grpo.algo: '{}' is not grpo or ppo", name);
}
const char* rl_algo_name(RlAlgo a) { return a == RlAlgo::Ppo ? "ppo" : "grpo"; }

std::vector<float> group_advantages(std::span<const float> rewards, int group_size, bool scale_by_std,
                                    double* frac_zero_std) {
  check(group_size > 0, "group_advantages: group_size must be > 0, got {}", group_size);
  check(rewards.size() % size_t(group_size) == 0,
        "group_advantages: {} rewards is not a whole number of groups of {}", rewards.size(), group_size);
  for (size_t i = 0; i < rewards.size(); ++i)
    check(std::isfinite(rewards[i]), "group_advantages: reward {} is not finite ({})", i, rewards[i]);
  const size_t G = size_t(group_size), n_groups = rewards.size() / G;
  std::vector<float> adv(rewards.size());
  for (size_t g = 0; g < n_groups; ++g) {
    const float* r = rewards.data() + g * G;
    double mean = 0;
    for (size_t i = 0; i < G; ++i) mean += r[i];
    mean /= double(G);
    double ss = 0;
    for (size_t i = 0; i < G; ++i) ss += (r[i] - mean) * (r[i] - mean);
    const double sd = G > 1 ? std::sqrt(ss / double(G - 1)) : 0.0;  // sample std (departure 1)
    const double denom = scale_by_std ? sd + kAdvStdEps : 1.0;
    for (size_t i = 0; i < G; ++i) adv[g * G + i] = float((r[i] - mean) / denom);
  }
  if (frac_zero_std) *frac_zero_std = frac_zero_std_groups(rewards, group_size);
  return adv;
}

double frac_zero_std_groups(std::span<const float> rewards, int group_size) {
  check(group_size > 0 && rewards.size() % size_t(group_size) == 0,
        "frac_zero_std_groups: {} rewards is not a whole number of groups of {}", rewards.size(), group_size);
  const size_t G = size_t(group_size), n_groups = rewards.size() / G;
  size_t zero_std = 0;
  for (size_t g = 0; g < n_groups; ++g) {
    const float* r = rewards.data() + g * G;
    if (std::all_of(r, r + G, [&](float v) { return v == r[0]; })) ++zero_std;
  }
  return n_groups ? double(zero_std) / double(n_groups) : 0.0;
}

namespace {

void check_finite(std::span<const float> v, const char* name) {
  for (size_t i = 0; i < v.size(); ++i)
    check(std::isfinite(v[i]), "policy_loss: {}[{}] is not finite ({})", name, i, v[i]);
}

void check_batch(const GrpoConfig& cfg, const PolicyBatch& b, std::span<float> dlogp_new) {
  check(cfg.eps_low >= 0 && cfg.eps_high >= 0, "policy_loss: eps_low/eps_high must be >= 0, got {}/{}",
        cfg.eps_low, cfg.eps_high);
  check(cfg.beta >= 0, "policy_loss: beta must be >= 0, got {}", cfg.beta);
  check(!b.offsets.empty() && b.offsets[0] == 0, "policy_loss: offsets must start with 0 (S+1 entries)");
  for (size_t s = 1; s < b.offsets.size(); ++s)
    check(b.offsets[s] >= b.offsets[s - 1], "policy_loss: offsets[{}] = {} < offsets[{}] = {}", s, b.offsets[s],
          s - 1, b.offsets[s - 1]);
  const size_t S = b.offsets.size() - 1, N = size_t(b.offsets[S]);
  check(b.logp_new.size() == N, "policy_loss: logp_new has {} entries, offsets say {}", b.logp_new.size(), N);
  check(b.logp_old.size() == N, "policy_loss: logp_old has {} entries, offsets say {}", b.logp_old.size(), N);
  check(dlogp_new.size() == N, "policy_loss: dlogp_new has {} entries, offsets say {}", dlogp_new.size(), N);
  check(b.logp_ref.empty() || b.logp_ref.size() == N, "policy_loss: logp_ref has {} entries, offsets say {}",
        b.logp_ref.size(), N);
  check(cfg.beta == 0 || !b.logp_ref.empty(), "policy_loss: beta = {} > 0 needs logp_ref", cfg.beta);
  check(b.mask.empty() || b.mask.size() == N, "policy_loss: mask has {} entries, offsets say {}", b.mask.size(), N);
  check(b.adv_per_seq.empty() != b.adv_per_tok.empty(),
        "policy_loss: give exactly one of adv_per_seq (GRPO) and adv_per_tok (PPO)");
  check(b.adv_per_seq.empty() || b.adv_per_seq.size() == S, "policy_loss: adv_per_seq has {} entries, {} sequences",
        b.adv_per_seq.size(), S);
  check(b.adv_per_tok.empty() || b.adv_per_tok.size() == N, "policy_loss: adv_per_tok has {} entries, {} tokens",
        b.adv_per_tok.size(), N);
  check_finite(b.logp_new, "logp_new");
  check_finite(b.logp_old, "logp_old");
  check_finite(b.logp_ref, "logp_ref");
  check_finite(b.adv_per_seq, "adv_per_seq");
  check_finite(b.adv_per_tok, "adv_per_tok");
}

}  // namespace

PolicyLossOut policy_loss(const GrpoConfig& cfg, const PolicyBatch& b, std::span<float> dlogp_new) {
  check_batch(cfg, b, dlogp_new);
  const size_t S = b.offsets.size() - 1;
  auto counts = [&](int64_t t) { return b.mask.empty() || b.mask[size_t(t)] != 0; };

  PolicyLossOut out;
  std::vector<int64_t> len(S, 0);  // unmasked tokens per sequence
  for (size_t s = 0; s < S; ++s) {
    for (int64_t t = b.offsets[s]; t < b.offsets[s + 1]; ++t) len[s] += counts(t);
    out.n_tokens += len[s];
    out.n_seqs += len[s] > 0;
  }
  check(out.n_tokens > 0, "policy_loss: no unmasked completion token in a batch of {} sequences", S);

  const double lo = 1.0 - cfg.eps_low, hi = 1.0 + cfg.eps_high;
  const bool have_ref = !b.logp_ref.empty();
  double loss = 0, kl_sum = 0;
  int64_t n_clip_low = 0, n_clip_high = 0;
  for (size_t s = 0; s < S; ++s) {
    // w: dLoss/dℓ_t for every token of this sequence (departure 3 / 4).
    const double w = len[s] == 0 ? 0.0
                     : cfg.agg == GrpoConfig::Agg::Sequence ? 1.0 / (double(out.n_seqs) * double(len[s]))
                                                            : 1.0 / double(out.n_tokens);
    double seq_loss = 0;  // Σ_t ℓ_t, scaled by w once (keeps the sum's rounding per sequence)
    for (int64_t t = b.offsets[s]; t < b.offsets[s + 1]; ++t) {
      const size_t i = size_t(t);
      if (!counts(t)) {
        dlogp_new[i] = 0.f;
        continue;
      }
      const double A = b.adv_per_tok.empty() ? double(b.adv_per_seq[s]) : double(b.adv_per_tok[i]);
      // Surrogate. x clamped (departure 5): outside the clamp ρ is constant, so dρ/dlogp_new = 0.
      const double x_raw = double(b.logp_new[i]) - double(b.logp_old[i]);
      const double x = std::clamp(x_raw, -kMaxLogRatio, kMaxLogRatio);
      const double dx = x_raw == x ? 1.0 : 0.0;
      const double rho = std::exp(x);
      const double unclipped = rho * A, clipped = std::clamp(rho, lo, hi) * A;
      double surr, dsurr;  // dsurr = d surr / d logp_new
      if (clipped < unclipped) {  // clip active: the bound is constant in θ
        surr = clipped;
        dsurr = 0;
        (A < 0 ? n_clip_low : n_clip_high) += 1;
      } else {
        surr = unclipped;
        dsurr = rho * A * dx;
      }
      double k3 = 0, dk3 = 0;  // dk3 = d k3 / d logp_new
      if (have_ref) {
        const double y_raw = double(b.logp_ref[i]) - double(b.logp_new[i]);
        const double y = std::clamp(y_raw, -kMaxLogRatio, kMaxLogRatio);
        const double ey = std::exp(y);
        k3 = ey - y - 1.0;  // ≥ 0; exact 0 at y = 0
        dk3 = y_raw == y ? 1.0 - ey : 0.0;  // d/dy (e^y − y − 1) · dy/dlogp_new = (e^y − 1)·(−1)
        kl_sum += k3;
      }
      seq_loss += -(surr - cfg.beta * k3);
      dlogp_new[i] = float(w * -(dsurr - cfg.beta * dk3));
    }
    loss += w * seq_loss;
  }
  out.loss = loss;
  const double n = double(out.n_tokens);
  out.kl = kl_sum / n;
  out.clip_ratio_low = double(n_clip_low) / n;
  out.clip_ratio_high = double(n_clip_high) / n;
  out.clip_ratio = double(n_clip_low + n_clip_high) / n;
  return out;
}

}  // namespace nanoseek
