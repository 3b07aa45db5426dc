// "add": multi-digit addition and subtraction; "add-zh": the same problems asked in Chinese, with reasoning rendered
// in Chinese, English or a mix of both (the language mixing R1's language-consistency reward removes).
//
// Levels (a has D digits, b has D or D-1 digits):
//   d1  D=2, a + b                      d3  D=5, a + b or a - b, the result may be negative
//   d2  D=3, a + b or a - b with a >= b d4  D=8, a + b or a - b, the result may be negative
// What makes d4 hard for a small model: 8 columns of carries or borrows to track, and the sign flip.
#include <algorithm>
#include <fmt/format.h>

#include "core/error.h"
#include "tasks/task_impl.h"

namespace nanoseek {
namespace {

struct Level {
  int digits;
  bool subtract, negative;
};
constexpr Level kLevels[] = {{2, false, false}, {3, true, false}, {5, true, true}, {8, true, true}};

// One column of the written method, from the right. Addition: value = da + db + carry_in (0..19). Subtraction:
// carry_in/carry_out are borrows and value is the written digit (0..9). `final_carry` marks the extra leftmost
// column an addition's last carry makes.
struct Column {
  int da, db, carry_in, value, digit, carry_out;
  bool final_carry = false;
};

// The written method on |big| op |small|, big >= small when subtracting: columns and result digits.
std::vector<Column> columns(int64_t big, int64_t small, bool subtract) {
  std::vector<Column> cols;
  int carry = 0;
  do {  // at least one column, so 0 + 0 has one
    Column c{static_cast<int>(big % 10), static_cast<int>(small % 10), carry, 0, 0, 0};
    if (subtract) {
      int v = c.da - c.db - carry;
      c.carry_out = v < 0;
      c.value = c.digit = v + 10 * c.carry_out;
    } else {
      c.value = c.da + c.db + carry;
      c.digit = c.value % 10;
      c.carry_out = c.value / 10;
    }
    carry = c.carry_out;
    cols.push_back(c);
    big /= 10;
    small /= 10;
  } while (big > 0 || small > 0);
  if (!subtract && carry) cols.push_back({0, 0, carry, carry, carry, 0, true});
  return cols;
}

std::string digits_to_string(const std::vector<Column>& cols, bool negate) {
  std::string s;
  for (auto it = cols.rbegin(); it != cols.rend(); ++it) s += static_cast<char>('0' + it->digit);
  size_t nz = s.find_first_not_of('0');
  if (nz == std::string::npos) return "0";
  s.erase(0, nz);
  if (negate) s.insert(s.begin(), '-');
  return s;
}

// Sentences of the reasoning in one language.
struct Phrases {
  bool zh;
  std::string add_intro(int64_t a, int64_t b) const {
    return zh ? fmt::format("从个位开始逐位相加 {} 和 {}。", a, b)
              : fmt::format("Add {} and {} column by column, starting from the ones.", a, b);
  }
  std::string sub_intro(int64_t big, int64_t small) const {
    return zh ? fmt::format("从个位开始逐位相减，用 {} 减去 {}。", big, small)
              : fmt::format("Subtract {} from {} column by column, starting from the ones.", small, big);
  }
  std::string flip(int64_t a, int64_t b) const {
    return zh ? fmt::format("{} 比 {} 大，先算 {} - {}，结果取负。", b, a, b, a)
              : fmt::format("{} is larger than {}, so compute {} - {} and make it negative.", b, a, b, a);
  }
  // `value` may be a slip (differs from the true column value).
  std::string column(const Column& c, int value, bool subtract) const {
    if (c.final_carry)
      return zh ? fmt::format("最高位写进位 {}。", value) : fmt::format("Bring down the carry {}.", value);
    // "7 + 5 + 1" / "7 加 5 再加 1" (the +1 is the carry, or for subtraction the borrow).
    auto pair = [&](int x, char op) {
      std::string_view word = op == '+' ? "加" : "减";
      if (zh) return fmt::format("{} {} {}{}", x, word, c.db, c.carry_in ? fmt::format(" 再{} 1", word) : "");
      return fmt::format("{} {} {}{}", x, op, c.db, c.carry_in ? fmt::format(" {} 1", op) : "");
    };
    if (!subtract) {
      int digit = value % 10, carry = value / 10;
      if (zh) return fmt::format("{} 等于 {}，写 {}{}。", pair(c.da, '+'), value, digit, carry ? "，进 1" : "");
      return fmt::format("{} = {}, write {}{}.", pair(c.da, '+'), value, digit, carry ? ", carry 1" : "");
    }
    if (c.carry_out) {
      if (zh) return fmt::format("{} 不够减，借 1：{} 等于 {}，写 {}。", pair(c.da, '-'), pair(c.da + 10, '-'), value, value);
      return fmt::format("{} is negative, borrow 1: {} = {}, write {}.", pair(c.da, '-'), pair(c.da + 10, '-'), value,
                         value);
    }
    return zh ? fmt::format("{} 等于 {}，写 {}。", pair(c.da, '-'), value, value)
              : fmt::format("{} = {}, write {}.", pair(c.da, '-'), value, value);
  }
  std::string result(std::string_view expr, std::string_view r) const {
    return zh ? fmt::format("所以 {} = {}。", expr, r) : fmt::format("So {} = {}.", expr, r);
  }
  std::string check(size_t col, std::string_view line, int digit, int slipped) const {
    return zh ? fmt::format("等一下，检查一下从右数第 {} 位：{}这一位是 {}，不是 {}。", col + 1, line, digit, slipped)
              : fmt::format("Wait, let me check column {} from the right: {} The digit is {}, not {}.", col + 1, line,
                            digit, slipped);
  }
  std::string short_answer(int64_t a, int64_t b, std::string_view r) const {
    if (zh) return fmt::format("{} {} {} 等于 {}。", a, b < 0 ? "减" : "加", b < 0 ? -b : b, r);
    return fmt::format("{} {} {} = {}.", a, b < 0 ? "-" : "+", b < 0 ? -b : b, r);
  }
};

class AddTask final : public IntegerTask {
 public:
  explicit AddTask(bool zh) : zh_(zh) {}
  std::string_view name() const override { return zh_ ? "add-zh" : "add"; }
  std::vector<std::string> levels() const override { return {"d1", "d2", "d3", "d4"}; }

