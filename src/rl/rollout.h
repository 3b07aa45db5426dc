// One rollout of an on-policy RL step (GRPO and PPO alike), and the steps that make and report it:
//   sample_rollout   problems (task by weight, level uniform, train split) → prompts → the engine's G completions
//                    each, with the sampling log-probs it recorded (π_old)
//   score_rollout    the decoded completions through the reward functions → each function's value and the weighted
//                    reward per sample
//   rollout_metrics  TRL-named rollout metrics (reward, reward_std, rewards/<fn>/mean, completion lengths, ...)
//   log_completions, print_rollout_progress   completions.jsonl and the progress line
// The advantages are the algorithm's own (rl/grpo_stage.h: group-relative; rl/ppo_stage.h: GAE from a critic).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "infer/engine.h"
#include "rl/grpo_spec.h"
#include "rl/rewards.h"
#include "tasks/task.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

// P problems × G completions, prompt-major (sequence i = prompt i / G, sample i % G).
struct Rollout {
  std::vector<Problem> problems;                 // [P]
  std::vector<int> task_of;                      // [P] index into the stage's tasks
  std::vector<std::vector<int32_t>> prompts;     // [P]
  std::vector<Completion> comps;                 // [P·G] tokens and their sampling log-probs (π_old)
  // score_rollout
  std::vector<std::string> texts;                // [P·G] decoded completions
  std::vector<float> rewards;                    // [P·G] Σ_f weight_f · parts[f]
  std::vector<std::vector<double>> parts;        // [n_reward_fns][P·G] each function's raw value
  double frac_zero_std = 0;                      // share of groups whose rewards are all equal (no GRPO signal)
  double t_sample = 0, t_score = 0;              // seconds: generation; decoding + rewards
};

// Sequence i's completion tokens in rollout token order: [tok_off[i], tok_off[i+1]). [P·G+1]
std::vector<int64_t> token_offsets(const Rollout& ro);

// The engine samples spec.group completions of each of spec.prompts prompts; a pure function of (spec.seed, step)
// and the policy's weights. Errors when a prompt + max_new_tokens would not fit in max_positions.
Rollout sample_rollout(const GrpoSpec& s, std::span<const std::unique_ptr<Task>> tasks, const Tokenizer& tok,
                       PromptFormat fmt, Engine& engine, int64_t max_positions, int64_t step);

// Fills texts, parts, rewards and frac_zero_std. fns[f] is spec.rewards[f], weighted by spec.reward_weights[f].
void score_rollout(Rollout& ro, const GrpoSpec& s, std::span<const std::unique_ptr<Task>> tasks,
                   std::span<const RewardFn> fns, const Tokenizer& tok);

// Constant over the step's micro-batches: reward, reward_std (mean within-group std), rewards/<fn>/mean,
// rewards/accuracy/<level>, frac_reward_zero_std, completions/{mean,max,min}_length, completions/clipped_ratio,
// completions/mean_terminated_length, completions/mean_length/<level>, time/rollout, time/reward.
std::map<std::string, double> rollout_metrics(const Rollout& ro, const GrpoSpec& s);

// A few completions of the first two groups (with their reward parts and `seq_adv`, the advantage each sequence
// trains with) appended to `path` as JSON lines.
void log_completions(const Rollout& ro, const GrpoSpec& s, std::span<const float> seq_adv, int64_t step,
                     const std::string& path);

// "rollout STEP: reward … | len … | accuracy by level | timing" on stdout, from rollout_metrics' values `mt`.
void print_rollout_progress(const Rollout& ro, const GrpoSpec& s, const std::map<std::string, double>& mt,
                            int64_t step);

}  // namespace nanoseek
