#include "tasks/answer.h"

#include <gtest/gtest.h>

namespace nanoseek {
namespace {

std::string extracted(std::string_view s) {
  auto a = extract_final_answer(s);
  return a ? std::string(*a) : std::string("<none>");
}

TEST(ExtractAnswer, TagsBoxedAndTheLastOneWins) {
  EXPECT_EQ(extracted("<answer>42</answer>"), "42");
  EXPECT_EQ(extracted("<think>x</think>\n<answer> 42 </answer>"), " 42 ");
  EXPECT_EQ(extracted("<answer>1</answer> <answer>2</answer>"), "2");
  EXPECT_EQ(extracted("so \\boxed{7}"), "7");
  EXPECT_EQ(extracted("\\boxed{1} then \\boxed{2}"), "2");
  EXPECT_EQ(extracted("<answer>1</answer> \\boxed{2}"), "2");  // boxed ends later
  EXPECT_EQ(extracted("\\boxed{2} <answer>1</answer>"), "1");
  EXPECT_EQ(extracted("<answer>\\boxed{5}</answer>"), "5");    // exactly-boxed answer is unwrapped
  EXPECT_EQ(extracted("<answer>\\boxed{\\boxed{5}}</answer>"), "5");
  EXPECT_EQ(extracted("<answer>\\boxed{1}+\\boxed{2}</answer>"), "\\boxed{1}+\\boxed{2}");
}

TEST(ExtractAnswer, NestedBracesInBoxed) {
  EXPECT_EQ(extracted("\\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(extracted("\\boxed{{{3}}}"), "{{3}}");
  EXPECT_EQ(extracted("\\boxed{5"), "<none>");            // unbalanced
  EXPECT_EQ(extracted("\\boxed{5}}}}"), "5");
  EXPECT_EQ(extracted("\\boxed{\\boxed{3}"), "3");       // the inner one is complete
}

TEST(ExtractAnswer, OnlyTextAfterTheLastThinkCounts) {
  EXPECT_EQ(extracted("<think><answer>5</answer></think>"), "<none>");        // answer in think only
  EXPECT_EQ(extracted("<think>\\boxed{5}</think> I give up"), "<none>");
  EXPECT_EQ(extracted("<think><answer>5</answer></think><answer>6</answer>"), "6");
  EXPECT_EQ(extracted("<think>5 \\boxed{5} and never closed"), "<none>");     // unclosed reasoning
  EXPECT_EQ(extracted("</think><answer>3</answer>"), "3");
}

TEST(ExtractAnswer, UnbalancedTags) {
  EXPECT_EQ(extracted("<answer>5"), "<none>");
  EXPECT_EQ(extracted("5</answer>"), "<none>");
  EXPECT_EQ(extracted("</answer><answer>5"), "<none>");
  EXPECT_EQ(extracted("<answer>1</answer><answer>2"), "1");
  EXPECT_EQ(extracted("<answer><answer>4</answer>"), "4");
  EXPECT_EQ(extracted(""), "<none>");
}

std::string norm(std::string_view s) {
  auto n = normalize_integer(s);
  return n ? *n : std::string("<none>");
}

TEST(NormalizeInteger, AcceptedForms) {
  EXPECT_EQ(norm("42"), "42");
  EXPECT_EQ(norm("  \n42\t "), "42");
  EXPECT_EQ(norm("+42"), "42");
  EXPECT_EQ(norm("-42"), "-42");
  EXPECT_EQ(norm("\xE2\x88\x92" "42"), "-42");  // U+2212
  EXPECT_EQ(norm("0042"), "42");
  EXPECT_EQ(norm("-0"), "0");
  EXPECT_EQ(norm("1,234,567"), "1234567");
  EXPECT_EQ(norm("-12,345"), "-12345");
  EXPECT_EQ(norm(std::string(500, '9')), std::string(500, '9'));  // huge numbers: no overflow
}

TEST(NormalizeInteger, RejectedForms) {
  for (const char* s : {"", " ", "+", "-", "1e3", "5.0", "5.", "4 2", "--4", "+-4", "0x10", "1,23", "1234,567",
                        ",123", "1,,234", "1,234,", "12a", "forty", "\xff\xfe", "١٢", "4/2", "(4)"})
    EXPECT_EQ(norm(s), "<none>") << s;
  EXPECT_EQ(norm(std::string(1001, '1')), "<none>");
}

}  // namespace
}  // namespace nanoseek
