// PPO as a training stage (grpo.algo = "ppo"): the critic-based baseline GRPO replaces (DeepSeekMath §4.1 eq 1–2),
// on the same rollouts, tasks and rule rewards (rl/rl_stage.h). Per rollout: a critic (rl/critic.h) of the policy's
// size gives V(s_t) for every completion token; per-token rewards (the outcome on the last token, a k1 KL penalty
// on every token when β > 0) and GAE(γ, λ) give advantages and value targets (rl/ppo.h). Per micro-batch: the same
// clipped surrogate as GRPO with per-token advantages, and the critic's clipped value loss; the critic takes its
// own AdamW step once per optimizer step.
//
// Departures from the paper (DeepSeekMath §4.1 PPO; its math in rl/ppo.h, the critic in rl/critic.h), beyond those
// of rl/rl_stage.h:
//  1. Rewards are the rule rewards of the GRPO runs (accuracy, format, ...), not a learned reward model, and are
//     not group-normalised (the critic is the baseline); G > 1 still samples several outputs per prompt, so both
//     algorithms see the same rollouts.
//  2. Advantages are whitened over the whole rollout (not per mini-batch), once per rollout: with μ > 1 every
//     update on a rollout uses the values, advantages and returns computed when it was sampled.
//  3. The value loss is a token mean over the whole rollout, clipped with grpo.value_clip; the critic's AdamW
//     (lr grpo.value_lr, betas 0.9/0.95, no weight decay) clips its gradient norm with grpo.clip like the policy.
//  4. The critic (weights, AdamW moments, step count) is stored in each checkpoint as critic.safetensors and read
//     back on --resume; final/ holds the policy only.
//  5. The KL penalty's reference is GRPO's (rl/rl_stage.h departure 5): kept only when β > 0, reset every
//     ref_reset_every steps.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rl/critic.h"
#include "rl/rl_stage.h"

namespace nanoseek {

class PpoStage : public RlStage {
 public:
  // s.algo must be "ppo".
  PpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
           std::string out_dir, bool quiet);
  ~PpoStage() override;
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override;
  void save_resume_files(const std::string& ckpt_dir) const override { critic_->save(ckpt_dir + "/critic.safetensors"); }
  void load_resume_files(const std::string& ckpt_dir) override { critic_->load(ckpt_dir + "/critic.safetensors"); }

 private:
  // advantages: the critic's values, per-token rewards, GAE whitened over the rollout, and the value targets
  void gae_advantages();
  double extra_memory_bytes(double workspace_bytes) const override;

  std::unique_ptr<Critic> critic_;
  // the installed rollout's, [tokens] in rollout token order
  std::vector<float> values_old_, adv_tok_, returns_;
  std::vector<float> seq_adv_;  // [P·G] mean of each completion's token advantages (completions.jsonl)
};

}  // namespace nanoseek
