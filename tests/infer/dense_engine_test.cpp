// Dense-student engine: the K/V-cached path equals DenseModel::forward at every position (GQA, MQA, biases, tied
// and untied heads), greedy decode equals repeated full forwards, batching with shared prefixes changes nothing,
// and weights are read in place (an update is seen by the next call).
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "infer/engine.h"
#include "model/dense.h"
#include "ops/cross_entropy.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {

std::unique_ptr<DenseModel> dense_golden(const std::string& name) {
  return load_dense_model(source_dir() + "/tests/golden/dense/" + name);
}

std::vector<float> dense_full_logits(const DenseModel& m, const std::vector<int32_t>& ids) {
  const int64_t T = int64_t(ids.size());
  DenseActs a = plan_dense_acts(m.cfg, 1, T);
  Batch b{1, T, ids.data(), nullptr, nullptr};
  m.forward(b, a);
  return a.logits;
}

std::vector<int32_t> ids_of(int64_t T, int64_t V, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> ids(T);
  for (auto& x : ids) x = int32_t(r.below(V));
  return ids;
}

}  // namespace

// Same float32 math in another summation order (per-head dot products vs the batched attention op): measured
// ~1e-7 normalized; 1e-5 as the engine's MLA test. A wrong mask, RoPE position or GQA head map is >1e-2.
constexpr double kDenseTol = 1e-5;

class DenseEnginePaths : public ::testing::TestWithParam<std::string> {};

TEST_P(DenseEnginePaths, CachedPrefillLogitsEqualFullForward_T20) {
  auto m = dense_golden(GetParam());
  auto ids = ids_of(20, m->cfg.vocab_size, 5);
  Engine e(*m, 2, 32);
  auto a = e.prefill_logits(ids);
  auto b = dense_full_logits(*m, ids);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(norm_err(a.data(), b.data(), a.size()), kDenseTol);
}

