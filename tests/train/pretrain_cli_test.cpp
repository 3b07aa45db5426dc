// `nanoseek pretrain recipes/ci-tiny.toml` end to end through the real binary (< 1 minute): corpus + tokenizer,
// training with accumulation and checkpoints, evaluation, DIR/final loadable by `nanoseek logits`; then a
// --resume of a finished run, a strict-key error, and the corpus subcommand.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/fs.h"
#include "test_util.h"

namespace nanoseek {
namespace {

TEST(PretrainCli, CiTinyEndToEnd) {
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-tiny.toml";
  const std::string out = ::testing::TempDir() + "nanoseek_pretrain_cli";
  std::filesystem::remove_all(out);
  auto [rc, log] = test::run_cmd(bin + " pretrain " + recipe + " --out " + out + " --set train.steps=12");
  ASSERT_EQ(rc, 0) << log;
  for (const char* want : {"batch: B 4 x T 64 x accum 2 = 512 tokens/step", "memory: params", "step 12/12", "done:"})
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
  for (const char* f : {"final/config.json", "final/model.safetensors", "final/tokenizer.json",
                        "final/tokenizer_config.json", "final/eval.json", "ckpt-12/optimizer.safetensors",
                        "ckpt-6/trainer_state.json", "corpus/train.bin", "metrics.jsonl"})
    EXPECT_TRUE(file_exists(out + "/" + f)) << f;
  // One metrics line per step, with the documented keys.
  std::istringstream lines(read_file(out + "/metrics.jsonl"));
  std::string line;
  int n = 0;
  nlohmann::json last;
  while (std::getline(lines, line)) last = nlohmann::json::parse(line), ++n;
  EXPECT_EQ(n, 12);
  for (const char* k : {"loss", "mtp_loss", "balance_loss", "grad_norm", "learning_rate", "tokens_per_s",
                        "expert_load_max_over_mean", "val_loss", "test_acc/d1"})
    EXPECT_TRUE(last.contains(k)) << k << " missing in " << last.dump();
  // The final directory is a model directory every command loads.
  auto [rc2, log2] = test::run_cmd(bin + " logits --model " + out + "/final --ids 5,6,7 --out " + out + "/logits.npy");
  EXPECT_EQ(rc2, 0) << log2;
  // Resuming a finished run does nothing more and still succeeds.
  auto [rc3, log3] = test::run_cmd(bin + " pretrain " + recipe + " --out " + out + " --resume --quiet");
  EXPECT_EQ(rc3, 0) << log3;
  // Strict keys.
  auto [rc4, log4] = test::run_cmd(bin + " pretrain " + recipe + " --out " + out + "-bad --set train.stepz=3");
  EXPECT_NE(rc4, 0);
  EXPECT_NE(log4.find("did you mean 'train.steps'"), std::string::npos) << log4;
}

// A dense Qwen2 model pretrains through the same command ([model] model_type = "qwen2"): how a distillation
// student gets its base (recipes/ci-student.toml here, recipes/student-base.toml for the results). The loss falls, and the final directory is an HF dense
// directory that `nanoseek eval` runs.
TEST(PretrainCli, DenseQwen2Student) {
  const std::string bin = NANOSEEK_BINARY, dir = ::testing::TempDir() + "nanoseek_pretrain_dense";
  std::filesystem::remove_all(dir);
  const std::string out = dir + "/run";
  auto [rc, log] = test::run_cmd(bin + " pretrain " + test::source_dir() + "/recipes/ci-student.toml --out " + out +
                                 " --set train.steps=20");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("model: qwen2 (dense, GQA + SwiGLU)"), std::string::npos) << log;
  const auto cfg = nlohmann::json::parse(read_file(out + "/final/config.json"));
  EXPECT_EQ(cfg["model_type"], "qwen2");
  EXPECT_EQ(cfg["architectures"][0], "Qwen2ForCausalLM");
  std::istringstream lines(read_file(out + "/metrics.jsonl"));
  std::string line;
  std::vector<double> loss;
  nlohmann::json last;
  while (std::getline(lines, line)) last = nlohmann::json::parse(line), loss.push_back(last["loss"].get<double>());
  ASSERT_EQ(loss.size(), 20u);
  EXPECT_LT(loss.back(), loss.front() - 1.0) << "dense pretraining did not learn";
  for (const char* k : {"val_loss", "test_acc/d1", "test_format_ok"})
    EXPECT_TRUE(last.contains(k)) << k << " missing in " << last.dump();
  EXPECT_FALSE(last.contains("expert_load_max_over_mean")) << "a dense model has no experts";
  auto [rc2, log2] = test::run_cmd(bin + " eval --model " + out + "/final --task add --levels d1 --problems 2 --k 2 "
                                   "--max-tokens 8 --out " + dir + "/ev.json");
  EXPECT_EQ(rc2, 0) << log2;
  EXPECT_TRUE(file_exists(dir + "/ev.json"));
}

}  // namespace
}  // namespace nanoseek
