// Parity with the independent PyTorch reference (tools/reference/model.py, computed in float64, stored as F32):
// logits, every layer's hidden state, MTP logits, each loss term, expert loads and EVERY parameter gradient.
// Cases (tools/reference/make_goldens.py): v3_mtp_yarn (q_lora, sigmoid+noaux_tc+groups, YaRN, MTP 1, dense-first),
// v2_softmax_tied_bf16 (q_proj, softmax greedy, tied head, moe_layer_freq 2, BF16 weights in 2 shards),
// v2_grouped_mtp2 (softmax group-limited, all-MoE, MTP 2).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "core/safetensors.h"
#include "model/model.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {

// Tolerances. Our forward is float32 (BLAS accumulates in float; norms and softmax sums in double); the
// reference is float64. Measured worst normalized error (max|a−b| / max|b|) over the three cases on this
// machine: 6.9e-7 for activations/logits/losses, 2.9e-6 for gradients (2026-11-22, OpenBLAS 0.3.21, 1–2 threads).
// The bounds leave ~15x / ~35x headroom for other BLAS kernels and thread counts; any semantic error (a wrong
// sign, mask, scale, routing) shows up at 1e-2 or more.
constexpr double kActTol = 1e-5;
constexpr double kGradTol = 1e-4;

void compare_case(const std::string& name) {
  const std::string dir = source_dir() + "/tests/golden/model/" + name;
  auto m = load_model(dir);
  Checkpoint g = Checkpoint::open(dir + "/golden.safetensors");
  const auto& meta = SafetensorsFile::open(dir + "/golden.safetensors")->metadata();
  LossConfig lc{std::stod(meta.at("mtp_lambda")), std::stod(meta.at("balance_alpha"))};
  const TensorView& idv = g.get("input_ids");
  const int64_t B = idv.shape[0], T = idv.shape[1];
  std::vector<int32_t> ids, tg;
  for (int64_t v : g.read_i64("input_ids")) ids.push_back(int32_t(v));
  for (int64_t v : g.read_i64("targets")) tg.push_back(int32_t(v));
  Batch b{B, T, ids.data(), tg.data(), nullptr};
  Workspace ws = plan_workspace(m->cfg, B, T, true);
  m->enable_grad();
  StepStats st = m->forward(b, ws, lc);
  const int64_t V = m->cfg.vocab_size;

  auto expect_close = [&](const std::string& what, const float* ours, const std::vector<float>& ref, double tol) {
    double e = norm_err(ours, ref.data(), ref.size());
    EXPECT_LE(e, tol) << name << ": " << what << " normalized error " << e;
    return e;
  };
  double worst_act = 0, worst_grad = 0;
  for (int64_t L = 0; L < m->cfg.num_hidden_layers; ++L) {
    const float* h = L + 1 < m->cfg.num_hidden_layers ? ws.layers[L + 1].x_in.data() : ws.h_final.data();
    worst_act = std::max(worst_act, expect_close("hidden." + std::to_string(L), h, g.read_f32("hidden." + std::to_string(L)), kActTol));
  }
  worst_act = std::max(worst_act, expect_close("logits", ws.logits.data(), g.read_f32("logits"), kActTol));
  for (int64_t k = 1; k <= m->cfg.num_nextn_predict_layers; ++k) {
    auto ref = g.read_f32("mtp_logits." + std::to_string(k));
    ASSERT_EQ(int64_t(ref.size()), B * (T - k) * V);
    worst_act = std::max(worst_act, expect_close("mtp_logits." + std::to_string(k), ws.mtp[k - 1].logits.data(), ref, kActTol));
  }
  for (auto [key, ours] : {std::pair{"loss", st.loss}, {"ce", st.ce}, {"mtp", st.mtp}, {"bal", st.bal}}) {
    const double ref = g.read_f32(key)[0];
    EXPECT_NEAR(ours, ref, kActTol * std::max(1.0, std::fabs(ref))) << name << ": " << key;
  }
  for (int64_t L = 0; L < m->cfg.total_layers(); ++L) {
    const std::string key = "expert_load." + std::to_string(L);
    if (!g.has(key)) {
      EXPECT_TRUE(st.expert_load[L].empty()) << name << ": layer " << L << " is MoE here but not in the reference";
      continue;
    }
    std::vector<int64_t> ref = g.read_i64(key);
    EXPECT_EQ(st.expert_load[L], ref) << name << ": " << key;
  }

  m->zero_grad();
  m->backward(b, ws, lc);
  int checked = 0;
  for (size_t i = 0; i < m->layout.specs.size(); ++i) {
    const TensorSpec& s = m->layout.specs[i];
    if (!s.trainable) {
      EXPECT_FALSE(g.has("grad." + s.name)) << name << ": the reference has a gradient for buffer " << s.name;
      continue;
    }
    ASSERT_TRUE(g.has("grad." + s.name)) << name << ": no reference gradient for " << s.name;
    worst_grad = std::max(worst_grad, expect_close("grad." + s.name, m->grads.data() + m->layout.offsets[i],
                                                   g.read_f32("grad." + s.name), kGradTol));
    ++checked;
  }
  EXPECT_GT(checked, 10);
  std::printf("[%s] %d gradients; worst normalized error: activations %.2e, gradients %.2e\n", name.c_str(), checked,
              worst_act, worst_grad);
}

}  // namespace

TEST(Golden, V3_MtpYarn) { compare_case("v3_mtp_yarn"); }
TEST(Golden, V2_SoftmaxTiedBf16Sharded) { compare_case("v2_softmax_tied_bf16"); }
TEST(Golden, V2_GroupedMtp2) { compare_case("v2_grouped_mtp2"); }

}  // namespace nanoseek