  Problem generate(std::string_view level, uint64_t seed) const override {
    const Level& L = kLevels[level_index(*this, level)];
    Rng rng = problem_rng("add", level, seed);  // add and add-zh draw the same numbers for a seed
    int64_t a = rng.range(pow10(L.digits - 1), pow10(L.digits) - 1);
    int bd = L.digits >= 3 && rng.uniform() < 0.3 ? L.digits - 1 : L.digits;
    int64_t b = rng.range(pow10(bd - 1), pow10(bd) - 1);
    if (L.subtract && rng.uniform() < 0.5) {
      if (!L.negative && b > a) std::swap(a, b);
      b = -b;
    }
    Problem p;
    p.task = name();
    p.level = level;
    p.seed = seed;
    p.numbers = {a, b};
    p.answer = std::to_string(a + b);
    std::string expr = expression(a, b);
    static constexpr const char* kEn[] = {"What is {}?", "Compute {}.", "Calculate {}."};
    static constexpr const char* kZh[] = {"计算 {} 的值。", "{} 等于多少？", "请计算 {}。"};
    const char* tmpl = (zh_ ? kZh : kEn)[rng.range(0, 2)];
    p.question = fmt::format(fmt::runtime(tmpl), expr);
    p.lang = zh_ ? "zh" : "en";
    return p;
  }

