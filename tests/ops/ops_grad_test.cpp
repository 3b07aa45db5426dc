// Finite-difference gradient checks for every op family (forward/backward pairs in src/ops/).
// Each test defines a scalar loss L = Σ r ⊙ op(x) with a fixed random r, so dL/d(out) = r.
#include <gtest/gtest.h>

#include <cstring>

#include "model/config.h"
#include "ops/attention.h"
#include "ops/cross_entropy.h"
#include "ops/linear.h"
#include "ops/moe_router.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

TEST(OpsGrad, Linear_N5_I7_O3) {
  const int64_t N = 5, I = 7, O = 3;
  auto x = randn(N * I, 1), W = randn(O * I, 2), r = randn(N * O, 3);
  auto loss = [&] {
    std::vector<float> y(N * O);
    linear_forward(y.data(), x.data(), W.data(), N, I, O);
    return dot(y, r);
  };
  std::vector<float> dx(N * I, 0.f), dW(O * I, 0.f);
  linear_backward_input(dx.data(), r.data(), W.data(), N, I, O);
  linear_backward_weight(dW.data(), r.data(), x.data(), N, I, O);
  check_directional("dx", x, dx, loss);
  check_directional("dW", W, dW, loss);
}

TEST(OpsGrad, RmsNormStrided_N4_C6_stride9) {
  const int64_t N = 4, C = 6, S = 9;
  auto x = randn(N * S, 4), g = randn(C, 5), r = randn(N * C, 6);
  std::vector<float> y(N * C), rstd(N);
  auto loss = [&] {
    rmsnorm_forward(y.data(), rstd.data(), x.data(), g.data(), N, C, 1e-6f, S);
    return dot(y, r);
  };
  loss();
  std::vector<float> dx(N * S, 0.f), dg(C, 0.f);
  rmsnorm_backward(dx.data(), dg.data(), r.data(), x.data(), g.data(), rstd.data(), N, C, S);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = C; c < S; ++c) EXPECT_EQ(dx[n * S + c], 0.f) << "gradient leaked outside the strided view";
  check_directional("dx", x, dx, loss);
  check_directional("dg", g, dg, loss);
}

ModelConfig yarn_config() {
  ModelConfig c;
  c.qk_nope_head_dim = 4;
  c.qk_rope_head_dim = 8;
  c.rope_theta = 10000;
  c.rope_scaling = YarnScaling{4.0, 32, 1, 0.8, 0.7, 4};
  return c;
}

TEST(OpsGrad, RopeYarnIsScaledRotationAndBackwardIsTranspose_N5_H3_R8) {
  ModelConfig c = yarn_config();
  RopeTable t = make_rope_table(c.qk_rope_head_dim, c.rope_theta, c.rope_scaling, 16);
  EXPECT_NE(t.attn_factor, 1.0);
  // YaRN blend must keep the first frequency, interpolate the last
  EXPECT_DOUBLE_EQ(t.inv_freq[0], 1.0);
  EXPECT_NEAR(t.inv_freq[3], std::pow(10000.0, -6.0 / 8) / 4.0, 1e-12);
  const int64_t N = 5, H = 3, Dq = 12;
  std::vector<int32_t> pos = {0, 3, 7, 15, 1};
  auto x = randn(N * H * Dq, 7), y = randn(N * H * Dq, 8);
  auto rx = x;
  rope_forward(rx.data(), pos.data(), N, H, H * Dq, Dq, 4, t);
  auto rty = y;
  rope_backward(rty.data(), pos.data(), N, H, H * Dq, Dq, 4, t);
  EXPECT_NEAR(dot(rx, y), dot(x, rty), 1e-4);  // <Rx, y> == <x, R^T y>
  // norms scale by attn_factor on the rope dims, nope dims untouched
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* a = &x[(n * H + h) * Dq];
      const float* b = &rx[(n * H + h) * Dq];
      for (int j = 0; j < 4; ++j) EXPECT_EQ(a[j], b[j]);
      double na = 0, nb = 0;
      for (int j = 4; j < 12; ++j) na += a[j] * a[j], nb += b[j] * b[j];
      EXPECT_NEAR(std::sqrt(nb), std::sqrt(na) * t.attn_factor, 1e-4);
    }
  // position 0 is identity up to the factor
  for (int j = 4; j < 12; ++j) EXPECT_NEAR(rx[j], x[j] * t.attn_factor, 1e-6);
}

