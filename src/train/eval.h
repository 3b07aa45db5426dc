// Evaluation shared by the training stages: validation loss over a token shard, and greedy task accuracy by task
// and difficulty level on held-out problems (generated with tasks/ sample_problem for a split the training data
// never used), with the prompt format of the corpus (data/corpus.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/loader.h"
#include "data/shard.h"
#include "model/language_model.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

// Mean next-token cross-entropy over the first n_batches B×T windows of the shard, in file order
// ("val_loss"), and the mean MTP cross-entropy of module 1 when the model has one ("val_mtp_loss").
std::map<std::string, double> validation_loss(const LanguageModel& m, const Shard& shard, int64_t B, int64_t T,
                                              int64_t n_batches, Pack pack = Pack::Docs);

struct AccuracyOptions {
  std::vector<std::string> tasks, levels;  // levels empty = every level of each task
  int64_t problems_per_level = 50;
  Split split = Split::Val;
  uint64_t seed = 7;
  int max_new_tokens = 160;
  PromptFormat format = PromptFormat::R1Zero;
  int64_t max_batch = 64;
};

// Keys: "acc/<task>/<level>", "acc/<level>" (mean over tasks), "acc" (all), "format_ok" (share of completions
// with the R1 <think>…</think><answer>…</answer> shape), "gen_tokens" (mean completion length).
std::map<std::string, double> task_accuracy(const LanguageModel& m, const Tokenizer& tok, const AccuracyOptions& o);

}  // namespace nanoseek
