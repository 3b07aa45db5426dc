// The base-model sections of a recipe — [model], [data], [train], [eval] — everything pretraining reads
// (pipeline/recipe.h parses them from TOML with the other sections; each key's help is declared there once).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/loader.h"
#include "train/trainer.h"

namespace nanoseek {

struct PretrainSpec {
  std::string path;                   // the file it came from (for messages)
  // [model]
  std::string model_config;           // "" = inline only
  nlohmann::json model_inline = nlohmann::json::object();
  // [data]
  CorpusSpec data;
  std::string corpus;                 // prebuilt corpus dir ("" = build into OUT/corpus)
  PromptFormat format = PromptFormat::R1Zero;
  Pack pack = Pack::Docs;             // data/loader.h
  // [train]
  int64_t steps = 1000, batch_size = 16, seq_len = 256, grad_accum = 1;
  OptimSpec optim{.lr = 1e-3, .min_lr = 1e-4, .warmup = 50};
  double gamma = 0.001, gamma_until = 1.0, alpha = 0.0, mtp_lambda = 0.3;
  uint64_t seed = 1234;
  int64_t log_every = 10, ckpt_every = 0, keep_ckpts = 2, threads = 0;  // threads 0 = OMP default
  // [eval]
  int64_t eval_every = 0, val_batches = 8, problems_per_level = 50, max_new_tokens = 160;
  std::vector<std::string> eval_tasks;  // empty = data.tasks
  std::vector<std::string> eval_levels; // empty = every level
};

// The model config: file + inline fields, with vocab/bos/eos from the tokenizer unless given.
nlohmann::json model_config_json(const PretrainSpec& r, int64_t vocab_size, int64_t bos_id, int64_t eos_id);

}  // namespace nanoseek
