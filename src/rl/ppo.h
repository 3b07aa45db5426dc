// PPO baseline math (DeepSeekMath §4.1 eq 1–2, the critic-based method GRPO replaces): per-token rewards, GAE(γ, λ)
// advantages and returns, advantage whitening and the clipped value loss. The policy loss is grpo.h's policy_loss
// with PolicyBatch::adv_per_tok. Token arrays use grpo.h's layout: offsets[S+1], sequence s owns
// offsets[s] .. offsets[s+1) (its completion tokens).
//
// Departures from the paper: (1) the per-token KL penalty folded into the reward uses the k1 estimator
// log π_old − log π_ref (as DeepSeekMath eq 2 writes it); (2) the value after the last token is 0 (the sequence
// ended: no bootstrap from a truncation); (3) whitening uses the sample std (Bessel), like group_advantages, with
// eps 1e-8 in the denominator and the mean NOT added back, and a spread below 1e-6 of the values' rms (float
// rounding noise) gives all-zero advantages instead of amplified noise; (4) the value loss is 0.5·max((V−R)², (V_clip−R)²)
// averaged over all tokens of the batch (token mean), V_clip = V_old + clip(V − V_old, −ε_v, ε_v).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace nanoseek {

// r_t = −kl_coef·(logp_old_t − logp_ref_t), plus outcome[s] on each sequence's last token. logp_old/logp_ref may
// both be empty when kl_coef = 0. Empty sequences get no reward. Returns [N].
std::vector<float> ppo_token_rewards(std::span<const int64_t> offsets, std::span<const float> outcome,
                                     std::span<const float> logp_old, std::span<const float> logp_ref,
                                     double kl_coef);

// GAE per sequence, backwards: δ_t = r_t + γ·V_{t+1} − V_t (V after the last token = 0),
// A_t = δ_t + γλ·A_{t+1}; returns_t = A_t + V_t. advantages/returns [N] OVERWRITE.
void gae(std::span<const int64_t> offsets, std::span<const float> rewards, std::span<const float> values,
         double gamma, double lambda, std::span<float> advantages, std::span<float> returns);

// In place: x ← (x − mean)/(std + 1e-8) over all N entries (sample std). N < 2 is an error.
void whiten(std::span<float> x);

struct ValueLossOut {
  double loss = 0;
  double clip_frac = 0;  // share of tokens where the clipped term is the (strict) max
};
// values/values_old/returns [N]; dvalues [N] OVERWRITE = dLoss/dvalues.
ValueLossOut value_loss(std::span<const float> values, std::span<const float> values_old,
                        std::span<const float> returns, double clip_eps, std::span<float> dvalues);

}  // namespace nanoseek
