// A pretraining run's life through the real binary (issue #11): SIGTERM (docker stop, schedulers) saves a
// checkpoint, prints the resume command and exits 143; a second run into the same directory meanwhile fails at once
// naming the holder's pid; a non-empty OUT without --resume is refused; a --resume with a changed [data] or batch
// shape is an Error naming what differs; --resume completes the run with one metrics line per step; a --resume of the
// finished run changes nothing (final/eval.json keeps its metrics); --overwrite starts afresh.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/fs.h"
#include "test_util.h"

namespace nanoseek {
namespace {

size_t lines_of(const std::string& path) {
  if (!file_exists(path)) return 0;
  const std::string s = read_file(path);
  return size_t(std::count(s.begin(), s.end(), '\n'));
}

TEST(RunLifecycleCli, SigtermLockRefusalsResumeAndOverwrite) {
  test::ScratchDir d("lifecycle");
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-tiny.toml";
  const std::string out = d / "run", log_path = d / "first.log";
  const std::string base = bin + " pretrain " + recipe + " --out " + out;
  const std::string sets = " --set train.steps=150 --set train.log_every=1";
  // 1. a run in the background; SIGTERM once it has logged a step
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = "exec " + base + sets + " > " + log_path + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (lines_of(out + "/metrics.jsonl") < 1 && std::chrono::steady_clock::now() - t0 < std::chrono::minutes(3))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(lines_of(out + "/metrics.jsonl"), 1u) << "no step logged in 3 minutes";
  // 2. a second run into the same directory while the first holds it
  auto [rc2, log2] = test::run_cmd(base + sets + " --resume");
  EXPECT_EQ(rc2, 1) << log2;
  EXPECT_NE(log2.find("another run is using this directory (pid " + std::to_string(pid)), std::string::npos) << log2;
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string first = read_file(log_path);
  ASSERT_TRUE(WIFEXITED(status)) << first;
  EXPECT_EQ(WEXITSTATUS(status), 143) << first;
  EXPECT_NE(first.find("terminated (SIGTERM): saved " + out + "/ckpt-"), std::string::npos) << first;
  EXPECT_NE(first.find("continue with: "), std::string::npos) << first;
  EXPECT_NE(first.find(" --resume"), std::string::npos) << first;
  const size_t stopped_at = lines_of(out + "/metrics.jsonl");
  ASSERT_LT(stopped_at, 150u) << "the run finished before SIGTERM arrived";
  const std::string ckpt = out + "/ckpt-" + std::to_string(stopped_at);
  ASSERT_TRUE(file_exists(ckpt + "/trainer_state.json")) << first;
  const auto state = nlohmann::json::parse(read_file(ckpt + "/trainer_state.json"));
  EXPECT_EQ(state["threads"], 1) << "ci-tiny sets train.threads = 1";
  EXPECT_TRUE(state.contains("seed"));
  // 3. refusals: not empty; a different corpus spec; a different batch shape
  auto [rc3, log3] = test::run_cmd(base + sets);
  EXPECT_EQ(rc3, 1) << log3;
  EXPECT_NE(log3.find("is not empty (it holds a run: "), std::string::npos) << log3;
  EXPECT_NE(log3.find("use --resume to continue it or --overwrite to replace it"), std::string::npos) << log3;
  auto [rc4, log4] = test::run_cmd(base + sets + " --resume --set data.train_docs=300");
  EXPECT_EQ(rc4, 1) << log4;
  EXPECT_NE(log4.find("data.train_docs (built 400, recipe 300)"), std::string::npos) << log4;
  auto [rc5, log5] = test::run_cmd(base + sets + " --resume --set train.batch_size=2");
  EXPECT_EQ(rc5, 1) << log5;
  EXPECT_NE(log5.find("batch_size: checkpoint 4 vs now 2"), std::string::npos) << log5;
  // 4. --resume completes it: one metrics line per step
  auto [rc6, log6] = test::run_cmd(base + sets + " --resume --quiet");
  ASSERT_EQ(rc6, 0) << log6;
  std::istringstream in(read_file(out + "/metrics.jsonl"));
  std::set<int64_t> steps;
  size_t n = 0;
  for (std::string line; std::getline(in, line); ++n) steps.insert(nlohmann::json::parse(line)["step"].get<int64_t>());
  EXPECT_EQ(n, 150u);
  EXPECT_EQ(steps.size(), 150u);
  const std::string eval = read_file(out + "/final/eval.json");
  EXPECT_NE(eval.find("val_loss"), std::string::npos) << eval;
  // 5. --resume of the finished run: nothing changes
  auto [rc7, log7] = test::run_cmd(base + sets + " --resume");
  EXPECT_EQ(rc7, 0) << log7;
  EXPECT_NE(log7.find("the run is complete"), std::string::npos) << log7;
  EXPECT_EQ(read_file(out + "/final/eval.json"), eval) << "a --resume of a finished run rewrote final/eval.json";
  // 6. --overwrite: a new run, the old one's files gone
  ASSERT_TRUE(dir_exists(out + "/ckpt-150"));
  auto [rc8, log8] = test::run_cmd(base + " --overwrite --quiet --set train.steps=2 --set train.warmup=0 --set train.ckpt_every=0");
  EXPECT_EQ(rc8, 0) << log8;
  EXPECT_EQ(lines_of(out + "/metrics.jsonl"), 2u);
  // (not ckpt-<stopped_at>: the new 2-step run writes ckpt-2 itself when SIGTERM came at step 2)
  EXPECT_FALSE(dir_exists(out + "/ckpt-150")) << "--overwrite kept the previous run's checkpoint";
}

// A model too big for the machine is refused from its config alone, before any allocation, with the plan in MiB:
// loading (eval) and training (pretrain: params + grads + AdamW moments). DeepSeek-V3 (671B) is ~2.5 TiB in fp32.
TEST(MemoryPreflightCli, TooBigModelsAreRefusedBeforeAllocating) {
  test::ScratchDir d("mem");
  const std::string bin = NANOSEEK_BINARY, src = test::source_dir();
  make_dirs(d / "v3");
  write_file_atomic(d / "v3/config.json", read_file(src + "/configs/deepseek-v3.json"));
  write_file_atomic(d / "v3/tokenizer.json", read_file(src + "/tests/golden/tokenizer/trained/tokenizer.json"));
  auto [rc, log] = test::run_cmd("env -u NANOSEEK_NO_MEM_CHECK " + bin + " eval --model " + d / "v3" +
                                 " --task add --out " + d / "ev.json");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("loading the model: needs"), std::string::npos) << log;
  EXPECT_NE(log.find("MiB is available"), std::string::npos) << log;
  std::tie(rc, log) = test::run_cmd("env -u NANOSEEK_NO_MEM_CHECK " + bin + " pretrain " + src +
                                    "/recipes/ci-tiny.toml --out " + d / "run" + " --set data.train_docs=50" +
                                    " --set model.hidden_size=16384 --set model.num_hidden_layers=64" +
                                    " --set model.intermediate_size=65536 --set model.moe_intermediate_size=65536");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("training: needs"), std::string::npos) << log;
  EXPECT_NE(log.find("AdamW moments"), std::string::npos) << log;
  // a small model with a batch whose activations do not fit: refused when they are planned, before allocation
  std::tie(rc, log) = test::run_cmd("env -u NANOSEEK_NO_MEM_CHECK " + bin + " pretrain " + src +
                                    "/recipes/ci-tiny.toml --out " + d / "run2" + " --set data.train_docs=50" +
                                    " --set train.batch_size=1000000");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("activations for batch 1000000 x seq 64: needs"), std::string::npos) << log;
  EXPECT_NE(log.find("MiB is available"), std::string::npos) << log;
}

}  // namespace
}  // namespace nanoseek
