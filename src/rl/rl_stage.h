// What GRPO (rl/grpo_stage.h) and PPO (rl/ppo_stage.h) share as training stages on the Trainer: the tasks, reward
// functions and generation engine a rollout comes from (rl/rollout.h), the frozen reference, the rollout's training
// rows, and the policy's clipped-surrogate forward/backward. Each algorithm's micro_step reads top to bottom:
//   a new rollout every μ steps:  sample → score → install → advantages (its own) → report
//   every micro-batch:            forward_policy → the loss's inputs (its own) → backward_policy → result
// The engine reads the policy's own parameter buffer: the sampler and the trainer share one set of weights, nothing
// is copied.
//
// Departures from the paper (R1 §2.2, DeepSeekMath §4.1) shared by both algorithms:
//  1. Scale: tens of prompts × G = 8 per step instead of 32 × 16 at 8,192 tokens; the learning rate is that of a
//     tiny model (1e-4-ish), not 3e-6.
//  2. Data: every rollout draws fresh problems from the task generators (train split; a pure function of seed and
//     step), where R1 makes 1.6 epochs over a fixed question set.
//  3. Updates: each of the μ optimizer steps on a rollout uses the WHOLE rollout (micro-batches only accumulate its
//     gradient); R1 splits each rollout into 16 mini-batches, one optimizer step each.
//  4. π_old is the policy that sampled the rollout, with its log-probs recorded by the engine at sampling time
//     (not recomputed); with μ = 1 the ratio is exactly 1 up to float rounding between the cached absorbed decoder
//     and the training forward (≤ 1e-5).
//  5. The reference (kept when β > 0) is a frozen copy, reset to the policy every ref_reset_every steps (R1: every
//     400). A --resume restarts it from the resumed policy: the reference is not stored in checkpoints.
//  6. The MoE router bias is frozen during RL by default (gamma = 0); the paper does not say.
//  7. The MTP module is not trained in RL (λ = 0: it is not run at all).
#pragma once
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "infer/engine.h"
#include "model/language_model.h"
#include "rl/grpo.h"
#include "rl/grpo_spec.h"
#include "rl/rewards.h"
#include "rl/rollout.h"
#include "tasks/task.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace nanoseek {

// The policy is any LanguageModel: the DeepSeek-V3 model or a dense Qwen2/Llama student.
class RlStage : public TrainStage {
 public:
  // `init_dir`: the model directory the policy came from (its tokenizer files and eval.json are carried into every
  // checkpoint and the final directory).
  RlStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
          std::string out_dir, bool quiet);
  ~RlStage() override;
  int64_t grad_accum() const { return accum_; }
  std::map<std::string, double> evaluate(LanguageModel& m, int64_t step) override;
  void save_extra(const std::string& dir) const override;
  std::vector<std::string> logs() const override;   // completions.jsonl
  void restore(const nlohmann::json&) override;
  std::string memory_plan() const;  // MiB of policy (+grads, Adam), reference, critic, workspace, cache

 protected:
  // One micro-batch of the rollout as training rows: prompt + completion, targets on completion tokens only.
  struct Chunk {
    std::vector<int32_t> ids, targets;    // [R·T]
    std::vector<int64_t> offsets, pos;    // [R+1] token offsets; pos[k] = row·T + t whose target is token k
    std::vector<float> logp_old;          // [tokens] sampling-time log-probs
    int64_t row0 = 0, tok0 = 0;           // first row's sequence index; first token's index in rollout order
  };
  // The policy's forward on one chunk: log π_θ of the completion tokens and what the metrics need.
  struct PolicyPass {
    Chunk ch;
    Batch b;                              // over ch (weights set by backward_policy)
    std::vector<float> logp_new;          // [tokens]
    std::vector<std::vector<int64_t>> expert_load;
    double entropy = 0, ppo_kl = 0, drift = 0;  // sums / max over the chunk's tokens
    double t0 = 0;                        // when the micro-step's training work began
  };

  // Resets the reference when due; true when step starts a new rollout (every μ steps, and after a resume).
  bool begin_step(const LanguageModel& m, int64_t step);
  // sample: problems → prompts → completions with their sampling log-probs (rollout.h sample_rollout). Virtual only
  // so a test can teacher-force known completions into the stage; everything after it runs unchanged.
  virtual Rollout sample(int64_t step);
  void score(Rollout& ro) const;  // reward functions → rewards (rollout.h score_rollout)
  // Makes `ro` the rollout the next μ steps train on: its token layout, the workspace, its metrics.
  void install(Rollout ro, int64_t step);
  // completions.jsonl and the progress line, when their periods say so; seq_adv [P·G] as trained with.
  void report(int64_t step, std::span<const float> seq_adv) const;
  Chunk make_chunk(int micro) const;
  PolicyPass forward_policy(const LanguageModel& m, int micro);
  std::vector<float> reference_logp(const Chunk& ch, const Batch& b);  // log π_ref of ch's tokens (needs ref_)
  GrpoConfig clip_config() const;                          // ε_low, ε_high and the aggregation; β = 0
  // policy_loss on pb, its gradient as per-token weights −dL/dlogp (scaled so the micro-batches sum to the whole
  // rollout's loss) into policy.backward. Returns the loss term's output; *factor ← the scale applied.
  PolicyLossOut backward_policy(LanguageModel& m, PolicyPass& p, const GrpoConfig& gc, const PolicyBatch& pb,
                                double* factor);
  // loss, clip ratios, entropy, ppo_kl, logp_drift_max, time/update, memory; with the rollout's metrics.
  MicroResult policy_result(const PolicyPass& p, const PolicyLossOut& out, double factor) const;
  // memory the algorithm adds to the plan, given one activation workspace's bytes (PPO: its critic)
  virtual double extra_memory_bytes(double workspace_bytes) const { return 0; }
  void ensure_workspace(int64_t T);

  GrpoSpec s_;
  const LanguageModel& policy_;
  Tokenizer tok_;
  PromptFormat fmt_;
  std::string init_dir_, out_dir_;
  bool quiet_;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<RewardFn> reward_fns_;
  int64_t accum_ = 1;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<LanguageModel> ref_;  // β > 0 only
  std::unique_ptr<Activations> ws_, ref_ws_;
  // the installed rollout and its layout
  Rollout ro_;
  std::vector<int64_t> tok_off_;        // [P·G+1] completion-token offsets (rollout token order)
  int64_t ro_T_ = 0, ro_tokens_ = 0, ro_seqs_ = 0, ro_step_ = -1;
  std::map<std::string, double> ro_metrics_;
};

}  // namespace nanoseek
