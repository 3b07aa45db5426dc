// Dense students (Qwen2 / Llama): logits, loss and EVERY gradient against the independent float64 PyTorch reference
// (tools/reference/dense_ref.py → tests/golden/dense/<case>), finite differences per tensor, strict config parsing,
// HF save/load round trips (F32, BF16, sharded).
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/safetensors.h"
#include "model/dense.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {

std::string golden_dir(const std::string& name) { return source_dir() + "/tests/golden/dense/" + name; }

struct OneThread {   // tiny shapes: threads only add synchronisation; results do not depend on the count
  int t = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(t); }
};

struct GoldenBatch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids, targets, seg;
  Batch batch() const { return {B, T, ids.data(), targets.data(), seg.empty() ? nullptr : seg.data()}; }
};

GoldenBatch read_batch(const Checkpoint& g) {
  GoldenBatch b;
  const TensorView& v = g.get("input_ids");
  b.B = v.shape[0];
  b.T = v.shape[1];
  auto to32 = [](const std::vector<int64_t>& x) { return std::vector<int32_t>(x.begin(), x.end()); };
  b.ids = to32(g.read_i64("input_ids"));
  b.targets = to32(g.read_i64("targets"));
  if (g.has("seg")) b.seg = to32(g.read_i64("seg"));
  return b;
}

void run_golden(const std::string& name) {
  OneThread one;
  auto m = load_dense_model(golden_dir(name));
  const Checkpoint g = Checkpoint::open(golden_dir(name) + "/golden.safetensors");
  const GoldenBatch gb = read_batch(g);
  const Batch b = gb.batch();
  DenseActs acts = plan_dense_acts(m->cfg, b.B, b.T);
  m->enable_grad();
  const DenseStats st = m->forward(b, acts);
  // Float32 forward vs float64 reference on the same float32 weights: relative round-off ~1e-7 per op over a
  // few hundred-term dot products, two layers deep → ~1e-6; 1e-5 leaves a 10x margin yet catches any wrong term.
  const std::vector<float> ref_logits = g.read_f32("logits");
  ASSERT_EQ(ref_logits.size(), acts.logits.size());
  const double e_logits = norm_err(acts.logits.data(), ref_logits.data(), ref_logits.size());
  EXPECT_LT(e_logits, 1e-5) << name << " logits";
  const double ref_loss = g.read_f32("loss")[0];
  EXPECT_NEAR(st.loss, ref_loss, 1e-5 * std::fabs(ref_loss)) << name << " loss";
  m->zero_grad();
  m->backward(b, acts);
  // Gradients pass through softmax backward and the attention chain twice; 1e-4 normalized error (per tensor,
  // relative to its largest entry) is ~10x above the worst we measure and far below any real mistake (O(1)).
  double worst = 0;
  std::string worst_name;
  for (size_t i = 0; i < m->layout.specs.size(); ++i) {
    const TensorSpec& s = m->layout.specs[i];
    const std::vector<float> ref = g.read_f32("grad." + s.name);
    ASSERT_EQ(int64_t(ref.size()), s.numel()) << s.name;
    const double e = norm_err(m->grads.data() + m->layout.offsets[i], ref.data(), ref.size());
    EXPECT_LT(e, 1e-4) << name << " grad." << s.name;
    if (e > worst) worst = e, worst_name = s.name;
  }
  std::printf("[%s] logits norm err %.2e, loss |diff| %.2e, worst grad norm err %.2e (%s)\n", name.c_str(), e_logits,
              std::fabs(st.loss - ref_loss), worst, worst_name.c_str());
}

}  // namespace

TEST(DenseGolden, Qwen2_Gqa4x2_Bias_Untied_Packed_B2T7) { run_golden("qwen2_gqa_untied_packed"); }
TEST(DenseGolden, Qwen2_Gqa4x2_Bias_Tied_B2T7) { run_golden("qwen2_gqa_tied"); }
TEST(DenseGolden, Llama_Mqa4x1_HeadDim12_NoBias_B2T7) { run_golden("llama_mqa_headdim12"); }

