// Generation engine: the compressed-cache absorbed-attention path equals the decompressed training forward, at
// every position; batching and prefix sharing change nothing; seeds reproduce; stops work.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "infer/engine.h"
#include "infer/sampler.h"
#include "model/model.h"
#include "ops/cross_entropy.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {

std::unique_ptr<Model> golden_model(const std::string& name) {
  return load_model(source_dir() + "/tests/golden/model/" + name);
}

std::vector<float> full_forward_logits(const Model& m, const std::vector<int32_t>& ids) {
  const int64_t T = int64_t(ids.size());
  Workspace ws = plan_workspace(m.cfg, 1, T, false);
  Batch b{1, T, ids.data(), nullptr, nullptr};
  m.forward(b, ws, {});
  return ws.logits;
}

std::vector<int32_t> some_ids(int64_t T, int64_t V, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> ids(T);
  for (auto& x : ids) x = int32_t(r.below(V));
  return ids;
}

}  // namespace

// The measured gap between the two float32 paths is ~1e-6 normalized (different summation orders: q̃·c vs
// q_nope·(W_UK c)); 1e-5 leaves headroom while any semantic difference (mask, rope, scale) is >1e-2.
constexpr double kPathTol = 1e-5;

class EnginePaths : public ::testing::TestWithParam<std::string> {};

TEST_P(EnginePaths, AbsorbedCachedPrefillEqualsDecompressedForward) {
  auto m = golden_model(GetParam());
  auto ids = some_ids(20, m->cfg.vocab_size, 5);
  Engine e(*m, 2, 32);
  auto a = e.prefill_logits(ids);
  auto b = full_forward_logits(*m, ids);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(norm_err(a.data(), b.data(), a.size()), kPathTol);
}

