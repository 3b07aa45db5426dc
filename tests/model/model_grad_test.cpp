// Whole-model finite-difference check: for every tensor of the registry, the analytic gradient of
// loss = CE + λ/D·ΣCE_k + α·L_bal along a random direction inside that tensor equals the central difference.
// Configs cover: q_lora set/null, sigmoid+noaux_tc+groups, softmax greedy / group-limited, YaRN, MTP depth 1 and 2,
// tied embeddings, dense-first and moe_layer_freq layers, packed segments.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>

#include "model/model.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {

nlohmann::json tiny_json() {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 48}, {"hidden_size", 16}, {"intermediate_size", 24},
          {"moe_intermediate_size", 8}, {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"q_lora_rank", 12},
          {"kv_lora_rank", 8}, {"qk_nope_head_dim", 4}, {"qk_rope_head_dim", 4}, {"v_head_dim", 4},
          {"rope_theta", 10000.0}, {"rms_norm_eps", 1e-6}, {"rope_scaling", nullptr},
          {"max_position_embeddings", 64}, {"n_routed_experts", 8}, {"n_shared_experts", 1},
          {"num_experts_per_tok", 2}, {"n_group", 4}, {"topk_group", 2}, {"topk_method", "noaux_tc"},
          {"scoring_func", "sigmoid"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
          {"first_k_dense_replace", 1}, {"moe_layer_freq", 1}, {"num_nextn_predict_layers", 1},
          {"tie_word_embeddings", false}, {"initializer_range", 0.3}};
}

struct Case {
  std::string name;
  nlohmann::json patch;
  bool packed = false;
  bool weighted = false;  // per-token signed weights on the main term (the GRPO / SFT hook)
};

void run_case(const Case& cs) {
  // Tiny shapes: threading only adds synchronisation cost; results do not depend on the thread count.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  struct Restore { int t; ~Restore() { omp_set_num_threads(t); } } restore{threads};
  nlohmann::json j = tiny_json();
  for (const auto& [k, v] : cs.patch.items()) j[k] = v;  // plain assignment: null must stay null
  ModelConfig c = parse_config(j, cs.name);
  Model m(c);
  m.init(7);
  // non-trivial gains and biases so those gradients are exercised away from 1/0
  Rng r(3);
  for (size_t i = 0; i < m.layout.specs.size(); ++i) {
    const TensorSpec& s = m.layout.specs[i];
    float* p = m.params.data() + m.layout.offsets[i];
    if (s.init == Init::Ones)
      for (int64_t k = 0; k < s.numel(); ++k) p[k] = 1.f + 0.2f * float(r.normal());
    if (s.role == Role::RouterBias)
      for (int64_t k = 0; k < s.numel(); ++k) p[k] = 0.1f * float(r.normal());
  }
  const int64_t B = 2, T = 7;
  std::vector<int32_t> ids(B * T), tg(B * T), seg(B * T);
  for (int64_t i = 0; i < B * T; ++i) ids[i] = int32_t(r.below(c.vocab_size));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      tg[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : -1;
      seg[b * T + t] = t < 3 ? 0 : 1;
    }
  tg[4] = -1;
  std::vector<float> wts(B * T);
  for (auto& x : wts) x = float(r.normal()) * 0.3f;
  Batch batch{B, T, ids.data(), tg.data(), cs.packed ? seg.data() : nullptr, cs.weighted ? wts.data() : nullptr};
  LossConfig lc{0.3, 0.05};
  Workspace ws = plan_workspace(c, B, T, true);
  m.enable_grad();
  StepStats st0 = m.forward(batch, ws, lc);
  ASSERT_TRUE(std::isfinite(st0.loss));
  if (c.n_routed_experts > 0 && lc.balance_alpha > 0) {
    EXPECT_GT(st0.bal, 0);
  }
  if (c.num_nextn_predict_layers > 0) {
    EXPECT_GT(st0.mtp, 0);
  }
  m.zero_grad();
  m.backward(batch, ws, lc);

  Workspace ws2 = plan_workspace(c, B, T, false);
  double max_rel = 0;
  for (size_t i = 0; i < m.layout.specs.size(); ++i) {
    const TensorSpec& s = m.layout.specs[i];
    if (!s.trainable) continue;
    const size_t off = m.layout.offsets[i], n = size_t(s.numel());
    const std::vector<float> x0(m.params.begin() + off, m.params.begin() + off + n);
    const std::vector<float> gx(m.grads.begin() + off, m.grads.begin() + off + n);
    // Top-k routing is piecewise: a direction whose ±h stencil flips any expert selection measures a jump,
    // not a derivative. Such directions are discarded (and counted); each tensor needs 2 clean ones.
    const double h = 2e-3;
    int clean = 0, flipped = 0;
    for (int dir = 0; dir < 8 && clean < 2; ++dir) {
      // Direction 0 is the analytic gradient itself: the FD along it must equal |g| (a large, exact target
      // that any wrong component disturbs); later directions are random.
      std::vector<float> v = dir == 0 ? gx : randn(n, 1000 + 31 * i + dir);
      if (dir == 0 && dot(v, v) == 0) v = randn(n, 7);
      const double nv = std::sqrt(dot(v, v));
      auto eval = [&](double step, bool& flip) {
        for (size_t k = 0; k < n; ++k) m.params[off + k] = x0[k] + float(step * v[k] / nv);
        StepStats st = m.forward(batch, ws2, lc);
        flip |= st.expert_load != st0.expert_load;
        return st.loss;
      };
      bool flip = false;
      const double fp = eval(h, flip), fm = eval(-h, flip);
      std::copy(x0.begin(), x0.end(), m.params.begin() + off);
      if (flip) {
        ++flipped;
        continue;
      }
      ++clean;
      const double fd = (fp - fm) / (2 * h), an = dot(gx, v) / nv;
      // Tolerance: 1% relative for the O(h²) truncation, plus an absolute 1e-4 for float32 round-off of the
      // loss (~2e-7 absolute per evaluation → ~1e-4 in (f+ − f−)/2h at h = 2e-3).
      max_rel = std::max(max_rel, std::fabs(fd - an) / std::max(std::fabs(an), 1e-12));
      EXPECT_LE(std::fabs(fd - an), 1e-2 * std::max(std::fabs(fd), std::fabs(an)) + 1e-4)
          << cs.name << " " << s.name << " dir " << dir << ": analytic " << an << " vs FD " << fd;
    }
    EXPECT_EQ(clean, 2) << cs.name << " " << s.name << ": " << flipped << " directions flipped routing";
  }
  std::printf("[%s] max relative |FD - analytic| over all tensors and directions: %.2e\n", cs.name.c_str(), max_rel);
}

}  // namespace

