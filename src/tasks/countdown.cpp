// "countdown": reach the target with + - * / over the given numbers, each used at most once (a subset may do).
// The answer is an expression, optionally followed by "= target"; intermediate values may be fractions.
//
// Levels (the generating solution uses `use` of the numbers, with positive integer intermediates):
//   d1  3 numbers in 1..10, all 3 used, target 2..100
//   d2  4 numbers in 1..12, all 4 used, target 10..200
//   d3  5 numbers in 1..20, 4-5 used, target 20..500
//   d4  6 numbers: 4 in 1..10 and 2 of {25, 50, 75, 100} (the TV game), 4-6 used, target 101..999
// What makes d4 hard: the search space (thousands of expressions over 6 numbers) and 3-digit intermediate arithmetic.
//
// Verdicts: no answer, or text outside the grammar (countdown_expr.h), or two '=' -> Unparseable; a literal not in
// the pool, a number used too often, division by zero, a value other than the target, or "= N" with N not the
// target -> Wrong.
#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "tasks/countdown_expr.h"
#include "tasks/task_impl.h"

namespace nanoseek {
namespace {

struct Level {
  int n_small, n_large, small_max, use_min;
  int64_t target_min, target_max;
};
constexpr Level kLevels[] = {{3, 0, 10, 3, 2, 100}, {4, 0, 12, 4, 10, 200}, {5, 0, 20, 4, 20, 500},
                             {4, 2, 10, 4, 101, 999}};

struct Checked {
  Verdict verdict;
  std::optional<Rational> value;  // the expression's value when it obeys the rules
};

Checked check_answer(const Problem& p, std::string_view completion) {
  auto text = extract_final_answer(completion);
  if (!text) return {Verdict::Unparseable, {}};
  std::string_view s = trim(*text);
  if (s.size() > kMaxExprBytes) return {Verdict::Unparseable, {}};
  size_t eq = s.find('=');
  std::string_view rhs = eq == std::string_view::npos ? std::string_view() : s.substr(eq + 1);
  s = s.substr(0, eq);
  if (rhs.find('=') != std::string_view::npos) return {Verdict::Unparseable, {}};
  auto expr = parse_expr(s);
  if (!expr) return {Verdict::Unparseable, {}};
  std::optional<std::string> claimed;
  if (eq != std::string_view::npos) {
    claimed = normalize_integer(rhs);
    if (!claimed) return {Verdict::Unparseable, {}};
  }
  if (!uses_numbers_at_most_once(expr->leaves(), p.numbers)) return {Verdict::Wrong, {}};
  auto value = expr->eval();
  if (!value) return {Verdict::Wrong, {}};  // division by zero (overflow is impossible with pool numbers)
  bool hit = value->is_integer(p.target) && (!claimed || *claimed == std::to_string(p.target));
  return {hit ? Verdict::Correct : Verdict::Wrong, value};
}

// One line of arithmetic per operator node of `e`, children first, with the given node values.
struct Steps {
  const Expr& e;
  std::vector<Rational> values;
  std::string operation(int node) const {  // "50 * 5"
    const ExprNode& n = e.nodes[node];
    return fmt::format("{} {} {}", values[n.lhs].str(), n.op, values[n.rhs].str());
  }
  std::string line(int node) const { return fmt::format("{} = {}", operation(node), values[node].str()); }
  // Recomputes every operator node from index `first` on (so ancestors see a change); false on division by zero.
  bool propagate(size_t first) {
    for (size_t i = first; i < e.nodes.size(); ++i) {
      const ExprNode& n = e.nodes[i];
      if (n.op == 0) continue;
      auto v = apply_op(n.op, values[n.lhs], values[n.rhs]);
      if (!v) return false;
      values[i] = *v;
    }
    return true;
  }
};

Steps evaluate(const Expr& e) {
  Steps s{e, std::vector<Rational>(e.nodes.size())};
  for (size_t i = 0; i < e.nodes.size(); ++i)
    if (e.nodes[i].op == 0) s.values[i] = Rational{e.nodes[i].value, 1};
  check(s.propagate(0), "countdown: canonical answer divides by zero");
  return s;
}

std::vector<int> op_nodes(const Expr& e) {
  std::vector<int> ops;
  for (size_t i = 0; i < e.nodes.size(); ++i)
    if (e.nodes[i].op != 0) ops.push_back(static_cast<int>(i));
  return ops;
}

// "a op b = c, c op d = e" over nodes[from..].
std::string join_steps(const Steps& s, const std::vector<int>& nodes, size_t from) {
  std::string out;
  for (size_t k = from; k < nodes.size(); ++k) out += (out.empty() ? "" : ", ") + s.line(nodes[k]);
  return out;
}

class CountdownTask final : public Task {
 public:
  std::string_view name() const override { return "countdown"; }
  std::vector<std::string> levels() const override { return {"d1", "d2", "d3", "d4"}; }

