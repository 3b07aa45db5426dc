#include "rl/rewards.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace nanoseek {
namespace {

double fmt_r(std::string_view s) { return format_reward(s).value; }

TEST(FormatReward, AcceptsTheR1LayoutWithAnyWhitespace) {
  EXPECT_EQ(fmt_r("<think>a</think><answer>1</answer>"), 1.0);
  EXPECT_EQ(fmt_r("<think>\nstep 1\nstep 2\n</think>\n<answer>42</answer>"), 1.0);
  EXPECT_EQ(fmt_r("  \n<think> a </think> \n\n <answer> 1 </answer>\n  "), 1.0);
  EXPECT_EQ(fmt_r("<think>x < y and y > z</think><answer>\\boxed{3}</answer>"), 1.0);
  EXPECT_EQ(format_reward("<think>a</think><answer>1</answer>").verdict, Verdict::Correct);
}

TEST(FormatReward, CannotBeGamed) {
  const char* bad[] = {
      "",                                                                  // nothing
      "<answer>1</answer>",                                                // no reasoning
      "<think>a</think>",                                                  // no answer
      "<think></think><answer>1</answer>",                                 // empty reasoning
      "<think> \n\t </think><answer>1</answer>",                           // whitespace reasoning
      "<think>a</think><answer> </answer>",                                // empty answer
      "<think>a</think><think>b</think><answer>1</answer>",                // two think blocks
      "<think>a</think><answer>1</answer><answer>2</answer>",              // two answer blocks
      "<think>a <think>b</think> c</think><answer>1</answer>",             // nested think
      "<think>a</think><answer><answer>1</answer></answer>",               // nested answer
      "<think>a <answer>1</answer></think><answer>1</answer>",             // answer tag inside reasoning
      "<answer>1</answer><think>a</think>",                                // wrong order
      "text <think>a</think><answer>1</answer>",                           // text before
      "<think>a</think><answer>1</answer> text",                           // text after
      "<think>a</think> so <answer>1</answer>",                            // text between
      "<think>a</think><answer>1",                                         // unclosed answer
      "<think>a<answer>1</answer>",                                        // unclosed think
      "<think>a</think></think><answer>1</answer>",                        // stray closing tag
      "<THINK>a</THINK><ANSWER>1</ANSWER>",                                // tags are case-sensitive
      "<think>a</think><answer>1</answer></answer>",
  };
  for (const char* s : bad) {
    EXPECT_EQ(fmt_r(s), 0.0) << s;
    EXPECT_EQ(format_reward(s).verdict, Verdict::Wrong) << s;
  }
}

TEST(LanguageReward, SharesOfTargetWords) {
  EXPECT_DOUBLE_EQ(language_reward("<think>add the ones</think>", "en").value, 1.0);
  EXPECT_DOUBLE_EQ(language_reward("<think>add the ones</think>", "zh").value, 0.0);
  EXPECT_DOUBLE_EQ(language_reward("<think>个位相加</think>", "zh").value, 1.0);   // 4 Han characters = 4 words
  // "add" + "the" + 相 + 加 = 4 words, 2 Latin, 2 Han.
  EXPECT_DOUBLE_EQ(language_reward("<think>add the 相加</think>", "en").value, 0.5);
  EXPECT_DOUBLE_EQ(language_reward("<think>add the 相加</think>", "zh").value, 0.5);
  // Han characters split a Latin run: "ab", 中, "cd".
  EXPECT_DOUBLE_EQ(language_reward("<think>ab中cd</think>", "en").value, 2.0 / 3.0);
  // Numbers, punctuation and symbols are not words; Chinese punctuation neither.
  EXPECT_DOUBLE_EQ(language_reward("<think>7 + 5 = 12，写 2，进 1。 carry</think>", "zh").value, 2.0 / 3.0);
  // Accented Latin letters and combining marks stay in the word.
  EXPECT_DOUBLE_EQ(language_reward("<think>café nai\xCC\x88ve</think>", "en").value, 1.0);
  // Other scripts count against both targets; a run mixing Latin and Cyrillic is not Latin.
  EXPECT_DOUBLE_EQ(language_reward("<think>hello привет</think>", "en").value, 0.5);
  EXPECT_DOUBLE_EQ(language_reward("<think>helloпривет</think>", "en").value, 0.0);
  EXPECT_EQ(language_reward("<think>hello привет</think>", "en").verdict, Verdict::Wrong);
  EXPECT_EQ(language_reward("<think>hello</think>", "en").verdict, Verdict::Correct);
}

TEST(LanguageReward, EdgeCases) {
  EXPECT_DOUBLE_EQ(language_reward("<think>12 + 34 = 46</think>", "zh").value, 1.0);  // no words
  EXPECT_DOUBLE_EQ(language_reward("<think></think>", "en").value, 1.0);
  RewardResult none = language_reward("just text", "en");
  EXPECT_EQ(none.value, 0.0);
  EXPECT_EQ(none.verdict, Verdict::Unparseable);
  EXPECT_EQ(language_reward("<think>unclosed", "en").verdict, Verdict::Unparseable);
  // Only the first think block is the reasoning; text outside it does not count.
  EXPECT_DOUBLE_EQ(language_reward("中文 <think>english words</think> 中文", "en").value, 1.0);
  // Invalid UTF-8 separates words and is not one.
  EXPECT_DOUBLE_EQ(language_reward("<think>ab\xff\xfe" "cd \xe4\xb8</think>", "en").value, 1.0);
  EXPECT_THROW(language_reward("<think>a</think>", "fr"), Error);
  std::string big = "<think>";
  for (int i = 0; i < 100000; ++i) big += i % 2 ? "word " : "字 ";
  big += "</think>";
  EXPECT_DOUBLE_EQ(language_reward(big, "zh").value, 0.5);
}

TEST(Rewards, AccuracyKeepsUnparseableApartFromWrong) {
  auto task = make_task("add");
  Problem p = task->generate("d1", 1);
  RewardResult ok = accuracy_reward(*task, p, "<answer>" + p.answer + "</answer>");
  EXPECT_EQ(ok.value, 1.0);
  EXPECT_EQ(ok.verdict, Verdict::Correct);
  RewardResult wrong = accuracy_reward(*task, p, "<answer>-1</answer>");
  EXPECT_EQ(wrong.value, 0.0);
  EXPECT_EQ(wrong.verdict, Verdict::Wrong);
  RewardResult junk = accuracy_reward(*task, p, "<answer>many</answer>");
  EXPECT_EQ(junk.value, 0.0);
  EXPECT_EQ(junk.verdict, Verdict::Unparseable);
}

TEST(Rewards, RegistryByName) {
  auto task = make_task("add-zh");
  Problem p = task->generate("d2", 3);
  std::string zh = task->render_solution(p, SolutionStyle::Long, 0, Lang::Zh);
  std::string en = task->render_solution(p, SolutionStyle::Long, 0, Lang::En);
  EXPECT_EQ(reward_fn("accuracy")(*task, p, zh).value, 1.0);
  EXPECT_EQ(reward_fn("format")(*task, p, zh).value, 1.0);
  EXPECT_EQ(reward_fn("language")(*task, p, zh).value, 1.0);  // target language is p.lang = "zh"
  EXPECT_EQ(reward_fn("language")(*task, p, en).value, 0.0);
  double mixed = reward_fn("language")(*task, p, task->render_solution(p, SolutionStyle::Long, 5, Lang::Mixed)).value;
  EXPECT_GT(mixed, 0.0);
  EXPECT_LT(mixed, 1.0);
  EXPECT_EQ(reward_fn("format")(*task, p, task->render_solution(p, SolutionStyle::Bare, 0)).value, 0.0);
  EXPECT_THROW(reward_fn("length"), Error);
  EXPECT_EQ(reward_names().size(), 3u);
}

TEST(Rewards, EveryRenderedStyleIsWellFormattedButBare) {
  for (const std::string& name : task_names()) {
    auto task = make_task(name);
    for (uint64_t seed = 0; seed < 50; ++seed) {
      Problem p = task->generate(task->levels().back(), seed);
      for (SolutionStyle s : {SolutionStyle::Short, SolutionStyle::Long, SolutionStyle::SelfCheck,
                              SolutionStyle::Wrong})
        ASSERT_EQ(format_reward(task->render_solution(p, s, seed)).value, 1.0) << name << " " << style_name(s);
    }
  }
}

}  // namespace
}  // namespace nanoseek