// Finite differences for every tensor: direction 0 is the analytic gradient itself (FD must equal |g|), then one
// random direction. Loss in float32; see model_grad_test.cpp for the tolerance reasoning (same h and bounds).
TEST(DenseGrad, FiniteDifferenceEveryTensor_Qwen2Packed_And_LlamaMqa) {
  OneThread one;
  for (const std::string name : {"qwen2_gqa_untied_packed", "llama_mqa_headdim12", "qwen2_gqa_tied"}) {
    auto m = load_dense_model(golden_dir(name));
    const Checkpoint g = Checkpoint::open(golden_dir(name) + "/golden.safetensors");
    const GoldenBatch gb = read_batch(g);
    const Batch b = gb.batch();
    DenseActs acts = plan_dense_acts(m->cfg, b.B, b.T), acts2 = plan_dense_acts(m->cfg, b.B, b.T);
    m->enable_grad();
    m->forward(b, acts);
    m->zero_grad();
    m->backward(b, acts);
    double max_rel = 0;
    for (size_t i = 0; i < m->layout.specs.size(); ++i) {
      const size_t off = m->layout.offsets[i], n = size_t(m->layout.specs[i].numel());
      const std::vector<float> x0(m->params.begin() + off, m->params.begin() + off + n);
      const std::vector<float> gx(m->grads.begin() + off, m->grads.begin() + off + n);
      for (int dir = 0; dir < 2; ++dir) {
        std::vector<float> v = dir == 0 ? gx : randn(n, 500 + 17 * i);
        if (dot(v, v) == 0) v = randn(n, 7);
        const double nv = std::sqrt(dot(v, v)), h = 2e-3;
        auto eval = [&](double step) {
          for (size_t k = 0; k < n; ++k) m->params[off + k] = x0[k] + float(step * v[k] / nv);
          return m->forward(b, acts2).loss;
        };
        const double fd = (eval(h) - eval(-h)) / (2 * h), an = dot(gx, v) / nv;
        std::copy(x0.begin(), x0.end(), m->params.begin() + off);
        max_rel = std::max(max_rel, std::fabs(fd - an) / std::max(std::fabs(an), 1e-12));
        EXPECT_LE(std::fabs(fd - an), 1e-2 * std::max(std::fabs(fd), std::fabs(an)) + 1e-4)
            << name << " " << m->layout.specs[i].name << " dir " << dir << ": analytic " << an << " vs FD " << fd;
      }
    }
    std::printf("[%s] max relative |FD - analytic|: %.2e\n", name.c_str(), max_rel);
  }
}

TEST(DenseGrad, BackwardAccumulates_TwoCallsDoubleTheGradient) {
  OneThread one;
  auto m = load_dense_model(golden_dir("qwen2_gqa_tied"));
  const GoldenBatch gb = read_batch(Checkpoint::open(golden_dir("qwen2_gqa_tied") + "/golden.safetensors"));
  DenseActs acts = plan_dense_acts(m->cfg, gb.B, gb.T);
  m->enable_grad();
  m->forward(gb.batch(), acts);
  m->backward(gb.batch(), acts);
  const std::vector<float> once = m->grads;
  m->forward(gb.batch(), acts);
  m->backward(gb.batch(), acts);
  // Not bit-exact: the tied embedding sums its head and lookup parts in a different order on the second call.
  float mx = 0;
  for (float x : once) mx = std::max(mx, std::fabs(x));
  for (size_t i = 0; i < once.size(); ++i) ASSERT_NEAR(m->grads[i], 2 * once[i], 1e-6f * mx) << i;
}

// Per-token weights (Batch::weights, once model/model.h has it): w = 1/count must reproduce the mean loss and its
// gradient; token_logprobs must equal −CE per row. Skipped while the field does not exist.
template <class Bt>
void weighted_case() {
  OneThread one;
  if constexpr (requires(Bt x) { x.weights; }) {
    auto m = load_dense_model(golden_dir("llama_mqa_headdim12"));
    const GoldenBatch gb = read_batch(Checkpoint::open(golden_dir("llama_mqa_headdim12") + "/golden.safetensors"));
    DenseActs acts = plan_dense_acts(m->cfg, gb.B, gb.T);
    m->enable_grad();
    const DenseStats mean = m->forward(gb.batch(), acts);
    m->zero_grad();
    m->backward(gb.batch(), acts);
    const std::vector<float> g_mean = m->grads;
    std::vector<float> w(gb.ids.size(), 1.f / float(mean.count));
    Bt b = gb.batch();
    b.weights = w.data();
    const DenseStats ws = m->forward(b, acts);
    EXPECT_NEAR(ws.loss, mean.loss, 1e-6 * mean.loss);
    m->zero_grad();
    m->backward(b, acts);
    EXPECT_LT(norm_err(m->grads.data(), g_mean.data(), g_mean.size()), 1e-6);
    double s = 0;
    for (size_t n = 0; n < gb.ids.size(); ++n) {
      if (gb.targets[n] < 0) {
        EXPECT_EQ(ws.token_logprobs[n], 0.f);
      }
      s -= ws.token_logprobs[n];
    }
    EXPECT_NEAR(s / double(mean.count), mean.loss, 1e-5 * mean.loss);
  } else {
    GTEST_SKIP() << "Batch has no per-token weights field yet";
  }
}
TEST(DenseGrad, TokenWeights_OneOverCount_EqualsMean_Llama) { weighted_case<Batch>(); }

