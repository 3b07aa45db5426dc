// Reasoning tasks: seeded generators with named difficulty levels, question renderers, solution renderers in the
// styles a base model should see in pretraining, and verifiers that never crash on garbage.
//
//   auto task = make_task("countdown");
//   uint64_t rng = 42;
//   Problem p = sample_problem(*task, "d4", Split::Test, rng);      // held-out problem
//   std::string sol = task->render_solution(p, SolutionStyle::Long, 7);
//   task->verify(p, sol);                                            // Verdict::Correct
//
// Answers are read from the completion as follows (see answer.h): only the text after the last "</think>" counts
// (an answer that appears only inside the reasoning is Unparseable); in it, the last complete <answer>…</answer>
// or \boxed{…} (nested braces allowed), whichever ends later, is the final answer.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

enum class Verdict { Correct, Wrong, Unparseable };
const char* verdict_name(Verdict v);  // "correct" / "wrong" / "unparseable"

struct Problem {
  std::string task, level;
  uint64_t seed = 0;
  std::string question;           // what the user asks (rendered)
  std::string answer;             // canonical answer: an integer, or for countdown one solving expression
  std::vector<int64_t> numbers;   // add: {a, b} (question shows a - |b| when b < 0); mul: {a, b}; countdown: pool
  int64_t target = 0;             // countdown only
  std::string lang = "en";        // language the reasoning should be in ("en" / "zh"): the language reward's target
};

// Completion styles the pretraining corpus mixes. Every style except Bare is `<think>\n…\n</think>\n<answer>X</answer>`;
// Bare is `<answer>X</answer>` alone (so it earns no format reward: RL has something to teach).
enum class SolutionStyle { Bare, Short, Long, SelfCheck, Wrong };
// Reasoning language. Only bilingual tasks (add-zh) accept Zh / Mixed; Auto lets the task pick from the seed.
enum class Lang { Auto, En, Zh, Mixed };

const char* style_name(SolutionStyle s);          // "bare", "short", "long", "selfcheck", "wrong"
SolutionStyle parse_style(std::string_view name); // throws Error listing the valid names
Lang parse_lang(std::string_view name);           // "auto", "en", "zh", "mixed"

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<std::string> levels() const = 0;  // easiest first; levels().back() is the hardest
  // Deterministic in (level, seed); throws Error naming the valid levels for an unknown one.
  virtual Problem generate(std::string_view level, uint64_t seed) const = 0;
  virtual Verdict verify(const Problem& p, std::string_view completion) const = 0;
  // A canonical key of the completion's final answer, for majority voting (cons@k): the normalized integer, or for
  // countdown the exact value of a rule-abiding expression. nullopt when nothing valid can be read.
  virtual std::optional<std::string> answer_key(const Problem& p, std::string_view completion) const = 0;
  // Deterministic in (problem, style, seed, lang). Every style but Wrong verifies Correct; Wrong verifies Wrong.
  std::string render_solution(const Problem& p, SolutionStyle style, uint64_t seed, Lang lang = Lang::Auto) const {
    return render(p, style, seed, lang);
  }

 protected:
  virtual std::string render(const Problem& p, SolutionStyle style, uint64_t seed, Lang lang) const = 0;
};

std::unique_ptr<Task> make_task(std::string_view name);  // throws Error listing the valid names
std::vector<std::string> task_names();                   // "add", "add-zh", "countdown", "mul"

// A problem's split is a pure function of its mathematical content (task, numbers, target), never of its seed or
// wording, so train/val/test never share a problem. Shares: train 90%, val 5%, test 5%.
enum class Split { Train, Val, Test };
Split split_of(const Problem& p);
const char* split_name(Split s);
Split parse_split(std::string_view name);
// Draws seeds from rng_state (a splitmix64 counter, advanced) until the generated problem falls in `split` (throws after 100000 tries).
Problem sample_problem(const Task& task, std::string_view level, Split split, uint64_t& rng_state);

// FNV-1a 64 with a splitmix64 finaliser: seeds derived from names, and the split hash.
uint64_t hash_string(std::string_view s);

}  // namespace nanoseek
