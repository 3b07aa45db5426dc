// Properties every task must have: determinism, real difficulty levels, disjoint splits, renderers that agree with
// the verifier, and verifiers that survive junk.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "tasks/task.h"

namespace nanoseek {
namespace {

constexpr SolutionStyle kStyles[] = {SolutionStyle::Bare, SolutionStyle::Short, SolutionStyle::Long,
                                     SolutionStyle::SelfCheck, SolutionStyle::Wrong};

TEST(TaskSuite, RegistryNamesAndErrors) {
  for (const std::string& name : task_names()) EXPECT_EQ(make_task(name)->name(), name);
  EXPECT_THROW(make_task("sudoku"), Error);
  auto add = make_task("add");
  EXPECT_GE(add->levels().size(), 3u);
  EXPECT_THROW(add->generate("d9", 1), Error);
  EXPECT_THROW(parse_style("verbose"), Error);
  EXPECT_EQ(parse_style("selfcheck"), SolutionStyle::SelfCheck);
  EXPECT_EQ(parse_split("test"), Split::Test);
}

TEST(TaskSuite, GeneratorsAreDeterministicBySeed) {
  for (const std::string& name : task_names()) {
    auto task = make_task(name);
    for (const std::string& level : task->levels()) {
      std::set<std::string> distinct;
      for (uint64_t seed = 0; seed < 50; ++seed) {
        Problem a = task->generate(level, seed), b = task->generate(level, seed);
        EXPECT_EQ(a.question, b.question);
        EXPECT_EQ(a.answer, b.answer);
        EXPECT_EQ(a.numbers, b.numbers);
        EXPECT_EQ(a.target, b.target);
        EXPECT_EQ(a.level, level);
        distinct.insert(a.question);
        for (SolutionStyle s : kStyles)
          EXPECT_EQ(task->render_solution(a, s, seed), task->render_solution(b, s, seed));
      }
      EXPECT_GT(distinct.size(), 40u) << name << " " << level;
    }
  }
}

// Mean digit count of the operands (add, mul) or pool size and target (countdown) grows with the level.
TEST(TaskSuite, LevelsGrowInDifficulty) {
  for (const std::string& name : task_names()) {
    auto task = make_task(name);
    double prev_size = 0, prev_magnitude = 0;
    for (const std::string& level : task->levels()) {
      double size = 0, magnitude = 0;
      for (uint64_t seed = 0; seed < 200; ++seed) {
        Problem p = task->generate(level, seed);
        if (name == "countdown") {
          size += static_cast<double>(p.numbers.size());
          magnitude += static_cast<double>(p.target);
        } else {
          for (int64_t v : p.numbers) size += static_cast<double>(std::to_string(v < 0 ? -v : v).size());
          magnitude += static_cast<double>(p.answer.size());
        }
      }
      EXPECT_GE(size, prev_size) << name << " " << level;
      EXPECT_GT(size + magnitude, prev_size + prev_magnitude) << name << " " << level;
      prev_size = size, prev_magnitude = magnitude;
    }
  }
}

TEST(TaskSuite, SplitsAreDisjointOver10kSamples) {
  for (const std::string& name : {"add", "countdown"}) {
    auto task = make_task(name);
    std::set<std::string> seen[3];
    uint64_t rng = 1;
    for (Split split : {Split::Train, Split::Val, Split::Test})
      for (int i = 0; i < 10000 / 3; ++i) {
        Problem p = sample_problem(*task, "d2", split, rng);
        ASSERT_EQ(split_of(p), split);
        std::string key = p.task + ":" + std::to_string(p.target);
        for (int64_t v : p.numbers) key += "," + std::to_string(v);
        seen[static_cast<int>(split)].insert(key);
      }
    for (int a = 0; a < 3; ++a)
      for (int b = a + 1; b < 3; ++b)
        for (const std::string& k : seen[a]) EXPECT_EQ(seen[b].count(k), 0u) << name << " " << k;
    EXPECT_GT(seen[2].size(), 1000u);  // sampling the test split still gives many distinct problems
  }
}

TEST(TaskSuite, SplitDependsOnContentNotWording) {
  auto add = make_task("add"), add_zh = make_task("add-zh");
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Problem en = add->generate("d3", seed), zh = add_zh->generate("d3", seed);
    ASSERT_EQ(en.numbers, zh.numbers);
    EXPECT_EQ(split_of(en), split_of(zh));
    Problem reworded = en;
    reworded.question = "Something else entirely";
    reworded.seed = 12345;
    EXPECT_EQ(split_of(reworded), split_of(en));
  }
}

TEST(TaskSuite, EveryStyleVerifiesAsIntended) {
  for (const std::string& name : task_names()) {
    auto task = make_task(name);
    for (const std::string& level : task->levels())
      for (uint64_t seed = 0; seed < 300; ++seed) {
        Problem p = task->generate(level, seed);
        for (SolutionStyle s : kStyles) {
          std::string sol = task->render_solution(p, s, seed * 7 + 1);
          Verdict want = s == SolutionStyle::Wrong ? Verdict::Wrong : Verdict::Correct;
          ASSERT_EQ(task->verify(p, sol), want) << name << " " << level << " " << style_name(s) << "\n"
                                                << p.question << "\n" << sol;
          for (unsigned char c : sol)
            if (name != "add-zh") ASSERT_LT(c, 128) << "non-ASCII in " << name << ": " << sol;
        }
      }
  }
}

TEST(TaskSuite, SolutionStylesDifferInLength) {
  for (const std::string& name : task_names()) {
    auto task = make_task(name);
    double len[5] = {};
    for (uint64_t seed = 0; seed < 100; ++seed) {
      Problem p = task->generate(task->levels().back(), seed);
      for (int s = 0; s < 5; ++s) len[s] += task->render_solution(p, kStyles[s], seed).size();
    }
    EXPECT_LT(len[0], len[1]) << name;  // bare < short
    EXPECT_LT(len[1], len[2]) << name;  // short < long
    EXPECT_LT(len[2], len[3]) << name;  // long < selfcheck
  }
}

TEST(TaskSuite, EnglishOnlyTasksRejectOtherLanguages) {
  for (const char* name : {"add", "mul", "countdown"}) {
    auto task = make_task(name);
    Problem p = task->generate("d1", 3);
    EXPECT_THROW(task->render_solution(p, SolutionStyle::Long, 0, Lang::Zh), Error) << name;
  }
}

TEST(TaskSuite, FuzzJunkNeverCrashesAVerifier) {
  Rng rng(99);
  const std::string pieces[] = {"<answer>", "</answer>", "<think>", "</think>", "\\boxed{", "{", "}", "(", ")",
                                "+", "-", "*", "/", "=", " ", "1", "25", "999999999999999999999", "\xff", "\xe4\xb8",
                                "\xc3\x97", ",", "e", "\n", "-0", "0"};
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<Problem> problems;
  for (const std::string& name : task_names()) {
    tasks.push_back(make_task(name));
    problems.push_back(tasks.back()->generate(tasks.back()->levels().back(), 5));
  }
  for (int i = 0; i < 10000; ++i) {
    std::string junk;
    int n = static_cast<int>(rng.range(0, 40));
    for (int k = 0; k < n; ++k) {
      if (rng.uniform() < 0.3) junk += static_cast<char>(rng.range(0, 255));
      else junk += pieces[rng.range(0, std::size(pieces) - 1)];
    }
    for (size_t t = 0; t < tasks.size(); ++t) {
      Verdict v = tasks[t]->verify(problems[t], junk);
      EXPECT_TRUE(v == Verdict::Correct || v == Verdict::Wrong || v == Verdict::Unparseable);
      tasks[t]->answer_key(problems[t], junk);
    }
  }
  // One megabyte of junk, and a megabyte of nesting.
  std::string big;
  while (big.size() < (1u << 20)) big += static_cast<char>(rng.range(0, 255));
  std::string nest = std::string(1 << 19, '{') + std::string(1 << 19, '}');
  std::string boxes;
  while (boxes.size() < (1u << 20)) boxes += "\\boxed{";
  for (size_t t = 0; t < tasks.size(); ++t) {
    tasks[t]->verify(problems[t], big);
    EXPECT_EQ(tasks[t]->verify(problems[t], nest), Verdict::Unparseable);
    EXPECT_EQ(tasks[t]->verify(problems[t], boxes), Verdict::Unparseable);
    EXPECT_EQ(tasks[t]->verify(problems[t], "<answer>" + std::string(1 << 20, '(') + "</answer>"),
              Verdict::Unparseable);
  }
}

}  // namespace
}  // namespace nanoseek
