// The [grpo] section of a recipe: everything one GRPO run needs besides the model (spec §7.1, R1 §2.2).
// Defaults are small-scale choices; the paper's values are beside them where it gives them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rl/grpo.h"
#include "train/trainer.h"

namespace nanoseek {

struct GrpoSpec {
  std::string init;                        // model dir to start from ("" = the pipeline's base model)
  std::vector<std::string> tasks{"add"};   // tasks the prompts come from (train split)
  std::vector<double> task_weights;        // sampling weight per task (default uniform)
  std::vector<std::string> levels;         // levels sampled uniformly (default every level of each task)
  int64_t steps = 100;                     // optimizer steps
  int64_t prompts = 16;                    // prompts per rollout (R1-Zero: 32 unique questions ... we are smaller)
  int64_t group = 8;                       // G outputs per prompt (R1: 16)
  int64_t micro_rows = 32;                 // sequences per forward/backward (memory bound; must divide prompts·group)
  int64_t mu = 1;                          // optimizer steps on each rollout (μ; π_old = the sampling policy)
  // R1: lr 3e-6 at 671B (tiny models want far more); constant schedule after warmup, no weight decay
  OptimSpec optim{.lr = 1e-4, .min_lr = 1e-5, .warmup = 5, .schedule = LrKind::Constant, .weight_decay = 0.0};
  double temperature = 1.0, top_p = 1.0;   // rollout sampling (R1: temperature 1)
  int64_t max_new_tokens = 160;
  double beta = 0.0;                       // KL coefficient (R1: 0.001); 0 drops the reference model
  double eps_low = 0.2, eps_high = 0.2;    // clip range (R1: 10 — effectively unclipped with μ = 1)
  bool scale_std = true;                   // A = (r − mean)/std; false: A = r − mean (Dr. GRPO)
  GrpoConfig::Agg agg = GrpoConfig::Agg::Sequence;   // sequence (the paper's 1/|o_i|) or token (DAPO)
  int64_t ref_reset_every = 0;             // copy the policy into the reference every N steps (R1: 400; 0 = never)
  RlAlgo algo = RlAlgo::Grpo;              // grpo, or ppo (the critic baseline, rl/critic.h)
  double value_lr = 1e-4, value_clip = 0.2;  // PPO critic: learning rate, value clip ε_v
  double gae_gamma = 1.0, gae_lambda = 0.95; // PPO: GAE discount and λ
  std::vector<std::string> rewards{"accuracy", "format"};
  std::vector<double> reward_weights;      // default all 1
  double gamma = 0.0;                      // aux-loss-free router bias speed during RL (0 = frozen)
  uint64_t seed = 1;
  int64_t log_every = 5;                   // progress line period
  int64_t log_completions_every = 25;      // a few sampled completions to completions.jsonl (0 = never)
  int64_t eval_every = 0;                  // periodic eval on validation problems (0 = off)
  int64_t eval_problems = 16;              // per level
  int64_t eval_k = 4;                      // samples per problem in periodic evals (R1 protocol: T 0.6, top-p 0.95)
};

}  // namespace nanoseek