TEST(OpsGrad, RopeInterleavedPairsMatchComplexMultiply) {
  ModelConfig c;
  c.qk_rope_head_dim = 4;
  c.rope_theta = 100;
  RopeTable t = make_rope_table(c.qk_rope_head_dim, c.rope_theta, c.rope_scaling, 8);
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<int32_t> pos = {5};
  rope_forward(x.data(), pos.data(), 1, 1, 4, 4, 0, t);
  // (x0 + i x1)·e^{i·5·θ0}, θ0 = 1; (x2 + i x3)·e^{i·5·θ1}, θ1 = 100^(-1/2)
  double a0 = 5.0, a1 = 5.0 * std::pow(100.0, -0.5);
  EXPECT_NEAR(x[0], 1 * std::cos(a0) - 2 * std::sin(a0), 1e-5);
  EXPECT_NEAR(x[1], 1 * std::sin(a0) + 2 * std::cos(a0), 1e-5);
  EXPECT_NEAR(x[2], 3 * std::cos(a1) - 4 * std::sin(a1), 1e-5);
  EXPECT_NEAR(x[3], 3 * std::sin(a1) + 4 * std::cos(a1), 1e-5);
}

void attention_case(bool with_seg) {
  const AttnShape s{2, 5, 3, 6, 4};
  const int64_t N = s.B * s.T;
  auto q = randn(N * s.H * s.Dq, 11), k = randn(N * s.H * s.Dq, 12), v = randn(N * s.H * s.Dv, 13);
  auto r = randn(N * s.H * s.Dv, 14);
  std::vector<int32_t> seg = {0, 0, 1, 1, 1, 0, 0, 0, 2, 2};
  const int32_t* sg = with_seg ? seg.data() : nullptr;
  std::vector<float> o(N * s.H * s.Dv), P(s.B * s.H * s.T * s.T);
  const float scale = 0.4f;
  auto loss = [&] {
    attention_forward(o.data(), P.data(), q.data(), k.data(), v.data(), sg, s, scale);
    return dot(o, r);
  };
  loss();
  // causality + segments: probabilities vanish where masked, rows sum to 1
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t i = 0; i < s.T; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < s.T; ++j) {
          float p = P[((b * s.H + h) * s.T + i) * s.T + j];
          bool masked = j > i || (sg && sg[b * s.T + j] != sg[b * s.T + i]);
          if (masked) {
            EXPECT_EQ(p, 0.f);
          }
          sum += p;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
  std::vector<float> dq(q.size(), 0.f), dk(k.size(), 0.f), dv(v.size(), 0.f);
  attention_backward(dq.data(), dk.data(), dv.data(), r.data(), P.data(), q.data(), k.data(), v.data(), s, scale);
  check_directional("dq", q, dq, loss);
  check_directional("dk", k, dk, loss);
  check_directional("dv", v, dv, loss);
}

TEST(OpsGrad, AttentionCausal_B2_T5_H3_Dq6_Dv4) { attention_case(false); }
TEST(OpsGrad, AttentionPackedSegments_B2_T5_H3_Dq6_Dv4) { attention_case(true); }

TEST(OpsGrad, SwiGLU_n40) {
  const size_t n = 40;
  auto a = randn(n, 21), b = randn(n, 22), r = randn(n, 23);
  std::vector<float> h(n);
  auto loss = [&] {
    swiglu_forward(h.data(), a.data(), b.data(), n);
    return dot(h, r);
  };
  std::vector<float> da(n), db(n);
  swiglu_backward(da.data(), db.data(), r.data(), a.data(), b.data(), n);
  check_directional("da", a, da, loss);
  check_directional("db", b, db, loss);
}

TEST(OpsGrad, CrossEntropyWithIgnored_N6_V11) {
  const int64_t N = 6, V = 11;
  auto x = randn(N * V, 31, 2.f);
  std::vector<int32_t> t = {3, -1, 10, 0, 5, -1};
  auto loss = [&] { return cross_entropy_forward(x.data(), t.data(), N, V, nullptr).loss_sum; };
  CeResult ce = cross_entropy_forward(x.data(), t.data(), N, V, nullptr);
  EXPECT_EQ(ce.count, 4);
  std::vector<float> dx(N * V);
  cross_entropy_backward(dx.data(), x.data(), t.data(), N, V, 1.f);
  for (int64_t v = 0; v < V; ++v) EXPECT_EQ(dx[1 * V + v], 0.f);
  check_directional("dlogits", x, dx, loss);
  std::vector<float> lp(N);
  token_logprobs(lp.data(), x.data(), t.data(), N, V);
  double s = 0;
  for (auto e : lp) s -= e;
  EXPECT_NEAR(s, ce.loss_sum, 1e-4);
}

RouterConfig router(ScoringFunc sf, TopkMethod m, bool norm, int64_t G, int64_t TG) {
  RouterConfig rc;
  rc.E = 8;
  rc.K = 3;
  rc.n_group = G;
  rc.topk_group = TG;
  rc.scoring = sf;
  rc.method = m;
  rc.norm_topk_prob = norm;
  rc.routed_scaling = 2.5f;
  return rc;
}

