// Evaluation protocol: the unbiased pass@k estimator against exact combinatorics, and an end-to-end run on a random
// tiny model with a committed trained tokenizer (structure, invariants, seed determinism).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "model/model.h"
#include "train/eval.h"
#include "test_util.h"

namespace nanoseek {

static double binom(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  double r = 1;
  for (int64_t i = 1; i <= k; ++i) r = r * double(n - k + i) / double(i);
  return r;
}

TEST(Evaluate, PassAtKEqualsCombinatorialFormula) {
  for (int64_t n : {1, 4, 10, 16, 64})
    for (int64_t c = 0; c <= n; ++c)
      for (int64_t k = 1; k <= n; ++k)
        EXPECT_NEAR(pass_at_k(n, c, k), 1.0 - binom(n - c, k) / binom(n, k), 1e-9) << n << " " << c << " " << k;
  EXPECT_DOUBLE_EQ(pass_at_k(8, 0, 8), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(8, 1, 8), 1.0);
  EXPECT_NEAR(pass_at_k(10, 3, 1), 0.3, 1e-12);  // pass@1 is the mean correctness
  EXPECT_THROW(pass_at_k(4, 1, 5), Error);
}

TEST(Evaluate, EndToEndOnTinyRandomModel) {
  const test::ScratchDir scratch("eval");
  const std::string dir = scratch / "model";
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  cj["vocab_size"] = 1024;
  ModelConfig c = parse_config(cj, "tiny");
  Model m(c);
  m.init(1);
  m.save(dir);
  const std::string tk = test::source_dir() + "/tests/golden/tokenizer/trained/";
  std::filesystem::copy_file(tk + "tokenizer.json", dir + "/tokenizer.json");
  std::filesystem::copy_file(tk + "tokenizer_config.json", dir + "/tokenizer_config.json");
  Tokenizer tok = Tokenizer::load(dir);
  EvalOptions o;
  o.task = "add";
  o.levels = {"d1", "d2"};
  o.problems_per_level = 3;
  o.k = 2;
  o.n = 4;
  o.max_new_tokens = 12;
  int64_t calls = 0;
  EvalReport r = evaluate(m, tok, o, [&](int64_t done, int64_t total) {
    ++calls;
    EXPECT_LE(done, total);
  });
  EXPECT_GT(calls, 0);
  nlohmann::json j = r.to_json();
  for (const char* key : {"k", "pass@1", "pass@k", "cons@k", "n_problems", "mean_response_tokens", "by_difficulty"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["n_problems"], 6);
  EXPECT_EQ(j["k"], 2);
  ASSERT_EQ(j["by_difficulty"].size(), 2u);
  for (const auto& [level, s] : j["by_difficulty"].items()) {
    EXPECT_EQ(s["n_problems"], 3);
    EXPECT_GE(s["pass@k"].get<double>(), s["pass@1"].get<double>());  // pass@k ≥ pass@1 for every problem
    EXPECT_GT(s["mean_response_tokens"].get<double>(), 0);
    EXPECT_LE(s["mean_response_tokens"].get<double>(), 12);
  }
  EXPECT_NE(r.markdown().find("| all | 6 |"), std::string::npos);
  EvalReport again = evaluate(m, tok, o);
  EXPECT_EQ(again.to_json().dump(), j.dump()) << "same seed, same report";
  std::filesystem::remove_all(dir);
}

}  // namespace nanoseek
