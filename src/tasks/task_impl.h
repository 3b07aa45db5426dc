// Shared pieces of the task implementations (not part of the public task API).
#pragma once
#include <string>
#include <string_view>

#include "core/rng.h"
#include "tasks/answer.h"
#include "tasks/task.h"

namespace nanoseek {

std::unique_ptr<Task> make_add_task(bool chinese);  // "add" / "add-zh"
std::unique_ptr<Task> make_mul_task();
std::unique_ptr<Task> make_countdown_task();

// Index of `level` in task.levels(); throws Error naming the valid levels.
size_t level_index(const Task& task, std::string_view level);
// A per-(task, level, seed) random stream, so equal seeds in different tasks or levels are unrelated.
Rng problem_rng(std::string_view task, std::string_view level, uint64_t seed);

// Tasks whose answer is one integer (p.answer holds it normalized).
class IntegerTask : public Task {
 public:
  Verdict verify(const Problem& p, std::string_view completion) const override;
  std::optional<std::string> answer_key(const Problem& p, std::string_view completion) const override;
};

inline int64_t pow10(int d) {  // d <= 18
  int64_t p = 1;
  while (d-- > 0) p *= 10;
  return p;
}

// The R1 completion: "<think>\n{reasoning}\n</think>\n<answer>{answer}</answer>"; Bare when reasoning is empty.
std::string r1_completion(std::string_view reasoning, std::string_view answer);

}  // namespace nanoseek
