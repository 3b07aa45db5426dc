// The shared tensor registry (model/tensors.h) and blocks (model/blocks.h) seen through the LanguageModel interface,
// once per architecture: one layout rule, one init, one save/load path, one set of load errors.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "core/safetensors.h"
#include "model/blocks.h"
#include "model/language_model.h"
#include "ops/cross_entropy.h"
#include "../core/io_test_util.h"
#include "test_util.h"

namespace nanoseek {
namespace {

nlohmann::json v3_json() {
  auto j = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  j["vocab_size"] = 40, j["hidden_size"] = 24, j["num_hidden_layers"] = 2, j["intermediate_size"] = 40;
  j["q_lora_rank"] = 16, j["moe_intermediate_size"] = 12;
  return j;
}
nlohmann::json dense_json(bool tied) {
  return {{"model_type", "qwen2"}, {"vocab_size", 40}, {"hidden_size", 24}, {"intermediate_size", 36},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"max_position_embeddings", 64}, {"rope_theta", 10000.0}, {"rms_norm_eps", 1e-6},
          {"tie_word_embeddings", tied}, {"rope_scaling", nullptr}};
}

class Registry : public ::testing::TestWithParam<std::string> {
 protected:
  nlohmann::json config() const { return GetParam() == "v3" ? v3_json() : dense_json(false); }
  std::unique_ptr<LanguageModel> make() const { return make_language_model(config(), GetParam()); }
};

// Every tensor starts 64-byte aligned, in registry order, without overlap; params counts the real floats.
TEST_P(Registry, Layout_Aligned_Ordered_ParamsCounted) {
  auto m = make();
  const TensorLayout& t = m->tensors();
  size_t sum = 0, end = 0;
  for (size_t i = 0; i < t.specs.size(); ++i) {
    EXPECT_EQ(t.offsets[i] % 16, 0u) << t.specs[i].name;
    EXPECT_GE(t.offsets[i], end) << t.specs[i].name;
    end = t.offsets[i] + size_t(t.specs[i].numel());
    sum += size_t(t.specs[i].numel());
  }
  EXPECT_EQ(t.params, sum);
  EXPECT_GE(t.total, end);
  EXPECT_EQ(m->param_buffer().size(), t.total);
}

// Same seed → same weights whatever the thread count; another seed → different; norms 1, biases 0.
TEST_P(Registry, Init_SeededThreadIndependent) {
  auto a = make(), b = make(), c = make();
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  a->init(5);
  omp_set_num_threads(std::max(2, threads));
  b->init(5);
  omp_set_num_threads(threads);
  c->init(6);
  const auto pa = a->param_buffer(), pb = b->param_buffer(), pc = c->param_buffer();
  EXPECT_TRUE(std::equal(pa.begin(), pa.end(), pb.begin()));
  EXPECT_FALSE(std::equal(pa.begin(), pa.end(), pc.begin()));
  const TensorLayout& t = a->tensors();
  for (size_t i = 0; i < t.specs.size(); ++i) {
    const float* p = pa.data() + t.offsets[i];
    if (t.specs[i].init == Init::Ones) EXPECT_EQ(p[0], 1.f) << t.specs[i].name;
    if (t.specs[i].init == Init::Zeros) EXPECT_EQ(p[t.specs[i].numel() - 1], 0.f) << t.specs[i].name;
  }
}

// One save path: F32 round trip exact, BF16 rounded (non-trainable buffers kept F32), torch_dtype says which.
TEST_P(Registry, SaveLoad_F32Exact_Bf16Rounded_DtypeRecorded) {
  testing::TempDir tmp;
  auto m = make();
  m->init(3);
  const TensorLayout& t = m->tensors();
  if (GetParam() == "v3")   // give the router correction bias values bf16 cannot hold
    for (size_t i = 0; i < t.specs.size(); ++i)
      if (t.specs[i].role == Role::RouterBias) m->param_buffer()[t.offsets[i]] = 1.0f + 1.0f / 1024;
  m->save(tmp / "f32");
  auto back = load_language_model(tmp / "f32");
  EXPECT_TRUE(std::equal(m->param_buffer().begin(), m->param_buffer().end(), back->param_buffer().begin()));
  EXPECT_EQ(nlohmann::json::parse(read_file(tmp / "f32/config.json"))["torch_dtype"], "float32");

  m->save(tmp / "bf16", DType::BF16);
  EXPECT_EQ(nlohmann::json::parse(read_file(tmp / "bf16/config.json"))["torch_dtype"], "bfloat16");
  auto bf = load_language_model(tmp / "bf16");
  for (size_t i = 0; i < t.specs.size(); ++i) {
    const float* p = m->param_buffer().data() + t.offsets[i];
    const float* q = bf->param_buffer().data() + t.offsets[i];
    for (int64_t k = 0; k < t.specs[i].numel(); ++k) {
      const float want = t.specs[i].trainable ? bf16_to_f32(f32_to_bf16(p[k])) : p[k];
      ASSERT_EQ(q[k], want) << t.specs[i].name << "[" << k << "]";
    }
  }
}

// One set of load errors: a missing tensor is named with its shape; unexplained tensors are listed.
TEST_P(Registry, Load_MissingAndUnexplainedTensors_AreNamed) {
  testing::TempDir tmp;
  auto m = make();
  m->init(1);
  const TensorLayout& t = m->tensors();
  std::vector<TensorWrite> w;
  for (size_t i = 1; i < t.specs.size(); ++i)   // drop the first tensor (the embedding)
    w.push_back({t.specs[i].name, DType::F32, t.specs[i].shape, m->param_buffer().data() + t.offsets[i]});
  write_checkpoint(tmp.path, w);
  try {
    m->load_weights(tmp.path);
    ADD_FAILURE() << "a missing tensor loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.embed_tokens.weight' [40, 24] is missing"), std::string::npos)
        << e.what();
  }
  w.insert(w.begin(), {t.specs[0].name, DType::F32, t.specs[0].shape, m->param_buffer().data()});
  const float junk[4] = {1, 2, 3, 4};
  w.push_back({"model.layers.0.mlp.not_a_tensor", DType::F32, {4}, junk});
  write_checkpoint(tmp.path, w);
  try {
    m->load_weights(tmp.path);
    ADD_FAILURE() << "an unexplained tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 tensor(s) not described by the config (e.g. "
                                         "model.layers.0.mlp.not_a_tensor)"),
              std::string::npos)
        << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, Registry, ::testing::Values("v3", "dense"),
                         [](const auto& info) { return info.param; });

