// Decoding from bf16 weights (infer/engine.h DecodeWeights::BF16), both architectures: the engine's logits — a
// prefill of 13 tokens (two 8-row chunks of the bf16 kernels) and greedy decode steps after it — equal an fp32
// engine's on a copy of the model whose matmul weights were rounded to bf16, to fp32 summation-order tolerance, and differ
// from the unrounded model's by the rounding (so a BF16 mode that silently read fp32 would fail). The bf16 copy is
// refreshed per call: weights changed between calls are seen.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/fs.h"
#include "infer/engine.h"
#include "model/language_model.h"
#include "model/tensors.h"
#include "test_util.h"

namespace nanoseek {
namespace {

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double md = 0, mx = 1e-6;
  for (size_t i = 0; i < a.size(); ++i) md = std::max(md, std::fabs(double(a[i]) - b[i])), mx = std::max(mx, std::fabs(double(b[i])));
  return md / mx;
}

// Rounds what the bf16 engine reads in bf16: every weight its matmuls use. Embedding rows, norm gains and biases are
// read directly (fp32) by the decode cores, so they stay.
void round_to_bf16(LanguageModel& m) {
  const TensorLayout& lay = m.tensors();
  for (size_t t = 0; t < lay.specs.size(); ++t) {
    const Role r = lay.specs[t].role;
    if (r == Role::Norm || r == Role::Bias || r == Role::RouterBias || r == Role::Embed) continue;
    float* w = m.param_buffer().data() + lay.offsets[t];
    for (int64_t i = 0; i < lay.specs[t].numel(); ++i) w[i] = bf16_to_f32(f32_to_bf16(w[i]));
  }
}

class EngineBf16 : public testing::TestWithParam<const char*> {};

TEST_P(EngineBf16, LogitsEqualAnFp32EngineOnBf16RoundedWeights) {
  auto cj = nlohmann::json::parse(read_file(test::source_dir() + "/" + GetParam()));
  cj["tie_word_embeddings"] = false;   // a tied head is read fp32 as the embedding and bf16 as the head
  auto m = make_language_model(cj, GetParam());
  m->init(7);
  auto rounded = m->clone();
  round_to_bf16(*rounded);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 13; ++i) prompt.push_back(int32_t((i * 37 + 5) % m->vocab_size()));

  Engine bf(*m, 1, 32, DecodeWeights::BF16), ref(*rounded, 1, 32), plain(*m, 1, 32);
  const std::vector<float> lb = bf.prefill_logits(prompt), lr = ref.prefill_logits(prompt), lp = plain.prefill_logits(prompt);
  // fp32 dot products of <= ~200 terms in a different order (sgemm vs our kernels): ~1e-6 normalized observed
  EXPECT_LE(max_rel_diff(lb, lr), 2e-5);
  EXPECT_GE(max_rel_diff(lb, lp), 1e-4) << "bf16 logits equal the unrounded fp32 ones: the bf16 copy was not read";

  // greedy decoding: every step's token log-probabilities agree (each step is a 1-row forward)
  GenerateRequest req;
  req.prompts = {prompt};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 6;
  const auto cb = bf.generate(req), cr = ref.generate(req);
  ASSERT_EQ(cb[0].tokens, cr[0].tokens);
  for (size_t i = 0; i < cb[0].logprobs.size(); ++i) EXPECT_NEAR(cb[0].logprobs[i], cr[0].logprobs[i], 1e-4) << i;

  // weights changed after the engine was built: the next call reads them (the copy is refreshed per call)
  for (float& w : m->param_buffer()) w *= 0.5f;
  auto halved = m->clone();
  round_to_bf16(*halved);
  Engine ref2(*halved, 1, 32);
  EXPECT_LE(max_rel_diff(bf.prefill_logits(prompt), ref2.prefill_logits(prompt)), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, EngineBf16, testing::Values("configs/tiny.json", "configs/student-tiny.json"),
                         [](const testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param).find("student") != std::string::npos ? "Qwen2" : "DeepSeekV3";
                         });

TEST(EngineBf16, ParsesItsName) {
  EXPECT_EQ(parse_decode_weights("bf16"), DecodeWeights::BF16);
  EXPECT_EQ(parse_decode_weights("f32"), DecodeWeights::F32);
  EXPECT_THROW(parse_decode_weights("fp8"), Error);
}

}  // namespace
}  // namespace nanoseek
