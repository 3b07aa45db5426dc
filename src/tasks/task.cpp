#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "tasks/task_impl.h"

namespace nanoseek {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Correct: return "correct";
    case Verdict::Wrong: return "wrong";
    case Verdict::Unparseable: return "unparseable";
  }
  return "?";
}

namespace {
constexpr const char* kStyleNames[] = {"bare", "short", "long", "selfcheck", "wrong"};
constexpr const char* kLangNames[] = {"auto", "en", "zh", "mixed"};
constexpr const char* kSplitNames[] = {"train", "val", "test"};

template <size_t N>
size_t find_name(const char* const (&names)[N], std::string_view name, std::string_view what) {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i]) return i;
  fail("unknown {} '{}' (valid: {})", what, name, fmt::join(names, ", "));
}
}  // namespace

const char* style_name(SolutionStyle s) { return kStyleNames[static_cast<int>(s)]; }
SolutionStyle parse_style(std::string_view name) {
  return static_cast<SolutionStyle>(find_name(kStyleNames, name, "solution style"));
}
Lang parse_lang(std::string_view name) { return static_cast<Lang>(find_name(kLangNames, name, "language")); }
const char* split_name(Split s) { return kSplitNames[static_cast<int>(s)]; }
Split parse_split(std::string_view name) { return static_cast<Split>(find_name(kSplitNames, name, "split")); }

uint64_t hash_string(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(h);
}

Rng problem_rng(std::string_view task, std::string_view level, uint64_t seed) {
  return Rng(hash_string(fmt::format("{}|{}|{}", task, level, seed)));
}

size_t level_index(const Task& task, std::string_view level) {
  auto levels = task.levels();
  for (size_t i = 0; i < levels.size(); ++i)
    if (levels[i] == level) return i;
  fail("task {}: unknown level '{}' (valid: {})", task.name(), level, fmt::join(levels, ", "));
}

Split split_of(const Problem& p) {
  // A bilingual variant ("add-zh") shares its base task's split: same numbers, same problem.
  std::string_view family = p.task;
  if (family.size() > 3 && family.substr(family.size() - 3) == "-zh") family.remove_suffix(3);
  uint64_t h = hash_string(fmt::format("{}|{}|{}", family, fmt::join(p.numbers, ","), p.target)) % 100;
  return h < 90 ? Split::Train : h < 95 ? Split::Val : Split::Test;
}

Problem sample_problem(const Task& task, std::string_view level, Split split, uint64_t& rng_state) {
  for (int tries = 0; tries < 100000; ++tries) {
    Problem p = task.generate(level, splitmix64(rng_state));
    if (split_of(p) == split) return p;
  }
  fail("task {} level {}: no {} problem in 100000 draws", task.name(), level, split_name(split));
}

std::vector<std::string> task_names() { return {"add", "add-zh", "countdown", "mul"}; }

std::unique_ptr<Task> make_task(std::string_view name) {
  if (name == "add") return make_add_task(false);
  if (name == "add-zh") return make_add_task(true);
  if (name == "mul") return make_mul_task();
  if (name == "countdown") return make_countdown_task();
  fail("unknown task '{}' (valid: {})", name, fmt::join(task_names(), ", "));
}

Verdict IntegerTask::verify(const Problem& p, std::string_view completion) const {
  auto key = answer_key(p, completion);
  if (!key) return Verdict::Unparseable;
  auto want = normalize_integer(p.answer);  // problems read from JSON may spell it "+0042"
  return *key == (want ? *want : p.answer) ? Verdict::Correct : Verdict::Wrong;
}

std::optional<std::string> IntegerTask::answer_key(const Problem&, std::string_view completion) const {
  auto text = extract_final_answer(completion);
  if (!text) return std::nullopt;
  return normalize_integer(*text);
}

std::string r1_completion(std::string_view reasoning, std::string_view answer) {
  if (reasoning.empty()) return fmt::format("<answer>{}</answer>", answer);
  return fmt::format("<think>\n{}\n</think>\n<answer>{}</answer>", reasoning, answer);
}

}  // namespace nanoseek
