// `nanoseek grpo --resume` after a stop between checkpoints keeps one completions.jsonl entry set and one metrics
// line per step (issue #11: a resumed run appended the redone steps again, 852 completion lines for 800).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs.h"
#include "test_util.h"
#include "train/tiny_model_dir.h"

namespace nanoseek {
namespace {

std::map<int64_t, int> lines_per_step(const std::string& path) {
  std::map<int64_t, int> n;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) ++n[nlohmann::json::parse(line)["step"].get<int64_t>()];
  return n;
}

TEST(GrpoResumeCli, CompletionsAndMetricsHaveNoDuplicateSteps) {
  test::ScratchDir d("grpo-resume");
  test::make_tiny_model_dir(d / "init", 5);
  const std::string out = d / "run";
  const std::string cmd = std::string(NANOSEEK_BINARY) + " grpo " + test::source_dir() + "/recipes/ci-r1.toml --init " +
                          d / "init" + " --out " + out + " --quiet --set grpo.steps=3 --set train.ckpt_every=1" +
                          " --set grpo.log_completions_every=1";
  auto [rc, log] = test::run_cmd(cmd);
  ASSERT_EQ(rc, 0) << log;
  const auto once = lines_per_step(out + "/completions.jsonl");
  ASSERT_EQ(once.size(), 3u);
  // as if it had stopped after ckpt-2 was written, during the last step
  std::filesystem::remove_all(out + "/final");
  std::filesystem::remove_all(out + "/ckpt-3");
  ASSERT_TRUE(dir_exists(out + "/ckpt-2"));
  std::tie(rc, log) = test::run_cmd(cmd + " --resume");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(lines_per_step(out + "/completions.jsonl"), once) << "a resumed run logged a step's completions twice";
  const auto metrics = lines_per_step(out + "/metrics.jsonl");
  EXPECT_EQ(metrics, (std::map<int64_t, int>{{1, 1}, {2, 1}, {3, 1}}));
  const auto ev = nlohmann::json::parse(read_file(out + "/final/eval.json"));
  EXPECT_EQ(ev["threads"], 1) << ev.dump();   // ci-r1 sets train.threads = 1
  EXPECT_TRUE(ev.contains("seed")) << ev.dump();
}

}  // namespace
}  // namespace nanoseek