// A short loss curve: plain SGD on one fixed batch must drive the loss well down (memorisation), which only
// happens when every gradient points the right way at once.
TEST(DenseGrad, SgdLossCurve_Qwen2Packed_30Steps_LossFallsTenfold) {
  OneThread one;
  auto m = load_dense_model(golden_dir("qwen2_gqa_untied_packed"));
  const GoldenBatch gb = read_batch(Checkpoint::open(golden_dir("qwen2_gqa_untied_packed") + "/golden.safetensors"));
  DenseActs acts = plan_dense_acts(m->cfg, gb.B, gb.T);
  m->enable_grad();
  std::vector<double> curve;
  for (int step = 0; step < 30; ++step) {
    curve.push_back(m->forward(gb.batch(), acts).loss);
    m->zero_grad();
    m->backward(gb.batch(), acts);
    for (size_t i = 0; i < m->params.size(); ++i) m->params[i] -= 0.5f * m->grads[i];
  }
  const double last = m->forward(gb.batch(), acts).loss;
  std::printf("loss %.4f -> %.4f -> %.4f\n", curve[0], curve[10], last);
  EXPECT_LT(last, 0.1 * curve[0]);   // measured 4.52 -> 0.008
  for (size_t i = 1; i < curve.size(); ++i) EXPECT_TRUE(std::isfinite(curve[i])) << i;
}

// ---------------------------------------------------------------- config

nlohmann::json qwen_json() {
  return {{"model_type", "qwen2"}, {"vocab_size", 40}, {"hidden_size", 32}, {"intermediate_size", 48},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"max_position_embeddings", 64}, {"rope_theta", 10000.0}, {"rms_norm_eps", 1e-6},
          {"tie_word_embeddings", false}, {"rope_scaling", nullptr}, {"bos_token_id", 1}};
}