  Problem generate(std::string_view level, uint64_t seed) const override {
    const Level& L = kLevels[level_index(*this, level)];
    Rng rng = problem_rng(name(), level, seed);
    for (int attempt = 0; attempt < 10000; ++attempt) {
      std::vector<int64_t> numbers;
      for (int i = 0; i < L.n_small; ++i) numbers.push_back(rng.range(1, L.small_max));
      for (int i = 0; i < L.n_large; ++i) numbers.push_back(25 * rng.range(1, 4));
      int n = static_cast<int>(numbers.size());
      int use = static_cast<int>(rng.range(L.use_min, n));
      std::vector<int64_t> chosen = numbers;
      for (int i = n - 1; i > 0; --i) std::swap(chosen[i], chosen[rng.range(0, i)]);
      chosen.resize(use);
      auto expr = random_solution(chosen, rng);
      if (!expr) continue;
      int64_t target = static_cast<int64_t>(expr->eval()->num);
      if (target < L.target_min || target > L.target_max) continue;
      if (std::find(numbers.begin(), numbers.end(), target) != numbers.end()) continue;
      std::sort(numbers.begin(), numbers.end());
      Problem p;
      p.task = name();
      p.level = level;
      p.seed = seed;
      p.numbers = numbers;
      p.target = target;
      p.answer = expr->str();
      static constexpr const char* kTemplates[] = {
          "Using the numbers {}, make {}. Use + - * / and each number at most once.",
          "Reach {1} with the numbers {0} using + - * /, each number at most once.",
          "Countdown: numbers {}, target {}. Combine the numbers with + - * /; each may be used at most once."};
      p.question = fmt::format(fmt::runtime(kTemplates[rng.range(0, 2)]), fmt::join(numbers, ", "), target);
      return p;
    }
    fail("countdown level {} seed {}: no problem found in 10000 attempts", level, seed);
  }

  Verdict verify(const Problem& p, std::string_view completion) const override {
    return check_answer(p, completion).verdict;
  }

  std::optional<std::string> answer_key(const Problem& p, std::string_view completion) const override {
    Checked c = check_answer(p, completion);
    if (!c.value || (c.verdict == Verdict::Wrong && c.value->is_integer(p.target))) return std::nullopt;
    return c.value->str();
  }

 protected:
  std::string render(const Problem& p, SolutionStyle style, uint64_t seed, Lang lang) const override {
    check(lang == Lang::Auto || lang == Lang::En, "task countdown renders English reasoning only");
    auto parsed = parse_expr(p.answer);
    check(parsed.has_value(), "countdown problem: answer '{}' is not an expression", p.answer);
    const Expr& e = *parsed;
    Rng rng(hash_string(fmt::format("{}|{}|{}|{}", p.answer, p.target, static_cast<int>(style), seed)));
    if (style == SolutionStyle::Bare) return r1_completion("", p.answer);
    Steps s = evaluate(e);
    std::vector<int> nodes = op_nodes(e);
    check(!nodes.empty(), "countdown problem: answer '{}' has no operation", p.answer);
    std::string list = fmt::format("{}", fmt::join(p.numbers, ", "));
    std::string goal = fmt::format("We need to make {} from {}.", p.target, list);
    std::string done = fmt::format("That gives {}.", p.target);
    std::string so = fmt::format("So the answer is {}.", p.answer);

    switch (style) {
      case SolutionStyle::Short:
        return r1_completion(join_steps(s, nodes, 0) + ".", p.answer);
      case SolutionStyle::Long: {
        std::string text = goal;
        for (int tries = 0, shown = 0, want = static_cast<int>(rng.range(1, 2)); tries < 20 && shown < want; ++tries)
          if (auto miss = failed_attempt(p, rng)) text += "\n" + *miss, ++shown;
        return r1_completion(fmt::format("{}\nTry {}. {}\n{}", text, join_steps(s, nodes, 0), done, so), p.answer);
      }
      case SolutionStyle::SelfCheck: {
        // A slip in one step, carried through to a result that misses, then caught and redone.
        for (int tries = 0; tries < 50; ++tries) {
          size_t k = static_cast<size_t>(rng.range(0, static_cast<int64_t>(nodes.size()) - 1));
          static constexpr int kSlips[] = {1, -1, 2, 10, -10};
          Steps bad = s;
          auto slipped = apply_op('+', s.values[nodes[k]], Rational{kSlips[rng.range(0, 4)], 1});
          if (!slipped || slipped->num <= 0) continue;
          bad.values[nodes[k]] = *slipped;
          if (!bad.propagate(nodes[k] + 1) || bad.values[e.root()] == s.values[e.root()]) continue;
          std::string wrong_try = fmt::format("Try {}. That gives {}, not {}.", join_steps(bad, nodes, 0),
                                              bad.values[e.root()].str(), p.target);
          std::string catch_it = fmt::format("Wait, let me check {}: it is {}, not {}.", s.operation(nodes[k]),
                                             s.values[nodes[k]].str(), slipped->str());
          return r1_completion(
              fmt::format("{}\n{}\n{}\nSo {}. {}\n{}", goal, wrong_try, catch_it, join_steps(s, nodes, k), done, so),
              p.answer);
        }
        fail("countdown: no self-check slip found for '{}'", p.answer);
      }
      case SolutionStyle::Wrong: {
        // One operator swapped; its step still claims the old value, so the "solution" looks like it works.
        std::vector<int> order = nodes;
        std::reverse(order.begin(), order.end());  // the root first: a swap there always changes the value
        for (int node : order) {
          std::string ops = "+-*/";
          for (int i = 3; i > 0; --i) std::swap(ops[i], ops[rng.range(0, i)]);
          for (char op : ops) {
            if (op == e.nodes[node].op) continue;
            Expr swapped = e;
            swapped.nodes[node].op = op;
            auto v = swapped.eval();
            if (!v || v->is_integer(p.target)) continue;
            Steps shown{swapped, s.values};  // the swapped operators with the original results
            return r1_completion(fmt::format("{}\nTry {}. {}\nSo the answer is {}.", goal,
                                             join_steps(shown, nodes, 0), done, swapped.str()),
                                 swapped.str());
          }
        }
        fail("countdown: no wrong variant found for '{}'", p.answer);
      }
      case SolutionStyle::Bare: break;
    }
    return r1_completion("", p.answer);
  }