// A tied dense checkpoint may carry HF's redundant lm_head.weight (ignored, as HF does); V3 checkpoints carry
// each MTP layer's embed/head copies (aliases, written on save and accepted on load).
TEST(Registry, TiedHeadCopyIgnored_MtpAliasesRoundTrip) {
  testing::TempDir tmp;
  auto d = make_language_model(dense_json(true), "tied");
  d->init(2);
  d->save(tmp / "tied");
  {
    const Checkpoint ck = Checkpoint::open(tmp / "tied");
    EXPECT_FALSE(ck.has("lm_head.weight"));
  }
  const TensorLayout& t = d->tensors();
  std::vector<TensorWrite> w;
  for (size_t i = 0; i < t.specs.size(); ++i)
    w.push_back({t.specs[i].name, DType::F32, t.specs[i].shape, d->param_buffer().data() + t.offsets[i]});
  w.push_back({"lm_head.weight", DType::F32, {40, 24}, d->param_buffer().data()});
  write_checkpoint(tmp / "tied", w);
  EXPECT_NO_THROW(d->load_weights(tmp / "tied"));

  auto v = make_language_model(v3_json(), "v3");
  v->init(2);
  v->save(tmp / "v3");
  const Checkpoint ck = Checkpoint::open(tmp / "v3");
  EXPECT_TRUE(ck.has("model.layers.2.embed_tokens.weight"));
  EXPECT_TRUE(ck.has("model.layers.2.shared_head.head.weight"));
  EXPECT_EQ(ck.read_f32("model.layers.2.embed_tokens.weight"), ck.read_f32("model.embed_tokens.weight"));
}

// The shared output tail against a direct computation: logits = head(RMSNorm(h)), mean CE and log p(target),
// weighted CE, and the backward's dh by central differences of the loss.
TEST(Blocks, OutputTail_MatchesDirect_AndFiniteDifferences) {
  const int64_t N = 5, d = 8, V = 11;
  auto h = test::randn(size_t(N * d), 1), g = test::randn(size_t(d), 2, 0.2f), W = test::randn(size_t(V * d), 3, 0.5f);
  for (auto& x : g) x += 1.f;
  const std::vector<int32_t> tgt = {3, -1, 10, 0, 7};
  const std::vector<float> wt = {0.5f, 9.f, -1.f, 2.f, 0.25f};
  auto zeros = [](int64_t n) { return std::vector<float>(static_cast<size_t>(n), 0.f); };
  auto xn = zeros(N * d), rstd = zeros(N), logits = zeros(N * V), lp = zeros(N);
  const OutputHead o{g.data(), W.data(), d, V, 1e-6f};
  OutputActs a{h.data(), xn.data(), rstd.data(), logits.data(), N};
  const OutputLoss L = output_forward(o, a, tgt.data(), nullptr, lp.data());
  double ce = 0, wce = 0;
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += double(h[n * d + i]) * h[n * d + i];
    const double r = 1.0 / std::sqrt(ss / double(d) + 1e-6);
    std::vector<double> z(static_cast<size_t>(V));
    double mx = -1e30;
    for (int64_t v = 0; v < V; ++v) {
      double s = 0;
      for (int64_t i = 0; i < d; ++i) s += h[n * d + i] * r * g[i] * W[v * d + i];
      z[v] = s;
      mx = std::max(mx, s);
      ASSERT_NEAR(logits[n * V + v], s, 1e-5);
    }
    double se = 0;
    for (double x : z) se += std::exp(x - mx);
    if (tgt[n] < 0) {
      EXPECT_EQ(lp[n], 0.f);
      continue;
    }
    const double logp = z[tgt[n]] - mx - std::log(se);
    EXPECT_NEAR(lp[n], logp, 1e-5);
    ce -= logp;
    wce -= wt[n] * logp;
  }
  EXPECT_EQ(L.count, 4);
  EXPECT_NEAR(L.ce, ce / 4, 1e-5);
  EXPECT_NEAR(output_forward(o, a, tgt.data(), wt.data(), nullptr).ce, wce, 1e-5);

  // backward of the weighted loss: dh against central differences
  auto dh = zeros(N * d), gg = zeros(d), gW = zeros(V * d), dxn = zeros(N * d);
  output_forward(o, a, tgt.data(), wt.data(), nullptr);
  output_dlogits(a, V, tgt.data(), wt.data(), 1.f, nullptr, nullptr);
  output_backward(o, a, gg.data(), gW.data(), dxn.data(), dh.data());
  test::check_directional("output tail dh", h, dh, [&] {
    return output_forward(o, a, tgt.data(), wt.data(), nullptr).ce;
  });
  test::check_directional("output tail dnorm", g, gg, [&] {
    return output_forward(o, a, tgt.data(), wt.data(), nullptr).ce;
  });
}

}  // namespace
}  // namespace nanoseek
