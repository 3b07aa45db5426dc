// GRPO as a training stage (R1-Zero's RL, spec §7.1): each rollout samples `prompts` task problems, G outputs per
// prompt from the generation engine, scores them with rule rewards, and turns rewards into group-relative
// advantages; then `mu` optimizer steps of the clipped surrogate (rl/grpo.h) run on that rollout. What it shares
// with PPO (rl/ppo_stage.h) — the rollout, the reference, the policy's forward/backward — is rl/rl_stage.h.
//
// Departures from the paper (R1 §2.2, DeepSeekMath §4.1), beyond those of rl/rl_stage.h (scale, fresh problems,
// whole-rollout updates, π_old, the reference's lifetime, router bias, MTP) and of the loss math in rl/grpo.h:
//  1. KL: β = 0 by default (Dr. GRPO / DAPO practice at small scale; R1 uses 0.001, DeepSeekMath 0.04), which drops
//     the reference model altogether. With β > 0 it is the paper's k3 estimator, in the loss (not the reward).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rl/rl_stage.h"

namespace nanoseek {

class GrpoStage : public RlStage {
 public:
  // s.algo must be "grpo" (run_grpo builds a PpoStage for "ppo").
  GrpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
            std::string out_dir, bool quiet);
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override;

 private:
  std::vector<float> adv_;  // [P·G] the installed rollout's group-relative advantages
};

struct GrpoRunResult {
  bool completed = false;
  int64_t steps = 0;
  double train_seconds = 0, total_seconds = 0;
};

struct PretrainSpec;
// `nanoseek grpo` (the recipe's [grpo] section `g`, optimizer included; from `base`, its [train] section, the
// checkpoint period and count, threads, and its path for messages): loads spec.init (or `init_dir` when given; either
// architecture), trains with the stage g.algo names (GrpoStage, or PpoStage for "ppo"), writes OUT/final (a model
// dir with the tokenizer and eval.json), OUT/metrics.jsonl and OUT/completions.jsonl.
GrpoRunResult run_grpo(const GrpoSpec& g, const PretrainSpec& base, const std::string& init_dir,
                       const std::string& out_dir, bool resume,
                       bool quiet);

// The prompt format a model directory was trained with (its eval.json "prompt_format"; r1-zero when absent).
PromptFormat model_prompt_format(const std::string& dir);

}  // namespace nanoseek