 protected:
  std::string render(const Problem& p, SolutionStyle style, uint64_t seed, Lang lang) const override {
    check(p.numbers.size() == 2, "task {}: problem needs 2 numbers, has {}", name(), p.numbers.size());
    constexpr int64_t kMax = 1'000'000'000'000'000'000 / 10;
    check(p.numbers[0] >= 0 && p.numbers[0] < kMax && p.numbers[1] > -kMax && p.numbers[1] < kMax,
          "task {}: numbers must be 0 <= a < 1e17 and |b| < 1e17, got {} and {}", name(), p.numbers[0], p.numbers[1]);
    Rng rng(hash_string(fmt::format("{}|{}|{}|{}", p.numbers[0], p.numbers[1], static_cast<int>(style), seed)));
    if (lang == Lang::Auto) lang = zh_ ? static_cast<Lang>(rng.range(1, 3)) : Lang::En;
    check(zh_ || lang == Lang::En, "task {} renders English reasoning only (use add-zh)", name());
    // Mixed: each sentence independently in Chinese or English.
    auto phrases = [&]() { return Phrases{lang == Lang::Zh || (lang == Lang::Mixed && rng.uniform() < 0.5)}; };

    int64_t a = p.numbers[0], b = p.numbers[1];
    std::string expr = expression(a, b);
    if (style == SolutionStyle::Bare) return r1_completion("", p.answer);
    if (style == SolutionStyle::Short) return r1_completion(phrases().short_answer(a, b, p.answer), p.answer);

    bool subtract = b < 0, flip = subtract && -b > a;
    int64_t big = flip ? -b : a, small = flip ? a : (subtract ? -b : b);
    std::vector<Column> cols = columns(big, small, subtract);
    std::vector<std::string> lines;
    if (flip) lines.push_back(phrases().flip(a, -b));
    lines.push_back(subtract ? phrases().sub_intro(big, small) : phrases().add_intro(big, small));

    bool slip = style == SolutionStyle::SelfCheck || style == SolutionStyle::Wrong;
    // A one-off slip in one written column that keeps its carry/borrow, so the rest of the work stays consistent.
    int64_t slippable = static_cast<int64_t>(cols.size()) - (cols.back().final_carry ? 1 : 0);
    size_t slip_col = static_cast<size_t>(rng.range(0, slippable - 1));
    auto slipped = [&](const Column& c) {
      return subtract ? (c.value == 0 ? 1 : c.value - 1) : (c.value % 10 == 0 ? c.value + 1 : c.value - 1);
    };
    std::vector<Column> shown = cols;
    for (size_t i = 0; i < cols.size(); ++i) {
      int v = slip && i == slip_col ? slipped(cols[i]) : cols[i].value;
      shown[i].digit = v % 10;
      lines.push_back(phrases().column(cols[i], v, subtract));
    }
    std::string right = digits_to_string(cols, flip);
    if (!slip) {
      lines.push_back(phrases().result(expr, right));
      return r1_completion(join(lines), right);
    }
    std::string wrong = digits_to_string(shown, flip);
    lines.push_back(phrases().result(expr, wrong));
    if (style == SolutionStyle::Wrong) return r1_completion(join(lines), wrong);
    const Column& c = cols[slip_col];
    Phrases ph = phrases();
    lines.push_back(ph.check(slip_col, ph.column(c, c.value, subtract), c.digit, shown[slip_col].digit));
    lines.push_back(phrases().result(expr, right));
    return r1_completion(join(lines), right);
  }

 private:
  bool zh_;
  static std::string expression(int64_t a, int64_t b) {
    return b < 0 ? fmt::format("{} - {}", a, -b) : fmt::format("{} + {}", a, b);
  }
  static std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (auto& l : lines) s += (s.empty() ? "" : "\n") + l;
    return s;
  }
};

}  // namespace

std::unique_ptr<Task> make_add_task(bool chinese) { return std::make_unique<AddTask>(chinese); }

}  // namespace nanoseek
