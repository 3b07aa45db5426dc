// Rejection sampling: the filter keeps exactly the completions both rule rewards accept (hand-written cases), drops
// exact duplicates; the command end to end on tiny models writes valid chat JSONL whose every sample verifies —
// a random model (nothing kept, stats still add up) and one fine-tuned by `nanoseek sft` to reproduce the answers of
// the very problems it is asked (so the kept set is not empty).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "test_util.h"
#include "data/chat_data.h"
#include "rl/rejection.h"
#include "rl/rewards.h"
#include "tasks/problem_json.h"
#include "train/sft.h"
#include "train/tiny_model_dir.h"

namespace nanoseek {
namespace {

TEST(Rejection, FilterKeepsOnlyCorrectWellFormedCompletions) {
  auto task = make_task("add");
  Problem p;
  p.task = "add";
  p.level = "d1";
  p.question = "What is 53 + 27?";
  p.numbers = {53, 27};
  p.answer = "80";
  const std::string good = "<think>\n53 + 27 = 80.\n</think>\n<answer>80</answer>";
  const std::vector<std::string> texts = {
      good,
      "<answer>80</answer>",                                        // right answer, no reasoning: format fails
      "<think>\n53 + 27 = 81.\n</think>\n<answer>81</answer>",      // well formed, wrong
      "<think>\n<answer>80</answer>\n</think>",                     // answer only inside the reasoning
      good + " and more",                                           // text after the answer: format fails
      "  " + good + "\n",                                           // surrounding whitespace is allowed
      good,                                                         // exact duplicate
      "<think>\nadd them\n</think>\n<answer>80</answer>",           // a different accepted text
  };
  const std::vector<bool> accept = {true, false, false, false, false, true, true, true};
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(accept_completion(*task, p, texts[i]), accept[i]) << texts[i];
  const auto sel = select_completions(*task, p, texts);
  ASSERT_EQ(sel.size(), 3u);
  EXPECT_EQ(sel[0], good);
  EXPECT_EQ(sel[1], texts[5]);
  EXPECT_EQ(sel[2], texts[7]);
}

// Every line is a valid chat sample whose assistant turn verifies against its own problem; returns the count.
size_t check_output(const std::string& path) {
  const auto samples = read_chat_jsonl(path);
  for (const auto& s : samples) {
    const Problem p = problem_from_json(s.meta.at("problem"), s.where);
    EXPECT_EQ(s.messages.size(), 2u);
    EXPECT_EQ(s.messages[0].content, p.question);
    EXPECT_TRUE(accept_completion(*make_task(p.task), p, s.messages[1].content)) << s.messages[1].content;
    EXPECT_EQ(accuracy_reward(*make_task(p.task), p, s.messages[1].content).value, 1.0);
    EXPECT_EQ(format_reward(s.messages[1].content).value, 1.0);
  }
  return samples.size();
}

TEST(RejectionCli, RandomModelWritesValidJsonlAndStats) {
  const std::string bin = NANOSEEK_BINARY, dir = ::testing::TempDir() + "nanoseek_rejection_random";
  test::make_tiny_model_dir(dir, 7);
  auto [rc, log] = test::run_cmd(bin + " rejection-sample --model " + dir + " --task add --levels d1,d2 --problems 2 --k 3 "
                       "--max-new-tokens 12 --out " + dir + "/rs.jsonl");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("4 problems x 3 = 12 samples"), std::string::npos) << log;
  const auto st = nlohmann::json::parse(read_file(dir + "/rs.jsonl.stats.json"));
  EXPECT_EQ(st["samples"], 12);
  EXPECT_EQ(st["by_level"]["d1"]["samples"], 6);
  EXPECT_EQ(st["kept"].get<size_t>(), check_output(dir + "/rs.jsonl"));
  std::tie(rc, log) = test::run_cmd(bin + " rejection-sample --model " + dir + " --task add --levels d9 --out " + dir + "/x");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("task add has no level 'd9'"), std::string::npos) << log;
  std::filesystem::remove_all(dir);
}

// Fine-tune a tiny model on the exact problems rejection-sample will draw (same seed and split: the draw of
// rl/evaluate.cpp, state = seed·1000003 + level index), then sample them: the memorised solutions verify.
TEST(RejectionCli, SftMemorisedProblemsAreKept) {
  const std::string bin = NANOSEEK_BINARY, dir = ::testing::TempDir() + "nanoseek_rejection_sft";
  test::make_tiny_model_dir(dir + "/init", 8);
  auto task = make_task("add");
  std::vector<ChatSample> data;
  uint64_t state = 3 * 1000003 + 0;
  for (int i = 0; i < 2; ++i) {
    const Problem p = sample_problem(*task, "d1", Split::Train, state);
    data.push_back({{{"user", p.question}, {"assistant", task->render_solution(p, SolutionStyle::Short, 1)}}, {}, ""});
  }
  write_chat_jsonl(dir + "/mem.jsonl", data);
  SftOptions o;
  o.model_dir = dir + "/init";
  o.data = dir + "/mem.jsonl";
  o.out_dir = dir + "/sft";
  o.steps = 60, o.batch_size = 2, o.seq_len = 48, o.optim.lr = 1e-2, o.optim.min_lr = 1e-3, o.val_fraction = 0, o.quiet = true;
  const SftResult r = run_sft(o);
  ASSERT_TRUE(r.completed);
  auto [rc, log] = test::run_cmd(bin + " rejection-sample --model " + r.final_dir + " --task add --levels d1 --problems 2 --k 4 "
                       "--seed 3 --temperature 0.3 --max-new-tokens 32 --out " + dir + "/rs.jsonl");
  ASSERT_EQ(rc, 0) << log;
  const size_t kept = check_output(dir + "/rs.jsonl");
  // Memorised (loss ~0.05): nearly every sample verifies, and the copies of one solution are exact duplicates.
  const auto st = nlohmann::json::parse(read_file(dir + "/rs.jsonl.stats.json"));
  EXPECT_EQ(st["kept"].get<size_t>(), kept);
  EXPECT_GE(kept, 1u) << "final train loss " << r.losses.back() << "\n" << log;
  EXPECT_GE(st["problems_with_kept"].get<int>(), 1);
  EXPECT_EQ(st["accepted"].get<int64_t>() - st["duplicates"].get<int64_t>(), int64_t(kept));
  EXPECT_GT(st["duplicates"].get<int64_t>(), 0) << log;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nanoseek