TEST_P(DenseEnginePaths, GreedyDecode16_EqualsRepeatedFullForwards) {
  auto m = dense_golden(GetParam());
  const int64_t V = m->cfg.vocab_size;
  auto prompt = ids_of(5, V, 9);
  Engine e(*m, 1, 40);
  GenerateRequest req;
  req.prompts = {prompt};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 16;
  Completion out = e.generate(req)[0];
  ASSERT_EQ(out.tokens.size(), 16u);
  std::vector<int32_t> ctx = prompt;
  for (size_t t = 0; t < out.tokens.size(); ++t) {
    auto logits = dense_full_logits(*m, ctx);
    const float* last = &logits[(ctx.size() - 1) * V];
    int32_t arg = int32_t(std::max_element(last, last + V) - last);
    ASSERT_EQ(out.tokens[t], arg) << "step " << t;
    float lp;
    token_logprobs(&lp, last, &arg, 1, V);
    EXPECT_NEAR(out.logprobs[t], lp, 1e-4) << "step " << t;
    ctx.push_back(arg);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, DenseEnginePaths,
                         ::testing::Values("qwen2_gqa_tied", "qwen2_gqa_untied_packed", "llama_mqa_headdim12"));

// A prompt longer than one engine chunk (256 tokens): the second chunk's prefill run starts at position 256 over
// K/V cached by the first (dense_decode.cpp attend_run with p0 > 0).
TEST(DenseEngine, LongPrefillAcrossChunksEqualsFullForward) {
  auto lm = make_language_model(nlohmann::json::parse(read_file(source_dir() + "/configs/student-tiny.json")),
                                "student-tiny.json");
  lm->init(4);
  const DenseModel& m = dynamic_cast<const DenseModel&>(*lm);
  auto ids = ids_of(300, m.cfg.vocab_size, 8);
  Engine e(m, 1, 320);
  auto a = e.prefill_logits(ids);
  auto b = dense_full_logits(m, ids);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(norm_err(a.data(), b.data(), a.size()), kDenseTol);
}

TEST(DenseEngine, Batched4Prompts_x3Samples_EqualsOneAtATime) {
  auto m = dense_golden("qwen2_gqa_untied_packed");
  const int64_t V = m->cfg.vocab_size;
  std::vector<std::vector<int32_t>> prompts = {ids_of(3, V, 1), ids_of(9, V, 2), ids_of(1, V, 3), ids_of(6, V, 4)};
  GenerateRequest req;
  req.prompts = prompts;
  req.n = 3;
  req.sampling = {1.0f, 0.9f, 20, 1234, 12, {7}, {}};
  Engine big(*m, 5, 40);  // fewer slots than sequences: admission waits, prefill and decode mix in one step
  auto batched = big.generate(req);
  ASSERT_EQ(batched.size(), prompts.size() * 3);
  for (size_t p = 0; p < prompts.size(); ++p) {
    // prompt p at index p of its own request draws the same seed streams derive(seed, p·n + i)
    Engine one(*m, 3, 40);
    GenerateRequest r = req;
    std::vector<std::vector<int32_t>> padded(p + 1, prompts[p]);
    r.prompts = padded;
    auto res = one.generate(r);
    for (int i = 0; i < 3; ++i) {
      const Completion& a = batched[p * 3 + i];
      const Completion& b = res[p * 3 + i];
      EXPECT_EQ(a.prompt_index, int(p));
      EXPECT_EQ(a.sample_index, i);
      EXPECT_EQ(a.tokens, b.tokens) << p << "/" << i;
      EXPECT_EQ(a.finish_reason, b.finish_reason);
      ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
      for (size_t t = 0; t < a.logprobs.size(); ++t) EXPECT_NEAR(a.logprobs[t], b.logprobs[t], 1e-5);
    }
  }
}

TEST(DenseEngine, ReadsWeightsInPlace_UpdateSeenByNextCall) {
  auto m = dense_golden("qwen2_gqa_tied");
  auto ids = ids_of(6, m->cfg.vocab_size, 11);
  Engine e(*m, 1, 16);
  auto before = e.prefill_logits(ids);
  for (int64_t i = 0; i < m->cfg.hidden_size; ++i) m->w.norm[i] *= 1.5f;   // what an optimizer step does
  auto after = e.prefill_logits(ids);
  auto full = dense_full_logits(*m, ids);
  EXPECT_GT(norm_err(after.data(), before.data(), after.size()), 1e-2);
  EXPECT_LE(norm_err(after.data(), full.data(), after.size()), kDenseTol);
}

TEST(DenseEngine, PlanDescribesKvCache_2Layers_Hkv2_D8) {
  auto m = dense_golden("qwen2_gqa_tied");
  Engine e(*m, 3, 10);
  const CachePlan& p = e.plan();
  EXPECT_EQ(p.values_per_token, 2 * m->cfg.num_key_value_heads * m->cfg.head_dim);
  EXPECT_EQ(p.bytes, size_t(p.layers * 3 * 10 * p.values_per_token) * sizeof(float));
  EXPECT_NE(p.describe().find("dense K/V"), std::string::npos) << p.describe();
  EXPECT_THROW(Engine(*m, 1, 1000), Error);   // beyond max_position_embeddings
}

TEST(DenseEngine, StopIdAndOutOfVocabPromptAreHandled) {
  auto m = dense_golden("llama_mqa_headdim12");
  Engine e(*m, 2, 24);
  GenerateRequest req;
  req.prompts = {{1, 2, 3}};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 10;
  Completion g = e.generate(req)[0];
  req.sampling.stop_ids = {g.tokens[2]};
  Completion s = e.generate(req)[0];
  EXPECT_EQ(s.finish_reason, "stop");
  EXPECT_EQ(s.tokens.back(), g.tokens[2]);
  EXPECT_LE(s.tokens.size(), 3u);
  req.prompts = {{1, int32_t(m->cfg.vocab_size)}};
  EXPECT_THROW(e.generate(req), Error);
}

}  // namespace nanoseek
