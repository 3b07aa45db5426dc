// GRPO loss math (DeepSeekMath §4.1.1 eq 3–4; R1 eq 1–3; spec §7.1): group-relative advantages and the clipped
// surrogate with a k3 KL to a frozen reference, forward and backward together. No model here: the trainer gives
// per-token log-probs of the sampled tokens and gets back dLoss/dlogp_new, which it backpropagates through
// log-softmax (ops/cross_entropy.h token_logprobs).
//
// Departures from the paper (DeepSeekMath / R1), all deliberate:
//  1. Advantage std is the SAMPLE std (Bessel, divide by G−1; torch.std's default, what TRL uses); the paper does
//     not say. A group of one has std 0. We divide by (std + eps), eps = 1e-4, so a group of equal rewards gets
//     advantage 0 instead of 0/0. Std scaling can be switched off (Dr. GRPO: A = r − mean).
//  2. Separate ε_low / ε_high (DAPO "clip-higher"); the paper has one ε. R1's ε = 10 is eps_low = eps_high = 10
//     (the low clip 1 − 10 < 0 then never binds).
//  3. Aggregation switch: Sequence = the paper's (1/G) Σ_i (1/|o_i|) Σ_t; Token = Σ_all / Σ|o_i| (DAPO). Both
//     average over all P·G sequences of the batch (the paper's expectation over q).
//  4. Sequences with no unmasked tokens are skipped: they add nothing and are not counted in the Sequence mean
//     (their gradient is 0). A batch with no unmasked token at all is an error (a bug upstream, not a no-op step).
//  5. NaN safety: log(π_new/π_old) and log(π_ref/π_new) are clamped to [−kMaxLogRatio, kMaxLogRatio] = ±20 before
//     exp (e^20 ≈ 5e8, so ratio·A and k3 stay finite in double); where the clamp binds, the gradient through that
//     term is 0 (as torch.clamp's). Only reachable with stale π_old or a diverged policy.
//  6. Only outcome supervision (one advantage per sequence); process supervision and the iterative reward-model
//     update are not implemented. A per-token advantage entry point exists for the PPO baseline.
//  7. Ties in min(ρA, clip(ρ)A) (ρ inside the clip range) take the unclipped branch's gradient ρA, which equals the
//     sum of torch.minimum's half/half split there.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nanoseek {

inline constexpr double kMaxLogRatio = 20.0;
inline constexpr double kAdvStdEps = 1e-4;

// rewards[n_groups·group_size], group-major (group g = rewards[g·G .. g·G+G)). Returns A of the same shape.
// frac_zero_std (may be null) ← frac_zero_std_groups(rewards, group_size).
std::vector<float> group_advantages(std::span<const float> rewards, int group_size, bool scale_by_std,
                                    double* frac_zero_std);
// Share of groups whose rewards are all exactly equal: they carry no signal (every advantage in them is 0).
double frac_zero_std_groups(std::span<const float> rewards, int group_size);

struct GrpoConfig {
  enum class Agg { Sequence, Token };   // grpo.agg: "sequence" (the paper's 1/|o_i|) | "token" (DAPO)
  double eps_low = 0.2, eps_high = 0.2;  // clip(ρ, 1 − eps_low, 1 + eps_high)
  double beta = 0.0;                     // KL coefficient; 0 needs no reference log-probs
  Agg agg = Agg::Sequence;
};

// grpo.algo: the stage run_grpo builds — GRPO (group baseline) or PPO (critic + GAE baseline, rl/ppo_stage.h).
enum class RlAlgo { Grpo, Ppo };
RlAlgo parse_rl_algo(const std::string& name);          // Error naming grpo.algo and the valid names
const char* rl_algo_name(RlAlgo a);

GrpoConfig::Agg parse_agg(const std::string& name);   // Error naming grpo.agg and the valid names
const char* agg_name(GrpoConfig::Agg a);

// Token arrays are concatenated over S sequences: offsets[S+1], offsets[0] = 0, sequence s owns tokens
// offsets[s] .. offsets[s+1) (its completion tokens, the prompt excluded). N = offsets[S].
struct PolicyBatch {
  std::span<const int64_t> offsets;    // [S+1]
  std::span<const float> logp_new;     // [N] log π_θ(o_t) — the value being differentiated
  std::span<const float> logp_old;     // [N] log π_old(o_t), recorded at sampling
  std::span<const float> logp_ref;     // [N] log π_ref(o_t), or empty (required when beta > 0)
  std::span<const uint8_t> mask;       // [N] 1 = counts in the loss, 0 = ignored; empty = all count
  std::span<const float> adv_per_seq;  // [S] GRPO: one advantage per sequence ...
  std::span<const float> adv_per_tok;  // [N] ... or PPO: one per token (exactly one of the two is non-empty)
};

// Metrics use TRL's names; `entropy` is the caller's (it needs the full next-token distribution, not log-probs of
// the sampled tokens).
struct PolicyLossOut {
  double loss = 0;        // −J(θ), the value to minimize
  double kl = 0;          // mean k3 over unmasked tokens (0 when logp_ref is empty)
  double clip_ratio = 0;  // share of unmasked tokens where the clipped branch is the (strict) min
  double clip_ratio_low = 0, clip_ratio_high = 0;  // split by side: ρ < 1 − eps_low (A < 0), ρ > 1 + eps_high (A > 0)
  int64_t n_tokens = 0;   // unmasked tokens
  int64_t n_seqs = 0;     // sequences with at least one unmasked token
};

// Loss and dlogp_new[N] (OVERWRITE; 0 at masked tokens). Per token, with x = logp_new − logp_old:
//   ρ = e^x,  surr = min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A),  k3 = e^y − y − 1 with y = logp_ref − logp_new,
//   ℓ_t = −(surr − β·k3), and loss = Σ_t w_t ℓ_t with w_t = 1/(S'·|o_s|) (Sequence) or 1/N' (Token).
// Throws nanoseek::Error naming the array and index on bad shapes or non-finite inputs.
PolicyLossOut policy_loss(const GrpoConfig& cfg, const PolicyBatch& b, std::span<float> dlogp_new);

// The brief's GRPO entry point: policy_loss with one advantage per sequence and no mask.
inline PolicyLossOut grpo_loss(const GrpoConfig& cfg, std::span<const int64_t> offsets,
                               std::span<const float> logp_new, std::span<const float> logp_old,
                               std::span<const float> logp_ref, std::span<const float> adv_per_seq,
                               std::span<float> dlogp_new) {
  return policy_loss(cfg, PolicyBatch{offsets, logp_new, logp_old, logp_ref, {}, adv_per_seq, {}}, dlogp_new);
}

}  // namespace nanoseek
