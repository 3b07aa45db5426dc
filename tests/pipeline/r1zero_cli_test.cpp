// `nanoseek r1zero recipes/ci-r1zero.toml` end to end through the real binary: base pretraining → eval → GRPO →
// eval, summary.json with the documented keys, report.md with its plots; the same with the PPO baseline; and
// `nanoseek grpo` from the base directory with a reference model (beta > 0).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "test_util.h"

namespace nanoseek {
namespace {

int read_chat_lines(const std::string& path) {
  int n = 0;
  for (char c : read_file(path)) n += c == '\n';
  return n;
}

void expect_eval_json(const nlohmann::json& e, const std::string& level) {
  for (const char* k : {"k", "pass@1", "pass@k", "cons@k", "n_problems", "mean_response_tokens", "by_difficulty"})
    EXPECT_TRUE(e.contains(k)) << k << " missing in " << e.dump();
  EXPECT_TRUE(e["by_difficulty"].contains(level)) << e.dump();
}

TEST(R1ZeroCli, CiRecipeEndToEnd) {
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-r1zero.toml";
  const std::string out = ::testing::TempDir() + "nanoseek_r1zero_cli";
  std::filesystem::remove_all(out);
  auto [rc, log] = test::run_cmd(bin + " r1zero " + recipe + " --out " + out);
  ASSERT_EQ(rc, 0) << log;
  for (const char* want : {"== base: pretraining", "== grpo:", "rollout 0:", "pass@1 before", "summary"})
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
  const auto s = nlohmann::json::parse(read_file(out + "/summary.json"));
  for (const char* k : {"before", "after", "hardest_level", "wall_seconds"}) EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_EQ(s["hardest_level"], "d1");
  expect_eval_json(s["before"], "d1");
  expect_eval_json(s["after"], "d1");
  for (const char* f : {"report.md", "plots/reward.svg", "plots/length.svg", "grpo/final/model.safetensors",
                        "grpo/final/tokenizer.json", "grpo/completions.jsonl", "base/final/config.json"})
    EXPECT_TRUE(file_exists(out + "/" + f)) << f;
  // metrics with the names RL users know, one line per step
  const std::string m = read_file(out + "/grpo/metrics.jsonl");
  for (const char* k : {"\"reward\"", "\"reward_std\"", "\"rewards/accuracy/mean\"", "\"rewards/format/mean\"",
                        "\"frac_reward_zero_std\"", "\"completions/mean_length\"", "\"completions/max_length\"",
                        "\"completions/clipped_ratio\"", "\"kl\"", "\"entropy\"", "\"clip_ratio\"", "\"time/rollout\"",
                        "\"time/reward\"", "\"time/update\""})
    EXPECT_NE(m.find(k), std::string::npos) << k;
  // a second run into the same OUT needs --resume (or --overwrite); with it, it reuses the base model and the
  // finished GRPO run
  auto [rc1, log1] = test::run_cmd(bin + " r1zero " + recipe + " --out " + out);
  EXPECT_EQ(rc1, 1) << log1;
  EXPECT_NE(log1.find("is not empty"), std::string::npos) << log1;
  auto [rc2, log2] = test::run_cmd(bin + " r1zero " + recipe + " --out " + out + " --resume");
  EXPECT_EQ(rc2, 0) << log2;
  EXPECT_NE(log2.find("== base: reusing"), std::string::npos) << log2;
  EXPECT_NE(log2.find("the run is complete"), std::string::npos) << log2;   // the GRPO stage: nothing redone

  // the PPO baseline on the same base, and GRPO with a reference model
  auto [rc3, log3] = test::run_cmd(bin + " grpo " + recipe + " --init " + out + "/base/final --out " + out +
                                   "/ppo --set grpo.algo=ppo --set grpo.beta=0.01");
  EXPECT_EQ(rc3, 0) << log3;
  EXPECT_NE(read_file(out + "/ppo/metrics.jsonl").find("\"value_loss\""), std::string::npos);
  auto [rc4, log4] = test::run_cmd(bin + " grpo " + recipe + " --init " + out + "/base/final --out " + out +
                                   "/kl --set grpo.beta=0.04 --set grpo.ref_reset_every=2 --set grpo.mu=2");
  EXPECT_EQ(rc4, 0) << log4;
  EXPECT_NE(log4.find("reference 0.2 (beta 0.04)"), std::string::npos) << log4;  // the frozen copy is planned
  // a bad key names itself
  auto [rc5, log5] = test::run_cmd(bin + " grpo " + recipe + " --out " + out + "/bad --set grpo.bta=1");
  EXPECT_NE(rc5, 0);
  EXPECT_NE(log5.find("did you mean 'grpo.beta'"), std::string::npos) << log5;
}

}  // namespace
}  // namespace nanoseek

namespace nanoseek {
namespace {

// R1-Zero from a dense Qwen2 base (R1 §4.1's RL on Qwen-32B-Base): the base recipe is recipes/ci-student.toml; the
// pipeline pretrains it, evaluates and RL-trains the dense model, and the result stays a Qwen2 directory.
TEST(R1ZeroCli, DenseBase) {
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-r1zero.toml";
  const std::string out = ::testing::TempDir() + "nanoseek_r1zero_dense";
  std::filesystem::remove_all(out);
  auto [rc, log] = test::run_cmd(bin + " r1zero " + recipe + " --out " + out + " --set r1zero.base_recipe=ci-student.toml");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("model: qwen2 (dense, GQA + SwiGLU)"), std::string::npos) << log;
  const auto s = nlohmann::json::parse(read_file(out + "/summary.json"));
  expect_eval_json(s["before"], "d1");
  expect_eval_json(s["after"], "d1");
  for (const char* d : {"/base/final/config.json", "/grpo/final/config.json"})
    EXPECT_EQ(nlohmann::json::parse(read_file(out + d))["model_type"], "qwen2") << d;
}

TEST(R1Cli, CiRecipeFourStages) {
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-r1.toml";
  const std::string out = ::testing::TempDir() + "nanoseek_r1_cli";
  std::filesystem::remove_all(out);
  auto [rc, log] = test::run_cmd(bin + " r1 " + recipe + " --out " + out);
  ASSERT_EQ(rc, 0) << log;
  for (const char* want : {"== sft-cold: SFT", "== rl-reasoning: GRPO", "== sft-rs: SFT", "== rl-all: GRPO (add,mul)"})
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
  const auto s = nlohmann::json::parse(read_file(out + "/summary.json"));
  for (const char* st : {"base", "sft-cold", "rl-reasoning", "sft-rs", "rl-all"}) {
    ASSERT_TRUE(s["stages_eval"].contains(st)) << st;
    expect_eval_json(s["stages_eval"][st], "d1");
  }
  for (const char* f : {"cold_start.jsonl", "rejection.jsonl", "sft-rs.jsonl", "rl-all/final/model.safetensors",
                        "report.md"})
    EXPECT_TRUE(file_exists(out + "/" + f)) << f;
  // the rejection-sampling SFT data holds at least the cold-start samples
  EXPECT_GE(read_chat_lines(out + "/sft-rs.jsonl"), 16);
  // r1.rl2_levels keeps the all-round RL on d1 although r1.rl2_tasks is set (which alone means every level)
  const std::string m = read_file(out + "/rl-all/metrics.jsonl");
  EXPECT_NE(m.find("\"rewards/accuracy/d1\""), std::string::npos) << m;
  EXPECT_EQ(m.find("\"rewards/accuracy/d2\""), std::string::npos) << m;
}

}  // namespace
}  // namespace nanoseek