void router_grad_case(const RouterConfig& rc, uint64_t seed) {
  const int64_t N = 6, B = 2, T = 3;
  auto logits = randn(N * rc.E, seed, 1.5f), bias = randn(rc.E, seed + 1, 0.3f), rw = randn(N * rc.K, seed + 2);
  std::vector<float> scores(N * rc.E), w(N * rc.K);
  std::vector<int32_t> idx(N * rc.K), idx0;
  const double alpha = 0.1;
  auto loss = [&] {
    router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), N, rc);
    return dot(w, rw) + balance_loss(nullptr, scores.data(), idx.data(), B, T, rc, alpha);
  };
  loss();
  idx0 = idx;
  std::vector<float> dsc(N * rc.E, 0.f), dl(N * rc.E);
  balance_loss(dsc.data(), scores.data(), idx.data(), B, T, rc, alpha);
  router_backward(dl.data(), rw.data(), dsc.data(), scores.data(), idx.data(), N, rc);
  // small h: the discrete selection must not change inside the stencil
  check_directional("dlogits", logits, dl, loss, 4, 1e-3, 2e-2);
  loss();
  EXPECT_EQ(idx, idx0) << "selection changed during the finite difference: pick another seed";
}

TEST(OpsGrad, RouterSigmoidNoauxGroups_E8_K3_G4) {
  router_grad_case(router(ScoringFunc::Sigmoid, TopkMethod::NoauxTc, true, 4, 2), 41);
}
TEST(OpsGrad, RouterSoftmaxGreedyNoNorm_E8_K3) {
  router_grad_case(router(ScoringFunc::Softmax, TopkMethod::Greedy, false, 1, 1), 51);
}
TEST(OpsGrad, RouterSoftmaxGroupLimited_E8_K3_G4) {
  router_grad_case(router(ScoringFunc::Softmax, TopkMethod::GroupLimitedGreedy, true, 4, 2), 61);
}

TEST(MoeRouter, BiasSelectsButDoesNotWeight) {
  RouterConfig rc = router(ScoringFunc::Sigmoid, TopkMethod::NoauxTc, true, 1, 1);
  rc.K = 2;
  std::vector<float> logits = {3, 2, 1, 0, -1, -2, -3, -4};
  std::vector<float> bias = {0, 0, 0, 0, 0, 0, 0, 5};  // pushes expert 7 into the selection
  std::vector<float> s(8), w(2);
  std::vector<int32_t> idx(2);
  router_forward(s.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, rc);
  EXPECT_EQ(idx[0], 7);
  EXPECT_EQ(idx[1], 0);
  const double s7 = 1 / (1 + std::exp(4.0)), s0 = 1 / (1 + std::exp(-3.0));
  EXPECT_NEAR(w[0], 2.5 * s7 / (s7 + s0), 1e-6);  // weight from the unbiased score
  EXPECT_NEAR(w[1], 2.5 * s0 / (s7 + s0), 1e-6);
}

TEST(MoeRouter, GroupLimitedUsesTop2SumAndMasksWithNegInf) {
  // 4 groups of 2. Group scores (top-2 sums of s+b): g0 = high single expert + very low partner.
  RouterConfig rc = router(ScoringFunc::Sigmoid, TopkMethod::NoauxTc, true, 4, 1);
  rc.K = 2;
  std::vector<float> logits = {6, -6, 1, 1, 0.5f, 0.5f, -1, -1};
  std::vector<float> bias(8, -2.f);  // all biased scores negative: a 0.0 mask (HF) would differ from -inf
  std::vector<float> s(8), w(2);
  std::vector<int32_t> idx(2);
  router_forward(s.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, rc);
  // sums: g0 ≈ 0.9975+0.0025 = 1.0, g1 ≈ 0.731·2 = 1.46 → g1 wins; both chosen experts from group 1
  EXPECT_EQ(std::min(idx[0], idx[1]), 2);
  EXPECT_EQ(std::max(idx[0], idx[1]), 3);
}

TEST(MoeRouter, AuxFreeBiasUpdate) {
  std::vector<float> b = {0, 0, 0, 0};
  std::vector<int64_t> load = {10, 2, 4, 4};  // mean 5
  update_router_bias(b.data(), load.data(), 4, 0.001f);
  EXPECT_FLOAT_EQ(b[0], -0.001f);
  EXPECT_FLOAT_EQ(b[1], 0.001f);
  EXPECT_FLOAT_EQ(b[2], 0.001f);
}

TEST(MoeRouter, BalanceLossUniformIsAlpha) {
  // Perfectly uniform routing and scores: f_e = 1, P_e = 1/E → L = α.
  RouterConfig rc = router(ScoringFunc::Softmax, TopkMethod::Greedy, false, 1, 1);
  rc.E = 4;
  rc.K = 1;
  std::vector<float> scores(4 * 4, 0.25f);
  std::vector<int32_t> idx = {0, 1, 2, 3};
  EXPECT_NEAR(balance_loss(nullptr, scores.data(), idx.data(), 1, 4, rc, 0.01), 0.01, 1e-9);
}

}  // namespace nanoseek
