// Countdown expressions: a recursive-descent parser over a tiny grammar, evaluated in exact rationals. Nothing else
// is ever evaluated: any character outside the grammar makes the text unparseable.
//
//   expr   := term   (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := number | '(' expr ')'
//   number := [0-9]+
// Spaces/tabs/newlines may separate tokens. U+00D7 '×', U+00F7 '÷', U+2212 '−' are read as * / -. No unary minus,
// no '**', no implicit multiplication. At most kMaxExprBytes bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

constexpr size_t kMaxExprBytes = 256;

// num/den in lowest terms, den > 0. 128-bit so products of six numbers up to 1000 stay exact.
struct Rational {
  __int128 num = 0, den = 1;
  bool operator==(const Rational&) const = default;
  bool is_integer(int64_t v) const { return den == 1 && num == v; }
  std::string str() const;  // "83", "-7/2"
};

struct ExprNode {
  char op = 0;          // '+', '-', '*', '/', or 0 for a number leaf
  int lhs = -1, rhs = -1;
  int64_t value = 0;    // leaf only; a literal with more than 18 digits is stored as -1 (never a valid number)
};

struct Expr {
  std::vector<ExprNode> nodes;  // children before parents; the root is last
  int root() const { return static_cast<int>(nodes.size()) - 1; }
  std::vector<int64_t> leaves() const;  // the literals, in order of appearance
  // nullopt on division by zero or 128-bit overflow.
  std::optional<Rational> eval(int node) const;
  std::optional<Rational> eval() const { return eval(root()); }
  std::string str(int node) const;  // printed with the fewest parentheses that keep the value
  std::string str() const { return str(root()); }
};

std::optional<Expr> parse_expr(std::string_view text);  // nullopt if not in the grammar
std::optional<Rational> apply_op(char op, const Rational& a, const Rational& b);

// True iff every literal of `used` can be matched to a distinct element of `pool` (multiset inclusion).
bool uses_numbers_at_most_once(std::vector<int64_t> used, std::vector<int64_t> pool);

}  // namespace nanoseek
