// Rule-based rewards for GRPO (R1 §2.2.2 accuracy + format; R1 §2.3.2 language consistency). Pure functions of
// (task, problem, completion). `completion` is the whole assistant text: when a prompt pre-fills "<think>\n",
// prepend it before calling, so the format check sees the opening tag.
//
// Departures from the paper, all deliberate:
//  1. Accuracy is our tasks' exact verifiers (integer answers compared after normalisation, countdown expressions
//     evaluated exactly) on the final answer read as tasks/answer.h says — the last <answer>…</answer> or \boxed{…}
//     after the last </think>; R1 checks a boxed math answer by rules and code by test cases.
//  2. Format is stricter than R1's "reasoning inside <think> … </think>": the WHOLE completion must be one think
//     block then one answer block (has_r1_format), so an answer missing or outside <answer> earns no format reward.
//  3. Language consistency counts words by script (Latin runs for "en", each Han ideograph for "zh"; only those
//     two); no closed think block scores 0 and a think block without words 1.0 — the paper defines only the ratio.
//  4. Every reward is in [0, 1]; the stage sums them with grpo.reward_weights (R1: accuracy + format with equal
//     weight; our r1zero recipes weigh format 0.2).
//
//   RewardFn acc = reward_fn("accuracy");
//   RewardResult r = acc(*task, problem, completion);   // r.value in [0, 1]
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"

namespace nanoseek {

// `verdict`: for accuracy, the verifier's verdict (Unparseable kept apart from Wrong); for format, Correct when
// well-formed else Wrong; for language, Unparseable when there is no closed <think> block, else Correct when every
// word is in the target language and Wrong otherwise.
struct RewardResult {
  double value = 0;
  Verdict verdict = Verdict::Unparseable;
};

// 1 iff the task verifier says Correct.
RewardResult accuracy_reward(const Task& task, const Problem& p, std::string_view completion);

// 1 iff, ignoring leading/trailing whitespace, the completion is exactly
//   <think> R </think> (whitespace) <answer> A </answer>
// with R and A each holding a non-whitespace character and no <think>, </think>, <answer>, </answer> inside.
// One think block, one answer block, in that order, nothing but whitespace between or around them.
RewardResult format_reward(std::string_view completion);

// Share of the words inside the first <think>…</think> that are in `lang` ("en": Latin-script words; "zh": Han
// characters). A word is a maximal run of Unicode letters (categories L*, with combining marks M* continuing a
// run); each Han ideograph is a word by itself; digits, punctuation, symbols and invalid UTF-8 separate words and
// count for nothing; a run mixing scripts counts as one non-target word unless it is all Latin. No closed think
// block: 0 (Unparseable). A think block with no words: 1.0 (nothing to penalise; the format reward judges emptiness).
RewardResult language_reward(std::string_view completion, std::string_view lang);

// By name, for recipes: "accuracy", "format", "language" (the target language is the problem's `lang`).
using RewardFn = std::function<RewardResult(const Task&, const Problem&, std::string_view completion)>;
RewardFn reward_fn(std::string_view name);  // throws Error listing the valid names
std::vector<std::string> reward_names();

}  // namespace nanoseek
