// PPO's value model — the critic GRPO does without (DeepSeekMath §4.1: "a value function ... typically another
// model of comparable size as the policy model"). It is a full copy of the policy's architecture initialised from
// the policy's weights; V(s_t) is logit 0 of its head (row 0 of lm_head acts as the value head and starts at zero,
// so every initial value is 0; the other V−1 rows are carried but unused — simple, and the memory a real critic of
// the same size costs). It has its own AdamW and is stepped by the PPO stage once per optimizer step.
//
// Departures from the paper (DeepSeekMath §4.1 says only "another model of comparable size"; its PPO follows the
// usual RLHF recipe), all deliberate:
//  1. Initialised from the POLICY (there is no reward model to start it from, as InstructGPT-style critics are), with
//     a zero value head: the head is exactly a bias-free d → 1 linear layer (row 0 of lm_head; the other rows get
//     zero gradient and, with weight decay 0, never move), so training starts from V ≡ 0.
//  2. V(s_t) is read at the position whose next token is o_t, i.e. the value of prompt + o_<t, the state before
//     the token is emitted; there is no value for the state after the last token (ppo.h: it is 0).
//  3. Its optimizer is AdamW at a CONSTANT learning rate (grpo.value_lr; no warmup or decay, unlike the policy),
//     betas 0.9/0.95, no weight decay; the gradient is averaged over the step's micro-batches and clipped to the
//     policy's global-norm threshold. No value pre-training before PPO starts.
//  4. The critic runs without MTP or balance loss, and its MoE router bias is never updated.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/language_model.h"
#include "rl/ppo.h"
#include "train/optimizer.h"

namespace nanoseek {

class Critic {
 public:
  Critic(const LanguageModel& policy, AdamWConfig opt, double lr, double clip);
  // V at the given flat positions (row·T + t) of batch b; out[k] ← V(pos[k]). No gradient.
  void values(const Batch& b, std::span<const int64_t> pos, std::span<float> out);
  // Clipped value loss of one micro-batch (ppo.h value_loss) at `pos`, its gradient × scale ACCUMULATED.
  ValueLossOut accumulate(const Batch& b, std::span<const int64_t> pos, std::span<const float> values_old,
                          std::span<const float> returns, double clip_eps, double scale);
  // AdamW step on the accumulated gradient (÷ accum, global-norm clip), then zero it.
  void step(int64_t accum);
  size_t bytes() const;  // params + grads + Adam moments
  // Weights, AdamW moments and step count in one safetensors file (a PPO checkpoint's critic.safetensors), so a
  // resumed run continues with the critic it stopped with.
  void save(const std::string& path) const;
  void load(const std::string& path);
  size_t workspace_bytes() const { return ws_ ? ws_->bytes : 0; }

 private:
  void plan(int64_t B, int64_t T);
  std::unique_ptr<LanguageModel> m_;
  AdamW opt_;
  double lr_, clip_;
  std::unique_ptr<Activations> ws_;
};

}  // namespace nanoseek
