// Sampling parameters are checked once, for every command: a NaN temperature used to emit one token and stop.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/fs.h"
#include "infer/engine.h"
#include "model/language_model.h"
#include "../core/io_test_util.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using testing::expect_error;

TEST(SamplingCheck, RejectsNonFiniteAndOutOfRangeValuesNamingTheOption) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  auto with = [](auto set) {
    SamplingParams sp;
    set(sp);
    return sp;
  };
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.temperature = nan; })); }, {"--temperature", "nan"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.temperature = inf; })); }, {"--temperature"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.temperature = -0.5f; })); }, {"--temperature", "-0.5"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.top_p = nan; })); }, {"--top-p"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.top_p = 0; })); }, {"--top-p", "(0, 1]"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.top_p = 1.5f; })); }, {"--top-p", "1.5"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.top_k = -1; })); }, {"--top-k", "-1"});
  expect_error([&] { check_sampling(with([&](SamplingParams& s) { s.max_new_tokens = -2; })); }, {"--max-tokens"});
  EXPECT_NO_THROW(check_sampling(with([](SamplingParams& s) { s.temperature = 0, s.top_p = 1, s.top_k = 0; })));
  EXPECT_NO_THROW(check_sampling(with([](SamplingParams& s) { s.temperature = 2, s.top_p = 1e-3f, s.top_k = 5; })));
}

// Through the engine, so every command (generate, chat, eval, GRPO rollouts) gets the check.
TEST(SamplingCheck, EngineRejectsNanTemperatureInsteadOfEmittingOneToken) {
  auto m = make_language_model(nlohmann::json::parse(read_file(test::source_dir() + "/configs/student-tiny.json")),
                               "student");
  m->init(1);
  Engine e(*m, 1, 32);
  GenerateRequest req;
  req.prompts = {{3, 4, 5}};
  req.sampling.max_new_tokens = 8;
  req.sampling.temperature = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { e.generate(req); }, {"temperature", "nan"});
  req.sampling.temperature = 0.7f;
  const auto out = e.generate(req);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tokens.size(), 8u);
}

}  // namespace
}  // namespace nanoseek
