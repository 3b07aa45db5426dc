// The integer tasks (add, add-zh, mul): generated content per level and adversarial completions.
#include <gtest/gtest.h>

#include "tasks/task.h"

namespace nanoseek {
namespace {

Problem add_problem(int64_t a, int64_t b) {
  Problem p;
  p.task = "add";
  p.level = "d3";
  p.numbers = {a, b};
  p.answer = std::to_string(a + b);
  return p;
}

TEST(AddTask, LevelsHaveTheDocumentedDigitsAndSigns) {
  auto add = make_task("add");
  const int digits[] = {2, 3, 5, 8};
  for (int l = 0; l < 4; ++l) {
    bool saw_sub = false, saw_negative = false;
    for (uint64_t seed = 0; seed < 500; ++seed) {
      Problem p = add->generate(add->levels()[l], seed);
      ASSERT_EQ(p.numbers.size(), 2u);
      int64_t a = p.numbers[0], b = p.numbers[1];
      EXPECT_EQ(std::to_string(a).size(), static_cast<size_t>(digits[l]));
      EXPECT_EQ(p.answer, std::to_string(a + b));
      saw_sub |= b < 0;
      saw_negative |= a + b < 0;
      EXPECT_NE(p.question.find(b < 0 ? " - " : " + "), std::string::npos) << p.question;
    }
    EXPECT_EQ(saw_sub, l >= 1) << l;
    EXPECT_EQ(saw_negative, l >= 2) << l;
  }
}

TEST(AddTask, AdversarialCompletions) {
  auto add = make_task("add");
  Problem p = add_problem(1200, -1500);  // answer -300
  auto v = [&](std::string_view c) { return add->verify(p, c); };
  EXPECT_EQ(v("<answer>-300</answer>"), Verdict::Correct);
  EXPECT_EQ(v("<think>1200 - 1500</think>\n<answer> -300 </answer>"), Verdict::Correct);
  EXPECT_EQ(v("\\boxed{-300}"), Verdict::Correct);
  EXPECT_EQ(v("<answer>\\boxed{-300}</answer>"), Verdict::Correct);
  EXPECT_EQ(v("<answer>300</answer>"), Verdict::Wrong);            // sign dropped
  EXPECT_EQ(v("<answer>-0300</answer>"), Verdict::Correct);        // leading zeros are still the integer
  EXPECT_EQ(v("<think><answer>-300</answer></think>"), Verdict::Unparseable);  // only inside the reasoning
  EXPECT_EQ(v("<answer>-300</answer><answer>300</answer>"), Verdict::Wrong);   // the last answer counts
  EXPECT_EQ(v("<answer>300</answer><answer>-300</answer>"), Verdict::Correct);
  EXPECT_EQ(v("<answer>-3e2</answer>"), Verdict::Unparseable);
  EXPECT_EQ(v("<answer>-300.0</answer>"), Verdict::Unparseable);
  EXPECT_EQ(v("<answer>-300 or 300</answer>"), Verdict::Unparseable);
  EXPECT_EQ(v("<answer>" + std::string(900, '9') + "</answer>"), Verdict::Wrong);  // huge but well-formed
  EXPECT_EQ(v("-300"), Verdict::Unparseable);                       // no tag, no box
  EXPECT_EQ(v("<answer>-300"), Verdict::Unparseable);

  Problem q = add_problem(1000, 234);
  EXPECT_EQ(add->verify(q, "<answer>1,234</answer>"), Verdict::Correct);
  EXPECT_EQ(add->verify(q, "<answer>+1234</answer>"), Verdict::Correct);
  EXPECT_EQ(add->verify(q, "<answer>12,34</answer>"), Verdict::Unparseable);
  EXPECT_EQ(add->verify(q, "<answer>1e3</answer>"), Verdict::Unparseable);
  EXPECT_EQ(*add->answer_key(q, "<answer> 1,234 </answer>"), "1234");
  q.answer = "+01234";  // a hand-written problem file need not spell the answer canonically
  EXPECT_EQ(add->verify(q, "<answer>1234</answer>"), Verdict::Correct);
}

TEST(AddTask, LongSolutionShowsCarriesAndBorrows) {
  auto add = make_task("add");
  Problem p = add_problem(4567, 895);
  std::string s = add->render_solution(p, SolutionStyle::Long, 0);
  EXPECT_NE(s.find("7 + 5 = 12, write 2, carry 1."), std::string::npos) << s;
  EXPECT_NE(s.find("6 + 9 + 1 = 16, write 6, carry 1."), std::string::npos) << s;
  EXPECT_NE(s.find("<answer>5462</answer>"), std::string::npos) << s;
  Problem q = add_problem(895, -4567);  // 895 - 4567 = -3672
  s = add->render_solution(q, SolutionStyle::Long, 0);
  EXPECT_NE(s.find("4567 is larger than 895"), std::string::npos) << s;
  EXPECT_NE(s.find("7 - 5 = 2, write 2."), std::string::npos) << s;
  EXPECT_NE(s.find("6 - 9 is negative, borrow 1: 16 - 9 = 7, write 7."), std::string::npos) << s;
  EXPECT_NE(s.find("<answer>-3672</answer>"), std::string::npos) << s;
  s = add->render_solution(q, SolutionStyle::SelfCheck, 3);
  EXPECT_NE(s.find("Wait, let me check column"), std::string::npos) << s;
}

TEST(AddZhTask, QuestionInChineseAndReasoningLanguages) {
  auto zh = make_task("add-zh");
  Problem p = zh->generate("d2", 4);
  EXPECT_EQ(p.lang, "zh");
  EXPECT_TRUE(p.question.find("计算") != std::string::npos || p.question.find("等于多少") != std::string::npos)
      << p.question;
  std::string in_zh = zh->render_solution(p, SolutionStyle::Long, 1, Lang::Zh);
  std::string in_en = zh->render_solution(p, SolutionStyle::Long, 1, Lang::En);
  EXPECT_NE(in_zh.find("逐位"), std::string::npos) << in_zh;
  EXPECT_EQ(in_en.find("逐位"), std::string::npos) << in_en;
  for (Lang lang : {Lang::Zh, Lang::En, Lang::Mixed})
    for (SolutionStyle s : {SolutionStyle::Short, SolutionStyle::Long, SolutionStyle::SelfCheck})
      EXPECT_EQ(zh->verify(p, zh->render_solution(p, s, 2, lang)), Verdict::Correct);
  // Mixed really mixes: over a few seeds some texts hold both scripts.
  int both = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::string m = zh->render_solution(zh->generate("d4", seed), SolutionStyle::Long, seed, Lang::Mixed);
    both += m.find("write") != std::string::npos && m.find("写") != std::string::npos;
  }
  EXPECT_GE(both, 18);  // ~10 sentences each a coin flip: all one language has probability ~2^-9
}

TEST(MulTask, LevelsAndAdversarialCompletions) {
  auto mul = make_task("mul");
  const size_t a_digits[] = {2, 2, 3, 4}, b_digits[] = {1, 2, 2, 3};
  for (int l = 0; l < 4; ++l)
    for (uint64_t seed = 0; seed < 200; ++seed) {
      Problem p = mul->generate(mul->levels()[l], seed);
      EXPECT_EQ(std::to_string(p.numbers[0]).size(), a_digits[l]);
      EXPECT_EQ(std::to_string(p.numbers[1]).size(), b_digits[l]);
      EXPECT_GE(p.numbers[1], 2);
      EXPECT_EQ(p.answer, std::to_string(p.numbers[0] * p.numbers[1]));
    }
  Problem p;
  p.task = "mul";
  p.numbers = {347, 28};
  p.answer = "9716";
  EXPECT_EQ(mul->verify(p, "<think>347 * 28</think><answer>9716</answer>"), Verdict::Correct);
  EXPECT_EQ(mul->verify(p, "<answer>9,716</answer>"), Verdict::Correct);
  EXPECT_EQ(mul->verify(p, "<answer>347 * 28</answer>"), Verdict::Unparseable);  // an expression is not a number
  EXPECT_EQ(mul->verify(p, "<answer>9717</answer>"), Verdict::Wrong);
  std::string s = mul->render_solution(p, SolutionStyle::Long, 0);
  EXPECT_NE(s.find("347 * 8 = 2776."), std::string::npos) << s;
  EXPECT_NE(s.find("347 * 20 = 6940."), std::string::npos) << s;
  EXPECT_NE(s.find("2776 + 6940 = 9716."), std::string::npos) << s;
  p.numbers = {40, 7};
  p.answer = "280";
  s = mul->render_solution(p, SolutionStyle::Long, 0);
  EXPECT_NE(s.find("40 * 7 = 280."), std::string::npos) << s;
}

}  // namespace
}  // namespace nanoseek
