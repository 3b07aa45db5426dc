// Evaluation, one module for every stage and command: validation loss over a token shard; greedy task accuracy by
// task and difficulty level on held-out problems (generated with tasks/ sample_problem for a split the training data
// never used), with the prompt format of the corpus (data/corpus.h); and the R1 protocol below.
//
// Evaluation by the R1 protocol (spec §7.4): n samples per problem at temperature 0.6 / top-p 0.95;
// pass@1 = mean correctness over the samples, unbiased pass@k (Chen et al. 2021: 1 − C(n−c, k)/C(n, k)),
// cons@k = majority vote over the first k samples' answer keys (unreadable answers do not vote; ties go to the
// earliest sample), mean response length in tokens; overall and per difficulty level.
// Departures from the protocol, all deliberate:
//  1. Generation stops at max_new_tokens (256 by default, the recipes' budget), not 32,768: a truncated response
//     is simply scored (usually Unparseable, hence wrong).
//  2. k = 8 samples by default (R1: 4–64 by test-set size, 64 for cons@64), and n = k unless asked: pass@k is then
//     the plain "any of the k correct" of one draw of k (unbiased, but noisier than with n > k samples).
//  3. The response is not forced to start with "<think>\n" (R1's usage recommendation): the model opens the block
//     itself, in its own prompt format.
//  4. Sampling is an inverse-CDF draw from the temperature-scaled, top-p-truncated softmax (infer/sampler.h), not
//     the official exponential race: the same distribution, other random streams. Each sample's stream depends only
//     on the seed and the problem list (infer/engine.h generate_batched), so a rerun reproduces the report.
//  5. Ties in the cons@k vote go to the earliest sample (R1 does not say); response length counts the stop token.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/loader.h"
#include "data/shard.h"
#include "infer/engine.h"
#include "model/language_model.h"
#include "tasks/task.h"
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

// --- The R1 protocol

struct EvalOptions {
  std::string task = "add";
  std::vector<std::string> levels;   // empty = every level of the task
  int64_t problems_per_level = 50;
  int k = 8;                         // pass@k and cons@k
  int n = 0;                         // samples per problem (0 = k); pass@k is unbiased when n > k
  float temperature = 0.6f, top_p = 0.95f;
  int max_new_tokens = 256;
  uint64_t seed = 0;
  Split split = Split::Test;
  PromptFormat format = PromptFormat::R1Zero;
  int64_t max_batch = 64;
  DecodeWeights weights = DecodeWeights::F32;   // what the engine's matmuls read (infer/engine.h)
};

struct EvalStats {
  int k = 0;
  int64_t n_problems = 0;
  double pass1 = 0, passk = 0, consk = 0, mean_response_tokens = 0;
  nlohmann::json to_json() const;
};

struct EvalReport {
  EvalOptions options;
  EvalStats overall;
  std::vector<std::pair<std::string, EvalStats>> by_level;  // in the task's level order
  nlohmann::json to_json() const;   // keys: k, pass@1, pass@k, cons@k, n_problems, mean_response_tokens, by_difficulty
  std::string markdown() const;
};

double pass_at_k(int64_t n, int64_t c, int64_t k);

// progress(done, total) is called after each engine batch.
EvalReport evaluate(const LanguageModel& m, const Tokenizer& tok, const EvalOptions& o,
                    const std::function<void(int64_t, int64_t)>& progress = {});
// Either architecture, as a loaded model directory (infer/session.h load_text_model) with its own tokenizer.
struct TextModel;
EvalReport evaluate(const TextModel& m, const EvalOptions& o,
                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace nanoseek
