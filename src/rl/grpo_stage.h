// GRPO as a training stage (R1-Zero's RL, spec §7.1): each rollout samples `prompts` task problems, G outputs per
// prompt from the generation engine, scores them with rule rewards, and turns rewards into group-relative
// advantages; then `mu` optimizer steps of the clipped surrogate (rl/grpo.h) run on that rollout. The engine reads
// the policy's own parameter buffer: the sampler and the trainer share one set of weights, nothing is copied.
//
// Departures from the paper (R1 §2.2, DeepSeekMath §4.1), beyond those of the loss math in rl/grpo.h:
//  1. Scale: tens of prompts × G = 8 per step instead of 32 × 16 at 8,192 tokens; the learning rate is that of a
//     tiny model (1e-4-ish), not 3e-6.
//  2. KL: β = 0 by default (Dr. GRPO / DAPO practice at small scale); β > 0 keeps a frozen reference copy, reset to
//     the policy every ref_reset_every steps (R1 resets every 400 steps). A --resume with β > 0 restarts the
//     reference from the resumed policy (the reference is not stored in checkpoints).
//  3. π_old is the policy that sampled the rollout, with its log-probs recorded by the engine at sampling time
//     (not recomputed); with μ = 1 the ratio is exactly 1 up to float rounding between the cached absorbed decoder
//     and the training forward (≤ 1e-5).
//  4. The MoE router bias is frozen during RL by default (gamma = 0); the paper does not say.
//  5. The MTP module is not trained in RL (λ = 0: it is not run at all).
// algo = "ppo" runs the baseline GRPO replaced, on the same rollouts and task: a critic (rl/critic.h) of the
// policy's size, per-token rewards with a k1 KL penalty (β), GAE(γ, λ) advantages whitened over the rollout, the
// same clipped surrogate with per-token advantages, and a clipped value loss (rl/ppo.h). Rewards are not
// group-normalised there (the critic is the baseline); G > 1 still samples several outputs per prompt.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "infer/engine.h"
#include "model/language_model.h"
#include "rl/critic.h"
#include "rl/grpo.h"
#include "rl/grpo_spec.h"
#include "rl/rewards.h"
#include "tasks/task.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace nanoseek {

// One rollout: P problems × G completions, prompt-major (sequence i = prompt i / G, sample i % G).
struct Rollout {
  std::vector<Problem> problems;                 // [P]
  std::vector<int> task_of;                      // [P] index into the stage's tasks
  std::vector<std::vector<int32_t>> prompts;     // [P]
  std::vector<Completion> comps;                 // [P·G]
  std::vector<std::string> texts;                // [P·G] decoded completions
  std::vector<float> rewards, adv;               // [P·G]
  std::vector<std::vector<double>> parts;        // [n_reward_fns][P·G] each function's raw value
  double frac_zero_std = 0;
  std::vector<int64_t> tok_off;                  // [P·G+1] completion-token offsets (rollout token order)
  std::vector<float> values_old, adv_tok, returns;  // PPO only: [tokens] critic values, GAE advantages, targets
};

// The policy is any LanguageModel: the DeepSeek-V3 model or a dense Qwen2/Llama student (GRPO and PPO alike).
class GrpoStage : public TrainStage {
 public:
  // `init_dir`: the model directory the policy came from (its tokenizer files and eval.json are carried into every
  // checkpoint and the final directory).
  GrpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
            std::string out_dir, bool quiet);
  ~GrpoStage() override;
  int64_t grad_accum() const { return accum_; }
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override;
  std::map<std::string, double> evaluate(LanguageModel& m, int64_t step) override;
  void save_extra(const std::string& dir) const override;
  void restore(const nlohmann::json&) override;
  std::string memory_plan() const;  // MiB of policy (+grads, Adam), reference, workspace, cache

 private:
  // One micro-batch of the rollout as training rows: prompt + completion, targets on completion tokens only.
  struct Chunk {
    std::vector<int32_t> ids, targets;    // [R·T]
    std::vector<int64_t> offsets, pos;    // [R+1] token offsets; pos[k] = row·T + t whose target is token k
    std::vector<float> logp_old, adv;     // [tokens] sampling-time log-probs; [R] group advantages
    int64_t tok0 = 0;                     // first token's index in rollout token order
  };
  void make_rollout(const LanguageModel& m, int64_t step);
  Chunk make_chunk(int micro);
  void ppo_prepare();
  void ensure_workspace(int64_t T);

  GrpoSpec s_;
  const LanguageModel& policy_;
  Tokenizer tok_;
  PromptFormat fmt_;
  std::string init_dir_, out_dir_;
  bool quiet_;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<RewardFn> reward_fns_;
  int64_t accum_ = 1, ro_T_ = 0, ro_tokens_ = 0, ro_seqs_ = 0;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<LanguageModel> ref_;
  std::unique_ptr<Critic> critic_;  // PPO only
  std::unique_ptr<Activations> ws_, ref_ws_;
  Rollout ro_;
  int64_t ro_step_ = -1;
  std::map<std::string, double> ro_metrics_;
  double t_update_ = 0;
};

struct GrpoRunResult {
  bool completed = false;
  int64_t steps = 0;
  double train_seconds = 0, total_seconds = 0;
};

struct PretrainSpec;
// `nanoseek grpo`: the recipe's [grpo] section `g` (optimizer included) and, from `base` (its [train] section), the
// checkpoint period and count, threads, and the recipe path for messages. Loads g.init (or `init_dir` when given;
// either architecture), trains, writes OUT/final (a model dir with the tokenizer and eval.json), OUT/metrics.jsonl
// and OUT/completions.jsonl.
GrpoRunResult run_grpo(const GrpoSpec& g, const PretrainSpec& base, const std::string& init_dir,
                       const std::string& out_dir, bool resume,
                       bool quiet);

// The prompt format a model directory was trained with (its eval.json "prompt_format"; r1-zero when absent).
PromptFormat model_prompt_format(const std::string& dir);

}  // namespace nanoseek
