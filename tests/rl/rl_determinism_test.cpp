// Run-to-run determinism of RL, end to end through the real binary: the same recipe, seed and thread count (2
// OpenMP threads) give bitwise-equal final weights — and the same metrics apart from timings, the same
// completions.jsonl — for a short GRPO run and a short PPO run, each run twice into two directories.
// The policy is a briefly pretrained ci-tiny base (a random model earns reward 0 everywhere, so nothing would move
// and equal weights would prove nothing); the runs use β > 0 with a reference reset, μ = 2 and 4 prompts so the
// reference, the kept rollout and (PPO) the critic all take part, and the test asserts the weights did change.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;

// metrics.jsonl without what depends on the clock or the process (time/*, throughput, elapsed, peak RSS)
std::vector<json> steady_metrics(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json j = json::parse(line), kept = json::object();
    for (auto& [k, v] : j.items())
      if (k.rfind("time/", 0) != 0 && k != "tokens_per_s" && k != "elapsed_s" && k != "memory/peak_rss_mib") kept[k] = v;
    rows.push_back(kept);
  }
  return rows;
}

TEST(RlDeterminism, SameSeedAndThreadsGiveBitwiseEqualFinalWeights_GrpoAndPpo) {
  const std::string bin = NANOSEEK_BINARY, dir = ::testing::TempDir() + "nanoseek_rl_determinism";
  std::filesystem::remove_all(dir);
  auto [rc, log] = test::run_cmd(bin + " pretrain " + test::source_dir() + "/recipes/ci-tiny.toml --out " + dir +
                                 "/base --quiet --set train.steps=600");
  ASSERT_EQ(rc, 0) << log;
  const std::string base = dir + "/base/final";
  const std::string base_weights = read_file(base + "/model.safetensors");
  for (const char* algo : {"grpo", "ppo"}) {
    SCOPED_TRACE(algo);
    auto run = [&](int rep) {
      const std::string out = dir + "/" + algo + "-" + std::to_string(rep);
      auto [rc2, log2] = test::run_cmd(bin + " grpo " + test::source_dir() + "/recipes/ci-r1.toml --init " + base +
                                       " --out " + out + " --quiet --set grpo.algo=" + algo +
                                       " --set grpo.steps=4 --set grpo.prompts=4 --set grpo.max_new_tokens=96"
                                       " --set grpo.beta=0.05 --set grpo.mu=2 --set grpo.ref_reset_every=3"
                                       " --set grpo.log_completions_every=1 --set train.threads=2");
      EXPECT_EQ(rc2, 0) << log2;
      return out;
    };
    const std::string a = run(1), b = run(2);
    const std::string wa = read_file(a + "/final/model.safetensors"), wb = read_file(b + "/final/model.safetensors");
    EXPECT_NE(wa, base_weights) << "the policy never moved: the comparison below would prove nothing";
    EXPECT_TRUE(wa == wb) << "final weights differ between two identical runs (" << wa.size() << " vs " << wb.size()
                          << " bytes)";
    const auto ma = steady_metrics(a + "/metrics.jsonl"), mb = steady_metrics(b + "/metrics.jsonl");
    ASSERT_EQ(ma.size(), 4u);
    double gmax = 0;
    for (const json& m : ma) gmax = std::max(gmax, m["grad_norm"].get<double>());
    EXPECT_GT(gmax, 0.0);
    if (std::string(algo) == "ppo") {
      EXPECT_GT(ma.back()["value_loss"].get<double>(), 0.0);
    }
    EXPECT_EQ(ma, mb);
    EXPECT_EQ(read_file(a + "/completions.jsonl"), read_file(b + "/completions.jsonl"));
  }
}

}  // namespace
}  // namespace nanoseek
