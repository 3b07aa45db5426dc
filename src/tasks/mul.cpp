// "mul": multi-digit multiplication a * b.
//
// Levels (digits of a x digits of b):  d1 2x1   d2 2x2   d3 3x2   d4 4x3
// What makes d4 hard for a small model: three 4-digit-by-1-digit partial products (each with its own carries)
// and a three-term sum of up to 7-digit numbers.
//
// Long reasoning splits b into its nonzero place values (a * 20 = ...), or, when b has one digit, splits a instead
// (40 * 7, 6 * 7), then adds the partial products one at a time.
#include <fmt/format.h>

#include "core/error.h"
#include "tasks/task_impl.h"

namespace nanoseek {
namespace {

struct Level {
  int a_digits, b_digits;
};
constexpr Level kLevels[] = {{2, 1}, {2, 2}, {3, 2}, {4, 3}};

struct Term {
  std::string label;  // "347 * 20"
  int64_t value;
};

// The partial products whose sum is a * b.
std::vector<Term> partials(int64_t a, int64_t b) {
  std::vector<Term> terms;
  bool split_a = b < 10;
  int64_t split = split_a ? a : b, other = split_a ? b : a;
  for (int64_t place = 1; split / place > 0; place *= 10) {
    int64_t part = (split / place % 10) * place;
    if (part == 0) continue;
    terms.push_back({split_a ? fmt::format("{} * {}", part, other) : fmt::format("{} * {}", other, part),
                     part * other});
  }
  return terms;
}

// "p1 + p2 = s1. s1 + p3 = s2." with the given term values; returns the lines and the final sum.
std::pair<std::string, int64_t> running_sum(const std::vector<int64_t>& values) {
  int64_t sum = values[0];
  std::string text;
  for (size_t i = 1; i < values.size(); ++i) {
    text += fmt::format("{}{} + {} = {}.", text.empty() ? "Add: " : " ", sum, values[i], sum + values[i]);
    sum += values[i];
  }
  return {text, sum};
}

class MulTask final : public IntegerTask {
 public:
  std::string_view name() const override { return "mul"; }
  std::vector<std::string> levels() const override { return {"d1", "d2", "d3", "d4"}; }

  Problem generate(std::string_view level, uint64_t seed) const override {
    const Level& L = kLevels[level_index(*this, level)];
    Rng rng = problem_rng(name(), level, seed);
    int64_t a = rng.range(pow10(L.a_digits - 1), pow10(L.a_digits) - 1);
    int64_t b = rng.range(L.b_digits == 1 ? 2 : pow10(L.b_digits - 1), pow10(L.b_digits) - 1);
    Problem p;
    p.task = name();
    p.level = level;
    p.seed = seed;
    p.numbers = {a, b};
    p.answer = std::to_string(a * b);
    static constexpr const char* kTemplates[] = {"What is {} * {}?", "Compute {} * {}.", "Multiply {} by {}."};
    p.question = fmt::format(fmt::runtime(kTemplates[rng.range(0, 2)]), a, b);
    return p;
  }

 protected:
  std::string render(const Problem& p, SolutionStyle style, uint64_t seed, Lang lang) const override {
    check(lang == Lang::Auto || lang == Lang::En, "task mul renders English reasoning only");
    check(p.numbers.size() == 2 && p.numbers[0] > 0 && p.numbers[1] > 0 && p.numbers[0] < 1'000'000'000 &&
              p.numbers[1] < 1'000'000'000,
          "task mul: problem needs 2 numbers in 1..999999999");
    int64_t a = p.numbers[0], b = p.numbers[1];
    Rng rng(hash_string(fmt::format("{}|{}|{}|{}", a, b, static_cast<int>(style), seed)));
    std::string expr = fmt::format("{} * {}", a, b);
    if (style == SolutionStyle::Bare) return r1_completion("", p.answer);
    if (style == SolutionStyle::Short) return r1_completion(fmt::format("{} = {}.", expr, p.answer), p.answer);

    std::vector<Term> terms = partials(a, b);
    std::vector<int64_t> values;
    for (auto& t : terms) values.push_back(t.value);
    std::string intro = b < 10 ? fmt::format("Split {} by place value and multiply each part by {}.", a, b)
                               : fmt::format("Multiply {} by each place value of {} and add the parts.", a, b);
    auto body = [&](const std::vector<int64_t>& vals) {
      std::string text = intro;
      for (size_t i = 0; i < terms.size(); ++i) text += fmt::format("\n{} = {}.", terms[i].label, vals[i]);
      auto [sum_text, sum] = running_sum(vals);
      if (!sum_text.empty()) text += "\n" + sum_text;
      return std::pair{text + fmt::format("\nSo {} = {}.", expr, sum), sum};
    };
    if (style == SolutionStyle::Long) return r1_completion(body(values).first, p.answer);

    // A slip: one digit of one partial product off by one (never its leading digit, so lengths stay plausible).
    size_t k = static_cast<size_t>(rng.range(0, static_cast<int64_t>(terms.size()) - 1));
    int64_t v = values[k];
    int len = static_cast<int>(std::to_string(v).size());
    int64_t place = pow10(static_cast<int>(rng.range(0, std::max(0, len - 2))));
    int digit = static_cast<int>(v / place % 10);
    std::vector<int64_t> slipped = values;
    slipped[k] = v + (digit == 9 ? -place : place);
    auto [wrong_text, wrong_sum] = body(slipped);
    if (style == SolutionStyle::Wrong) return r1_completion(wrong_text, std::to_string(wrong_sum));
    std::string text = wrong_text + fmt::format("\nWait, let me check {}: it is {}, not {}.", terms[k].label, v,
                                                slipped[k]);
    auto [sum_text, sum] = running_sum(values);
    if (!sum_text.empty()) text += "\n" + sum_text;
    text += fmt::format("\nSo {} = {}.", expr, sum);
    return r1_completion(text, p.answer);
  }
};

}  // namespace

std::unique_ptr<Task> make_mul_task() { return std::make_unique<MulTask>(); }

}  // namespace nanoseek
