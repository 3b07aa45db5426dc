// Rejection sampling (R1 §2.3.3): k samples per task problem from a model, keep the completions that the rule
// rewards accept — accuracy AND format (rl/rewards.h) on the whole assistant text — drop exact duplicates within a
// problem, and write the survivors as chat JSONL (data/chat_data.h) for the next SFT round. Each line carries
// {"problem": problem_to_json, "level"} next to "messages", so the file can be re-verified.
// Departure from R1: only the final answer and the tag layout are checked. R1 also drops chains of thought with
// mixed languages, long paragraphs or code blocks; a small model can reach the right answer through wrong steps
// ("14 + 66 … So 30 + 12 = 99 … <answer>80</answer>") and such a sample is kept here.
//
//   RejectionOptions o; o.model_dir = "runs/sft/final"; o.task = "add"; o.out = "rs.jsonl";
//   RejectionStats st = rejection_sample(o);   // st.kept, st.by_level[i].keep_rate() ...
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"

namespace nanoseek {

// The filter: 1 from both accuracy_reward and format_reward. `assistant` is the whole assistant content.
bool accept_completion(const Task& task, const Problem& p, std::string_view assistant);
// The accepted texts of one problem, first occurrence of each kept, in input order.
std::vector<std::string> select_completions(const Task& task, const Problem& p, const std::vector<std::string>& texts);

struct RejectionOptions {
  std::string model_dir, task = "add", out;
  std::vector<std::string> levels;     // empty = every level of the task
  int64_t problems = 50;               // problems per level
  int k = 8;                           // samples per problem (they share one prefill)
  float temperature = 0.6f, top_p = 0.95f;
  int max_new_tokens = 256;
  uint64_t seed = 0;                   // problems and sampling
  Split split = Split::Train;
  std::string rendering = "auto";      // prompt rendering (data/chat_data.h rendering_for_model)
  int64_t max_batch = 64;              // engine slots
  bool quiet = false;
};

struct RejectionLevelStats {
  std::string level;
  int64_t problems = 0, samples = 0, kept = 0, problems_with_kept = 0;
  double keep_rate() const { return samples ? double(kept) / double(samples) : 0.0; }
};

struct RejectionStats {
  int64_t problems = 0, samples = 0, accepted = 0, kept = 0, duplicates = 0, problems_with_kept = 0;
  std::vector<RejectionLevelStats> by_level;
  double seconds = 0;
  double keep_rate() const { return samples ? double(kept) / double(samples) : 0.0; }
  nlohmann::json to_json() const;
  std::string summary() const;  // a few lines: totals and the keep rate by level
};

RejectionStats rejection_sample(const RejectionOptions& o);

}  // namespace nanoseek
