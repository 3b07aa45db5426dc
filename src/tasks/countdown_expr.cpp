#include "tasks/countdown_expr.h"

#include <algorithm>

namespace nanoseek {
namespace {

using i128 = __int128;

i128 gcd128(i128 a, i128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::optional<Rational> make(i128 num, i128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    if (__builtin_sub_overflow(i128(0), num, &num) || __builtin_sub_overflow(i128(0), den, &den)) return std::nullopt;
  }
  i128 g = gcd128(num, den);
  if (g > 1) num /= g, den /= g;
  return Rational{num, den};
}

std::string i128_str(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string s;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    s += static_cast<char>('0' + (d < 0 ? -d : d));
    v /= 10;
  }
  if (neg) s += '-';
  std::reverse(s.begin(), s.end());
  return s;
}

int precedence(char op) { return op == '+' || op == '-' ? 1 : op == '*' || op == '/' ? 2 : 3; }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Expr> run() {
    if (s_.size() > kMaxExprBytes) return std::nullopt;
    if (parse_sum() < 0) return std::nullopt;
    skip_space();
    if (pos_ != s_.size()) return std::nullopt;
    return std::move(expr_);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  Expr expr_;

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  // The operator at pos_ among `ops` ("+-" or "*/"), consuming it; 0 if none.
  char take_op(std::string_view ops) {
    skip_space();
    std::string_view rest = s_.substr(pos_);
    struct Alias { std::string_view text; char op; };
    static constexpr Alias kAliases[] = {{"+", '+'}, {"-", '-'}, {"*", '*'}, {"/", '/'},
                                         {"\xC3\x97", '*'}, {"\xC3\xB7", '/'}, {"\xE2\x88\x92", '-'}};
    for (const Alias& a : kAliases)
      if (ops.find(a.op) != std::string_view::npos && rest.substr(0, a.text.size()) == a.text) {
        pos_ += a.text.size();
        return a.op;
      }
    return 0;
  }
  int add(char op, int lhs, int rhs) {
    expr_.nodes.push_back({op, lhs, rhs, 0});
    return expr_.root();
  }
  // Each returns the new node's index, or -1 on a syntax error.
  int parse_sum() {
    int lhs = parse_product();
    while (lhs >= 0) {
      char op = take_op("+-");
      if (!op) break;
      int rhs = parse_product();
      if (rhs < 0) return -1;
      lhs = add(op, lhs, rhs);
    }
    return lhs;
  }
  int parse_product() {
    int lhs = parse_factor();
    while (lhs >= 0) {
      char op = take_op("*/");
      if (!op) break;
      int rhs = parse_factor();
      if (rhs < 0) return -1;
      lhs = add(op, lhs, rhs);
    }
    return lhs;
  }
  int parse_factor() {
    skip_space();
    if (pos_ >= s_.size()) return -1;
    if (s_[pos_] == '(') {
      ++pos_;
      int inner = parse_sum();
      skip_space();
      if (inner < 0 || pos_ >= s_.size() || s_[pos_] != ')') return -1;
      ++pos_;
      return inner;
    }
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == start) return -1;
    std::string_view digits = s_.substr(start, pos_ - start);
    size_t nz = digits.find_first_not_of('0');
    digits = nz == std::string_view::npos ? std::string_view("0") : digits.substr(nz);
    int64_t v = -1;
    if (digits.size() <= 18) {
      v = 0;
      for (char c : digits) v = v * 10 + (c - '0');
    }
    expr_.nodes.push_back({0, -1, -1, v});
    return expr_.root();
  }
};

}  // namespace

std::string Rational::str() const { return den == 1 ? i128_str(num) : i128_str(num) + "/" + i128_str(den); }

std::optional<Rational> apply_op(char op, const Rational& a, const Rational& b) {
  i128 x, y, n, d;
  switch (op) {
    case '+':
    case '-':
      if (__builtin_mul_overflow(a.num, b.den, &x) || __builtin_mul_overflow(b.num, a.den, &y) ||
          __builtin_mul_overflow(a.den, b.den, &d))
        return std::nullopt;
      if (op == '+' ? __builtin_add_overflow(x, y, &n) : __builtin_sub_overflow(x, y, &n)) return std::nullopt;
      return make(n, d);
    case '*':
      if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d)) return std::nullopt;
      return make(n, d);
    case '/':
      if (b.num == 0) return std::nullopt;
      if (__builtin_mul_overflow(a.num, b.den, &n) || __builtin_mul_overflow(a.den, b.num, &d)) return std::nullopt;
      return make(n, d);
  }
  return std::nullopt;
}

std::vector<int64_t> Expr::leaves() const {
  std::vector<int64_t> out;
  for (const ExprNode& n : nodes)
    if (n.op == 0) out.push_back(n.value);
  return out;  // children precede parents and lhs precedes rhs, so this is left-to-right order
}

std::optional<Rational> Expr::eval(int node) const {
  const ExprNode& n = nodes[node];
  if (n.op == 0) return Rational{n.value, 1};
  auto a = eval(n.lhs);
  if (!a) return std::nullopt;
  auto b = eval(n.rhs);
  if (!b) return std::nullopt;
  return apply_op(n.op, *a, *b);
}

std::string Expr::str(int node) const {
  const ExprNode& n = nodes[node];
  if (n.op == 0) return std::to_string(n.value);
  auto side = [&](int child, bool right) {
    int cp = precedence(nodes[child].op), pp = precedence(n.op);
    bool parens = cp < pp || (right && cp == pp && (n.op == '-' || n.op == '/'));
    std::string s = str(child);
    return parens ? "(" + s + ")" : s;
  };
  return side(n.lhs, false) + " " + n.op + " " + side(n.rhs, true);
}

std::optional<Expr> parse_expr(std::string_view text) { return Parser(text).run(); }

bool uses_numbers_at_most_once(std::vector<int64_t> used, std::vector<int64_t> pool) {
  std::sort(used.begin(), used.end());
  std::sort(pool.begin(), pool.end());
  return std::includes(pool.begin(), pool.end(), used.begin(), used.end());
}

}  // namespace nanoseek
