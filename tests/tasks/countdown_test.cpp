#include <gtest/gtest.h>

#include "tasks/countdown_expr.h"
#include "tasks/task.h"

namespace nanoseek {
namespace {

Problem cd(std::vector<int64_t> numbers, int64_t target) {
  Problem p;
  p.task = "countdown";
  p.level = "d2";
  p.numbers = std::move(numbers);
  p.target = target;
  p.answer = "0";
  return p;
}

Verdict verdict(const Problem& p, const std::string& expr) {
  return make_task("countdown")->verify(p, "<think>search</think>\n<answer>" + expr + "</answer>");
}

TEST(CountdownExpr, ParsesPrecedenceAndEvaluatesExactly) {
  auto e = parse_expr("(25 - 5) * 4 + 3");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->eval()->str(), "83");
  EXPECT_EQ(e->leaves(), (std::vector<int64_t>{25, 5, 4, 3}));
  EXPECT_EQ(e->str(), "(25 - 5) * 4 + 3");
  EXPECT_EQ(parse_expr("8 - 3 - 2")->eval()->str(), "3");   // left associative
  EXPECT_EQ(parse_expr("8 / 4 / 2")->eval()->str(), "1");
  EXPECT_EQ(parse_expr("8 - (3 - 2)")->str(), "8 - (3 - 2)");
  EXPECT_EQ(parse_expr("(8 * 3) + (2)")->str(), "8 * 3 + 2");
  EXPECT_EQ(parse_expr("1 / 3")->eval()->str(), "1/3");
  EXPECT_EQ(parse_expr("2 \xC3\x97 3 \xE2\x88\x92 1 \xC3\xB7 1")->eval()->str(), "5");  // × − ÷
  EXPECT_FALSE(parse_expr("5 / (3 - 3)")->eval());           // division by zero
}

TEST(CountdownExpr, RejectsEverythingOutsideTheGrammar) {
  for (const char* s : {"", "2**3", "2 ^ 3", "-5 + 10", "import os", "__import__('os')", "2 3", "(2 + 3",
                        "2 + 3)", "2 +", "2x3", "2.5 * 2", "1e3", "()", "abs(3)", "3!", "2 // 1", "+2"})
    EXPECT_FALSE(parse_expr(s)) << s;
  EXPECT_FALSE(parse_expr(std::string(kMaxExprBytes + 1, ' ')));
  EXPECT_FALSE(parse_expr(std::string(200, '(') + "1" + std::string(200, ')')));  // over-long
  EXPECT_TRUE(parse_expr(std::string(100, '(') + "1" + std::string(100, ')')));
}

TEST(CountdownTask, VerifierRules) {
  Problem p = cd({3, 4, 5, 25}, 83);
  EXPECT_EQ(verdict(p, "25 * 3 + 4 + 5 - 1"), Verdict::Wrong);   // 1 is not in the pool
  EXPECT_EQ(verdict(p, "25 * 3 + 4 + 4"), Verdict::Wrong);       // 4 used twice
  EXPECT_EQ(verdict(p, "25 * 3 + 5 + 3"), Verdict::Wrong);       // 3 used twice
  EXPECT_EQ(verdict(p, "(25 + 3) * 3 - 1"), Verdict::Wrong);
  EXPECT_EQ(verdict(p, "83"), Verdict::Wrong);                   // the target itself is not a pool number
  EXPECT_EQ(verdict(p, "25 * 3 + 5 + 4 - 1"), Verdict::Wrong);
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3"), Verdict::Correct);
  EXPECT_EQ(verdict(p, " ( 25-5 )*4+3 "), Verdict::Correct);
  EXPECT_EQ(verdict(p, "3 + 4 * (25 - 5)"), Verdict::Correct);
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3 = 83"), Verdict::Correct);
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3 = 84"), Verdict::Wrong);   // claims a different value
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3 = 83 = 83"), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3 ="), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "3 + 4 * (25 - 5) / (5 - 5)"), Verdict::Wrong);  // 5 twice, and division by zero
  EXPECT_EQ(verdict(cd({4, 4, 5, 25}, 83), "25 / (4 - 4) + 5"), Verdict::Wrong);  // division by zero
  EXPECT_EQ(verdict(p, "2**3"), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "import os"), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "25 * 3 + 4 + 5; rm -rf /"), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "(25 - 5) * 4 + 3.0"), Verdict::Unparseable);
  EXPECT_EQ(verdict(p, "99999999999999999999999 - 99999999999999999999916"), Verdict::Wrong);
  EXPECT_EQ(make_task("countdown")->verify(p, "<think>(25 - 5) * 4 + 3</think>"), Verdict::Unparseable);
  EXPECT_EQ(make_task("countdown")->verify(p, "\\boxed{(25 - 5) * 4 + 3}"), Verdict::Correct);
}

TEST(CountdownTask, NonIntegerIntermediatesAreAllowed) {
  Problem p = cd({1, 3, 4, 6}, 24);
  EXPECT_EQ(verdict(p, "6 / (1 - 3 / 4)"), Verdict::Correct);  // 3/4 and 1/4 on the way
  Problem q = cd({5, 5, 5, 1}, 24);
  EXPECT_EQ(verdict(q, "5 * (5 - 1 / 5)"), Verdict::Correct);
  EXPECT_EQ(verdict(q, "5 / 5 / 5"), Verdict::Wrong);          // 1/5, not the target
  auto key = make_task("countdown")->answer_key(q, "<answer>5 / 5 / 5</answer>");
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, "1/5");
  EXPECT_FALSE(make_task("countdown")->answer_key(q, "<answer>5 * 5 * 5 * 5</answer>"));  // 5 four times
}

TEST(CountdownTask, LevelsUseTheDocumentedPools) {
  auto task = make_task("countdown");
  const size_t sizes[] = {3, 4, 5, 6};
  const int64_t lo[] = {2, 10, 20, 101}, hi[] = {100, 200, 500, 999};
  for (int l = 0; l < 4; ++l)
    for (uint64_t seed = 0; seed < 200; ++seed) {
      Problem p = task->generate(task->levels()[l], seed);
      EXPECT_EQ(p.numbers.size(), sizes[l]);
      EXPECT_GE(p.target, lo[l]);
      EXPECT_LE(p.target, hi[l]);
      EXPECT_TRUE(std::is_sorted(p.numbers.begin(), p.numbers.end()));
      EXPECT_EQ(task->verify(p, "<answer>" + p.answer + "</answer>"), Verdict::Correct) << p.answer;
      if (l == 3) {
        int large = 0;
        for (int64_t v : p.numbers) large += v >= 25;
        EXPECT_EQ(large, 2);
      }
    }
}

}  // namespace
}  // namespace nanoseek