 private:
  // Combines random pairs of the pool like a player would: positive integer results, no step that gives back one of
  // its operands (x*1, x/1) or an earlier intermediate value (+5 then -5), so no step is wasted.
  static std::optional<Expr> random_solution(const std::vector<int64_t>& chosen, Rng& rng) {
    Expr e;
    std::vector<std::pair<int, int64_t>> pool;  // node, value
    for (int64_t v : chosen) {
      e.nodes.push_back({0, -1, -1, v});
      pool.emplace_back(e.root(), v);
    }
    std::vector<int64_t> intermediates;
    while (pool.size() > 1) {
      size_t i = rng.range(0, pool.size() - 1), j = rng.range(0, pool.size() - 2);
      if (j >= i) ++j;
      auto x = pool[i], y = pool[j];
      if (x.second < y.second) std::swap(x, y);
      std::string ops = "+";
      if (x.second > y.second) ops += '-';
      if (y.second > 1) ops += '*';
      if (y.second > 1 && x.second % y.second == 0) ops += '/';
      char op = ops[rng.range(0, static_cast<int64_t>(ops.size()) - 1)];
      int64_t v = op == '+' ? x.second + y.second : op == '-' ? x.second - y.second
                : op == '*' ? x.second * y.second : x.second / y.second;
      if (v > 1000000 || v == x.second || v == y.second) return std::nullopt;
      if (std::find(intermediates.begin(), intermediates.end(), v) != intermediates.end()) return std::nullopt;
      intermediates.push_back(v);
      e.nodes.push_back({op, x.first, y.first, 0});
      pool.erase(pool.begin() + std::max(i, j));
      pool.erase(pool.begin() + std::min(i, j));
      pool.emplace_back(e.root(), v);
    }
    return e;
  }

  // "Try a op b = c, c op d = e. That gives e, not target." over two random steps that miss the target.
  static std::optional<std::string> failed_attempt(const Problem& p, Rng& rng) {
    if (p.numbers.size() < 3) return std::nullopt;
    std::vector<int64_t> pick = p.numbers;
    for (size_t i = pick.size() - 1; i > 0; --i) std::swap(pick[i], pick[rng.range(0, i)]);
    pick.resize(3);
    auto e = random_solution(pick, rng);
    if (!e) return std::nullopt;
    Steps s = evaluate(*e);
    for (const Rational& v : s.values)
      if (v.is_integer(p.target)) return std::nullopt;
    return fmt::format("Try {}. That gives {}, not {}.", join_steps(s, op_nodes(*e), 0), s.values[e->root()].str(),
                       p.target);
  }
};

}  // namespace

std::unique_ptr<Task> make_countdown_task() { return std::make_unique<CountdownTask>(); }

}  // namespace nanoseek