TEST(ModelGrad, V3_SigmoidGroups_Mtp1) { run_case({"v3", nlohmann::json::object()}); }
TEST(ModelGrad, V3_Yarn_Mtp2_Packed) {
  run_case({"v3_yarn_mtp2_packed",
            {{"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 4},
                               {"beta_fast", 32.0}, {"beta_slow", 1.0}, {"mscale", 0.8}, {"mscale_all_dim", 0.7}}},
             {"num_nextn_predict_layers", 2}},
            true});
}
TEST(ModelGrad, V2_SoftmaxGreedy_QProj_Tied_Freq2) {
  run_case({"v2", {{"model_type", "deepseek_v2"}, {"q_lora_rank", nullptr}, {"topk_method", "greedy"},
                   {"scoring_func", "softmax"}, {"norm_topk_prob", false}, {"routed_scaling_factor", 1.0},
                   {"n_group", 1}, {"topk_group", 1}, {"n_shared_experts", 2}, {"num_hidden_layers", 3},
                   {"moe_layer_freq", 2}, {"num_nextn_predict_layers", 0}, {"tie_word_embeddings", true}}});
}
TEST(ModelGrad, V3_PerTokenSignedWeights) { run_case({"v3_weighted", nlohmann::json::object(), false, true}); }

TEST(ModelGrad, WeightsOfOneOverCountEqualTheMean) {
  ModelConfig c = parse_config(tiny_json(), "tiny");
  Model m(c);
  m.init(3);
  const int64_t B = 2, T = 6;
  std::vector<int32_t> ids(B * T), tg(B * T);
  Rng r(5);
  for (auto& x : ids) x = int32_t(r.below(c.vocab_size));
  int64_t count = 0;
  for (int64_t i = 0; i < B * T; ++i) tg[i] = (i % T) + 1 < T ? ids[i + 1] : -1, count += tg[i] >= 0;
  std::vector<float> w(B * T, 1.f / float(count));
  Workspace ws = plan_workspace(c, B, T, true);
  m.enable_grad();
  Batch plain{B, T, ids.data(), tg.data()};
  StepStats a = m.forward(plain, ws, {0.3, 0.01});
  m.backward(plain, ws, {0.3, 0.01});
  std::vector<float> g0 = m.grads;
  m.zero_grad();
  Batch weighted{B, T, ids.data(), tg.data(), nullptr, w.data()};
  StepStats b = m.forward(weighted, ws, {0.3, 0.01});
  m.backward(weighted, ws, {0.3, 0.01});
  EXPECT_NEAR(a.loss, b.loss, 1e-6);
  EXPECT_LE(norm_err(m.grads.data(), g0.data(), g0.size()), 1e-6);
  double lp = 0;
  for (float x : a.token_logprobs) lp -= x;
  EXPECT_NEAR(lp / double(count), a.ce, 1e-5);  // token log-probs are the per-row CE, negated
}

TEST(ModelGrad, V2_GroupLimited_AllMoe) {
  run_case({"v2g", {{"model_type", "deepseek_v2"}, {"topk_method", "group_limited_greedy"},
                    {"scoring_func", "softmax"}, {"first_k_dense_replace", 0}, {"n_shared_experts", 0}}});
}

}  // namespace nanoseek