TEST_P(EnginePaths, GreedyDecodeMatchesFullForwardAtEveryPosition) {
  auto m = golden_model(GetParam());
  const int64_t V = m->cfg.vocab_size;
  auto prompt = some_ids(5, V, 9);
  Engine e(*m, 1, 40);
  GenerateRequest req;
  req.prompts = {prompt};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 20;
  Completion out = e.generate(req)[0];
  ASSERT_EQ(out.tokens.size(), 20u);
  EXPECT_EQ(out.finish_reason, "length");
  std::vector<int32_t> ctx = prompt;
  for (size_t t = 0; t < out.tokens.size(); ++t) {
    auto logits = full_forward_logits(*m, ctx);
    const float* last = &logits[(ctx.size() - 1) * V];
    int32_t arg = int32_t(std::max_element(last, last + V) - last);
    ASSERT_EQ(out.tokens[t], arg) << "step " << t;
    float lp;
    token_logprobs(&lp, last, &arg, 1, V);
    EXPECT_NEAR(out.logprobs[t], lp, 1e-4) << "step " << t;
    ctx.push_back(arg);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, EnginePaths,
                         ::testing::Values("v3_mtp_yarn", "v2_softmax_tied_bf16", "v2_grouped_mtp2"));

// A prompt longer than one engine chunk (256 tokens): the second chunk's prefill run starts at position 256 over
// keys cached by the first (mla_decode.cpp attend_run with p0 > 0).
TEST(Engine, LongPrefillAcrossChunksEqualsFullForward) {
  Model m(load_config(source_dir() + "/configs/tiny.json"));
  m.init(11);
  const auto ids = some_ids(300, m.cfg.vocab_size, 9);
  Engine e(m, 1, 320);
  const auto a = e.prefill_logits(ids);
  const auto b = full_forward_logits(m, ids);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(norm_err(a.data(), b.data(), a.size()), kPathTol);
}

TEST(Engine, BatchedWithSharedPrefixEqualsOneAtATime) {
  auto m = golden_model("v3_mtp_yarn");
  const int64_t V = m->cfg.vocab_size;
  std::vector<std::vector<int32_t>> prompts = {some_ids(3, V, 1), some_ids(9, V, 2), some_ids(1, V, 3),
                                               some_ids(6, V, 4)};
  GenerateRequest req;
  req.prompts = prompts;
  req.n = 3;
  req.sampling = {1.0f, 0.9f, 20, 1234, 12, {7}, {}};
  Engine big(*m, 8, 40);  // several prompts in flight, mixed prefill + decode steps
  auto batched = big.generate(req);
  ASSERT_EQ(batched.size(), prompts.size() * 3);
  for (size_t p = 0; p < prompts.size(); ++p) {
    Engine one(*m, 3, 40);
    GenerateRequest r1 = req;
    r1.prompts = {prompts[p]};
    // the same seed stream: sample i of prompt p draws from derive(seed, p·n + i)
    auto single = one.generate(r1);
    for (int i = 0; i < 3; ++i) {
      const Completion& a = batched[p * 3 + i];
      const Completion& b = single[i];
      EXPECT_EQ(a.prompt_index, int(p));
      EXPECT_EQ(a.sample_index, i);
      if (p == 0) {  // derive(seed, i) is the same stream only for prompt 0 in the single run
        EXPECT_EQ(a.tokens, b.tokens) << "prompt " << p << " sample " << i;
        ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
        for (size_t t = 0; t < a.logprobs.size(); ++t) EXPECT_NEAR(a.logprobs[t], b.logprobs[t], 1e-5);
      }
    }
  }
  // and for every prompt: one request per prompt with matching indices reproduces the batched samples
  for (size_t p = 1; p < prompts.size(); ++p) {
    Engine one(*m, 8, 40);
    GenerateRequest r = req;
    std::vector<std::vector<int32_t>> padded(p + 1, prompts[0]);
    padded[p] = prompts[p];
    r.prompts = padded;
    auto res = one.generate(r);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(res[p * 3 + i].tokens, batched[p * 3 + i].tokens) << p << "/" << i;
  }
}

TEST(Engine, SeedsReproduceAndDiffer) {
  auto m = golden_model("v2_grouped_mtp2");
  GenerateRequest req;
  req.prompts = {some_ids(4, m->cfg.vocab_size, 8)};
  req.n = 4;
  req.sampling.max_new_tokens = 16;
  Engine e(*m, 4, 32);
  auto a = e.generate(req), b = e.generate(req);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
  EXPECT_NE(a[0].tokens, a[1].tokens) << "samples of one prompt should differ at temperature 1";
  req.sampling.seed = 99;
  auto c = e.generate(req);
  EXPECT_NE(a[0].tokens, c[0].tokens);
}

TEST(Engine, StopIdsStopStringsAndLimits) {
  auto m = golden_model("v3_mtp_yarn");
  GenerateRequest req;
  req.prompts = {some_ids(4, m->cfg.vocab_size, 11)};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 12;
  Engine e(*m, 1, 64);
  auto free_run = e.generate(req)[0].tokens;
  ASSERT_EQ(free_run.size(), 12u);
  req.sampling.stop_ids = {free_run[4]};
  auto stopped = e.generate(req)[0];
  EXPECT_EQ(stopped.finish_reason, "stop");
  size_t first = std::find(free_run.begin(), free_run.end(), free_run[4]) - free_run.begin();
  EXPECT_EQ(stopped.tokens.size(), first + 1);
  // stop strings on a toy detokenizer: one letter per id
  req.sampling.stop_ids.clear();
  req.detokenize = [](const std::vector<int32_t>& t) {
    std::string s;
    for (int32_t x : t) s += char('a' + x % 26);
    return s;
  };
  std::string target = req.detokenize({free_run[2], free_run[3]});
  req.sampling.stop_strings = {target};
  auto s2 = e.generate(req)[0];
  EXPECT_EQ(s2.finish_reason, "stop");
  EXPECT_NE(req.detokenize(s2.tokens).find(target), std::string::npos);
  EXPECT_LE(s2.tokens.size(), 4u);
  // streaming callback can stop a sequence
  req.sampling.stop_strings.clear();
  int seen = 0;
  req.on_token = [&](size_t, int32_t) { return ++seen < 3; };
  EXPECT_EQ(e.generate(req)[0].tokens.size(), 3u);
}

TEST(Engine, BadRequestsAreClearErrors) {
  auto m = golden_model("v3_mtp_yarn");
  Engine e(*m, 2, 8);
  GenerateRequest req;
  req.prompts = {std::vector<int32_t>(8, 1)};
  EXPECT_THROW(e.generate(req), Error);  // prompt fills the whole cache
  req.prompts = {{}};
  EXPECT_THROW(e.generate(req), Error);
  req.prompts = {{1, 2}};
  req.n = 3;
  EXPECT_THROW(e.generate(req), Error);  // more samples than slots
  req.n = 1;
  req.prompts = {{1, 100000}};
  EXPECT_THROW(e.generate(req), Error);  // id outside the vocabulary
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy_DistributionMatchesSoftmax) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 0.0f};
  std::vector<float> prob;
  std::vector<int32_t> order;
  Rng r(1);
  SamplingParams k1;
  k1.top_k = 1;
  SamplingParams p0;
  p0.top_p = 0.01f;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_token(logits.data(), 5, k1, r, prob, order).token, 1);
    EXPECT_EQ(sample_token(logits.data(), 5, p0, r, prob, order).token, 1);
  }
  // temperature 1, no truncation: empirical frequencies within 4 sigma of softmax over 40k draws
  SamplingParams full;
  std::map<int32_t, int> cnt;
  const int n = 40000;
  for (int i = 0; i < n; ++i) cnt[sample_token(logits.data(), 5, full, r, prob, order).token]++;
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  for (int v = 0; v < 5; ++v) {
    double p = std::exp(double(logits[v])) / z, sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(double(cnt[v]) / n, p, 4 * sd) << "token " << v;
  }
  // top-p 0.8 keeps {1, 3} (0.45 + 0.30 ≥ 0.8·1)? masses: p1≈.47, p3≈.29, p0≈.07.. → needs 3 tokens
  SamplingParams tp;
  tp.top_p = 0.7f;
  for (int i = 0; i < 200; ++i) {
    int32_t t = sample_token(logits.data(), 5, tp, r, prob, order).token;
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
  // a vocab limit never draws ids beyond it (here: forbids the two most likely tokens 1 and 3)
  SamplingParams lim;
  lim.vocab_limit = 1;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_token(logits.data(), 5, lim, r, prob, order).token, 0);
  lim.temperature = 0;
  Sampled g = sample_token(logits.data(), 5, lim, r, prob, order);
  EXPECT_EQ(g.token, 0);
  EXPECT_NEAR(g.logprob, double(logits[0]) - std::log(z), 1e-5);  // log-prob still over the full vocabulary
  // the log-prob is of the raw distribution, whatever the temperature
  SamplingParams hot;
  hot.temperature = 5.f;
  Sampled s = sample_token(logits.data(), 5, hot, r, prob, order);
  EXPECT_NEAR(s.logprob, double(logits[s.token]) - std::log(z), 1e-5);
}

}  // namespace nanoseek

namespace nanoseek {

// Greedy output byte-exact against the reference's own cached decoder (tools/reference/make_greedy_golden.py,
// float64). The golden records the smallest top-1/top-2 logit margin (>= 3e-4), far above float32 round-off
// (~1e-6), so exact equality is the right test.
TEST_P(EnginePaths, GreedyTokensEqualReferenceDecoder) {
  const std::string dir = test::source_dir() + "/tests/golden/model/" + GetParam();
  auto m = load_model(dir);
  auto g = nlohmann::json::parse(read_file(dir + "/greedy.json"));
  ASSERT_GT(g["min_margin"].get<double>(), 1e-4);
  Engine e(*m, 2, 64);
  GenerateRequest req;
  req.prompts = g["prompts"].get<std::vector<std::vector<int32_t>>>();
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = int(g["tokens"][0].size());
  auto out = e.generate(req);
  for (size_t p = 0; p < out.size(); ++p)
    EXPECT_EQ(out[p].tokens, g["tokens"][p].get<std::vector<int32_t>>()) << GetParam() << " prompt " << p;
}

}  // namespace nanoseek