void expect_error(const nlohmann::json& j, const std::string& needle) {
  try {
    parse_dense_config(j, "cfg.json");
    ADD_FAILURE() << "no error, expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

TEST(DenseConfig, Qwen2Defaults_HeadDimDerived_ExtraKept) {
  DenseConfig c = parse_dense_config(qwen_json(), "cfg.json");
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.extra["bos_token_id"], 1);
  DenseConfig c2 = parse_dense_config(dense_config_json(c), "round");
  EXPECT_EQ(c2.head_dim, 8);
  EXPECT_EQ(dense_layout(c2).total, dense_layout(c).total);
}

TEST(DenseConfig, Errors_NameTheField) {
  auto with = [](const char* k, nlohmann::json v) { auto j = qwen_json(); j[k] = v; return j; };
  auto without = [](const char* k) { auto j = qwen_json(); j.erase(k); return j; };
  expect_error(with("rope_scaling", {{"type", "linear"}, {"factor", 2.0}}), "rope_scaling");
  expect_error(without("num_key_value_heads"), "num_key_value_heads");
  expect_error(without("rope_theta"), "rope_theta");
  expect_error(without("tie_word_embeddings"), "tie_word_embeddings");
  expect_error(with("num_key_value_heads", 3), "num_key_value_heads");
  expect_error(with("model_type", "mistral"), "model_type");
  expect_error(with("hidden_act", "gelu"), "hidden_act");
  expect_error(with("use_sliding_window", true), "use_sliding_window");
  expect_error(with("head_dim", 7), "head_dim");
  expect_error(with("vocab_size", "40"), "vocab_size");
  auto llama = with("model_type", "llama");
  llama["attention_bias"] = true;
  expect_error(llama, "attention_bias");
  llama["attention_bias"] = false;
  EXPECT_FALSE(parse_dense_config(llama, "cfg.json").qkv_bias);
}

TEST(DenseConfig, Names_HF_Layout_LlamaNoBias_TiedNoHead) {
  auto j = qwen_json();
  TensorLayout q = dense_layout(parse_dense_config(j, "q"));
  EXPECT_EQ(q.specs.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(q.specs[3].name, "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(q.specs.back().name, "lm_head.weight");
  j["model_type"] = "llama";
  j["tie_word_embeddings"] = true;
  TensorLayout l = dense_layout(parse_dense_config(j, "l"));
  for (const auto& s : l.specs) EXPECT_EQ(s.name.find(".bias"), std::string::npos) << s.name;
  EXPECT_EQ(l.specs.back().name, "model.norm.weight");
  EXPECT_EQ(q.specs.size(), l.specs.size() + 1 + 3 * 2);
}

// The published config.json of deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B (a Qwen2.5-Math-1.5B derivative): it must
// parse, and the registry must give the 1,777,088,000 parameters of Qwen2-1.5B (untied head, q/k/v biases).
TEST(DenseConfig, RealR1DistillQwen1_5B_Parses_1777088000Params) {
  const nlohmann::json j = nlohmann::json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
    "intermediate_size": 8960, "max_position_embeddings": 131072, "max_window_layers": 21, "model_type": "qwen2",
    "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 10000, "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0", "use_cache": true, "use_mrope": false, "use_sliding_window": false,
    "vocab_size": 151936})");
  const DenseConfig c = parse_dense_config(j, "R1-Distill-Qwen-1.5B/config.json");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_TRUE(c.qkv_bias);
  const TensorLayout lay = dense_layout(c);
  EXPECT_EQ(lay.params, size_t(1777088000));
  EXPECT_EQ(lay.specs.size(), size_t(2 + 28 * 12 + 1));
  EXPECT_EQ(dense_config_json(c)["sliding_window"], 4096);   // unread fields survive a save
}

// ---------------------------------------------------------------- init, save, load

TEST(DenseIo, Init_NormsOnes_BiasesZero_StdFromConfig) {
  auto j = qwen_json();
  j["initializer_range"] = 0.05;
  DenseModel m(parse_dense_config(j, "cfg"));
  m.init(3);
  for (size_t i = 0; i < m.layout.specs.size(); ++i) {
    const auto& s = m.layout.specs[i];
    const float* p = m.params.data() + m.layout.offsets[i];
    double ss = 0;
    for (int64_t k = 0; k < s.numel(); ++k) ss += double(p[k]) * p[k];
    const double rms = std::sqrt(ss / double(s.numel()));
    // Normal tensors have >= 512 samples: the rms is within ~3% of the std; 20% catches a wrong scale.
    const double want = s.init == Init::Ones ? 1.0 : s.init == Init::Zeros ? 0.0 : 0.05;
    EXPECT_NEAR(rms, want, s.init == Init::Normal ? 0.01 : 0.0) << s.name;
  }
}

TEST(DenseIo, SaveLoad_F32Exact_Bf16Rounded_ShardedSame) {
  const std::string src = golden_dir("qwen2_gqa_untied_packed");
  auto m = load_dense_model(src);
  const auto tmp = std::filesystem::temp_directory_path() / ("dense_io_" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  m->save((tmp / "f32").string());
  EXPECT_EQ(load_dense_model((tmp / "f32").string())->params, m->params);
  m->save((tmp / "shard").string(), DType::F32, 8192);
  EXPECT_TRUE(file_exists((tmp / "shard" / "model.safetensors.index.json").string()));
  EXPECT_EQ(load_dense_model((tmp / "shard").string())->params, m->params);
  m->save((tmp / "bf16").string(), DType::BF16);
  auto mb = load_dense_model((tmp / "bf16").string());
  for (size_t i = 0; i < m->params.size(); ++i)
    ASSERT_EQ(mb->params[i], bf16_to_f32(f32_to_bf16(m->params[i]))) << i;
  EXPECT_EQ(mb->cfg.extra["torch_dtype"], "bfloat16");
  std::filesystem::remove_all(tmp);
}

TEST(DenseIo, Load_ConfigWeightsMismatch_IsError) {
  // A tied config pointed at untied weights still loads (lm_head ignored, as HF does); a llama config pointed at
  // qwen2 weights has unexpected bias tensors: Error naming one.
  const auto tmp = std::filesystem::temp_directory_path() / ("dense_bad_" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  auto m = load_dense_model(golden_dir("qwen2_gqa_untied_packed"));
  m->save(tmp.string());
  nlohmann::json j = dense_config_json(m->cfg);
  j["model_type"] = "llama";
  write_file_atomic((tmp / "config.json").string(), j.dump());
  try {
    load_dense_model(tmp.string());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("_proj.bias"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(tmp);
}

}  // namespace nanoseek
