// Training recipes (the pipeline layer: every stage's spec in one file): one TOML file with [model], [data], [train] and [eval] sections (toml++).
//
//   [model]  config = "path/config.json" and/or inline HF config fields (inline fields override the file;
//            q_lora_rank = 0 means null). vocab_size / bos / eos default to the corpus tokenizer's.
//   [data]   the corpus (data/corpus.h CorpusSpec), or corpus = "DIR" to reuse a built one.
//   [train]  batch arithmetic, optimizer, schedule, balancing (gamma, alpha), MTP (mtp_lambda), checkpoints.
//   [eval]   validation loss and greedy accuracy by task and level.
//   [grpo]   the GRPO stage (rl/grpo_spec.h); [r1zero] the R1-Zero pipeline's before/after evaluation.
// Keys are strict: an unknown key is an Error naming it (with the file) and the nearest valid key.
// Overrides: apply_override(r, "train.lr=3e-4") — the value is parsed as the field's type.
// Every field is declared once in recipe.cpp's table (name, type, help): parsing, --set and the help print
// all walk that table.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rl/distill.h"
#include "rl/grpo_spec.h"
#include "train/pretrain_spec.h"
#include "train/sft.h"

namespace nanoseek {

struct Recipe : PretrainSpec {   // path, [model], [data], [train], [eval] (train/pretrain_spec.h)
  // [grpo]  (nanoseek grpo, and the RL stage of nanoseek r1zero)
  GrpoSpec grpo;
  // [sft], [distill]  (nanoseek sft / distill: every key is also that command's flag, e.g. sft.lr = --lr; the model,
  // data and output paths are flags only)
  SftOptions sft;
  DistillOptions distill;
  // [r1zero]  the before/after evaluation of the R1-Zero pipeline (R1 protocol: T 0.6, top-p 0.95, k samples)
  std::string r1_base_recipe;            // recipe that pretrains the base model ("" = this file)
  std::string r1_task;                   // task evaluated ("" = grpo.tasks[0])
  std::vector<std::string> r1_levels;    // levels evaluated (default every level)
  int64_t r1_problems = 50, r1_k = 8, r1_max_new_tokens = 0;  // 0 = grpo.max_new_tokens
  // [r1]  the four-stage R1 pipeline (rl/r1.h): cold-start SFT, reasoning RL ([grpo]), rejection-sampling SFT,
  // all-round RL
  int64_t cold_start_n = 400;
  std::vector<std::string> cold_start_styles{"long", "selfcheck"};
  int64_t sft_steps = 0, sft_batch = 8, sft_seq_len = 256;
  double sft_epochs = 2.0, sft_lr = 3e-4;
  int64_t rl1_steps = 0;                  // 0 = grpo.steps
  int64_t rejection_problems = 100, rejection_k = 8;  // problems per level, samples per problem
  double rejection_temperature = 0.6;     // rejection sampling temperature (higher: more distinct samples)
  std::vector<std::string> rl2_tasks;     // all-round RL tasks (default grpo.tasks)
  std::vector<std::string> rl2_levels;    // all-round RL levels (default: every level of rl2_tasks, else grpo.levels)
  std::vector<std::string> rl2_rewards;   // default grpo.rewards
  int64_t rl2_steps = 0;                  // 0 = grpo.steps
};

Recipe load_recipe(const std::string& path);
Recipe parse_recipe(const std::string& toml_text, const std::string& label);
void apply_override(Recipe& r, const std::string& assignment);   // "section.key=value"
std::string recipe_help();   // every key: type, help, default and the paper's value

// One section's keys as command-line flags of the command that section configures (`nanoseek sft` for [sft]):
// --flag VALUE sets `key` exactly as --set key=VALUE would (lists are comma-separated). Name, help, default and the
// paper's value come from the same table as the recipe keys, so a flag and its key cannot drift apart.
struct SectionFlag {
  std::string key, flag, help, default_value, type;   // type: INT, NUMBER, BOOL, TEXT, LIST or a|b|c
  bool list = false;
};
std::vector<SectionFlag> section_flags(const std::string& section);
void apply_flag(Recipe& r, const SectionFlag& f, const std::string& value);

// `nanoseek pretrain RECIPE`: the recipe file with --set overrides, pretrained by train/pretrain.h run_pretrain.
struct PretrainResult;
PretrainResult pretrain_recipe(const std::string& recipe_path, const std::string& out_dir,
                               const std::vector<std::string>& overrides, bool resume, bool quiet = false);

size_t edit_distance(const std::string& a, const std::string& b);
std::string did_you_mean(const std::string& key, const std::vector<std::string>& valid);  // " (did you mean 'x'?)"

}  // namespace nanoseek
