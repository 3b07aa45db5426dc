// GRPO loss: goldens from tools/reference/make_grpo_goldens.py (PyTorch float64 autograd), finite differences of
// dLoss/dlogp_new, and hand-computed tiny cases.
#include "rl/grpo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;
using Agg = GrpoConfig::Agg;

namespace {

nlohmann::json load_cases(const char* file) {
  std::ifstream f(source_dir() + "/tests/golden/rl/" + file);
  EXPECT_TRUE(f.good()) << file;
  return nlohmann::json::parse(f);
}

template <typename T>
std::vector<T> vec(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}

GrpoConfig config_of(const nlohmann::json& c) {
  GrpoConfig cfg;
  cfg.eps_low = c["eps_low"];
  cfg.eps_high = c["eps_high"];
  cfg.beta = c["beta"];
  cfg.agg = c["agg"] == "token" ? Agg::Token : Agg::Sequence;
  return cfg;
}

struct Case {
  GrpoConfig cfg;
  std::vector<int64_t> offsets;
  std::vector<float> logp_new, logp_old, logp_ref, adv;
  std::vector<uint8_t> mask;
  PolicyLossOut run(std::vector<float>& d) const {
    d.assign(logp_new.size(), std::nanf(""));
    return policy_loss(cfg, {offsets, logp_new, logp_old, logp_ref, mask, adv, {}}, d);
  }
};

Case case_of(const nlohmann::json& c) {
  return {config_of(c),         vec<int64_t>(c["offsets"]),   vec<float>(c["logp_new"]), vec<float>(c["logp_old"]),
          vec<float>(c["logp_ref"]), vec<float>(c["advantages"]), vec<uint8_t>(c["mask"])};
}

}  // namespace

// Tolerances. Advantages: both sides compute in double and round to float, so they may differ by the last float
// ulp (2^-23 relative) — allow 2 ulps. Loss/metrics: double arithmetic on identical float inputs; only summation
// order differs, so 1e-10 relative. dlogp_new: rounded to float on our side only → 1 ulp, allow 2e-7 normalized.
TEST(GrpoGolden, AdvantagesAndFracZeroStd_AllCases) {
  for (const auto& c : load_cases("grpo_cases.json")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto rewards = vec<float>(c["rewards"]);
    auto want = vec<float>(c["advantages"]);
    double frac = -1;
    auto adv = group_advantages(rewards, c["group_size"], c["scale_by_std"], &frac);
    ASSERT_EQ(adv.size(), want.size());
    for (size_t i = 0; i < adv.size(); ++i)
      EXPECT_NEAR(adv[i], want[i], 2.4e-7 * std::max(1.f, std::fabs(want[i]))) << i;
    EXPECT_DOUBLE_EQ(frac, c["frac_reward_zero_std"].get<double>());
  }
}

TEST(GrpoGolden, LossGradMetrics_AllCases) {
  double worst_loss = 0, worst_grad = 0;
  for (const auto& c : load_cases("grpo_cases.json")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Case k = case_of(c);
    std::vector<float> d;
    PolicyLossOut o = k.run(d);
    const double want = c["loss"];
    const double el = std::fabs(o.loss - want) / std::max(1.0, std::fabs(want));
    EXPECT_LE(el, 1e-10) << o.loss << " vs " << want;
    auto dwant = vec<float>(c["dlogp_new"]);
    const double eg = norm_err(d.data(), dwant.data(), d.size());
    EXPECT_LE(eg, 2e-7);
    worst_loss = std::max(worst_loss, el), worst_grad = std::max(worst_grad, eg);
    const double kl = c["kl"];
    EXPECT_NEAR(o.kl, kl, 1e-10 * std::max(1.0, std::fabs(kl)));
    EXPECT_NEAR(o.clip_ratio, c["clip_ratio"].get<double>(), 1e-12);
    EXPECT_NEAR(o.clip_ratio_low, c["clip_ratio_low"].get<double>(), 1e-12);
    EXPECT_NEAR(o.clip_ratio_high, c["clip_ratio_high"].get<double>(), 1e-12);
    EXPECT_EQ(o.n_tokens, c["n_tokens"].get<int64_t>());
    EXPECT_EQ(o.n_seqs, c["n_seqs"].get<int64_t>());
    for (size_t i = 0; i < d.size(); ++i) {
      if (!k.mask[i]) {
        EXPECT_EQ(d[i], 0.f) << "masked token " << i;
      }
    }
  }
  std::printf("GRPO golden: max loss rel err %.3g, max dlogp_new normalized err %.3g\n", worst_loss, worst_grad);
}

// Central differences of the loss along random directions of logp_new. The huge-ratio case is included: its clamped
// tokens are flat (gradient 0) far from the clamp edge, so FD agrees there too.
TEST(GrpoGrad, FiniteDifferences_AllGoldenCases) {
  for (const auto& c : load_cases("grpo_cases.json")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Case k = case_of(c);
    std::vector<float> d;
    k.run(d);
    std::vector<float> scratch;
    // h = 1e-3: float inputs (|logp| ≤ ~3) carry ~2e-7 rounding per coordinate, i.e. 2e-4 relative of h; the
    // surrogate is piecewise smooth and no token sits within 1e-3 of a clip edge in these seeds.
    check_directional(c["name"].get<std::string>(), k.logp_new, d, [&] { return k.run(scratch).loss; }, 4, 1e-3, 1e-2, 1e-6);
  }
}

TEST(GrpoHand, RatioOne_Beta0_LossIsMinusMeanAdv_S3) {
  // 3 sequences of lengths 2, 1, 3; logp_new == logp_old ⇒ ρ = 1 ⇒ every token's loss is −A_s.
  std::vector<int64_t> off{0, 2, 3, 6};
  std::vector<float> lp{-1, -2, -0.5f, -3, -1, -0.1f}, adv{1.5f, -0.5f, 0.25f};
  std::vector<float> d(6);
  GrpoConfig cfg;
  auto o = grpo_loss(cfg, off, lp, lp, {}, adv, d);
  EXPECT_NEAR(o.loss, -(1.5 - 0.5 + 0.25) / 3, 1e-12);  // Sequence: mean over sequences
  EXPECT_EQ(o.clip_ratio, 0);
  EXPECT_EQ(o.kl, 0);
  EXPECT_NEAR(d[0], -1.5 / (3 * 2), 1e-7);  // dℓ/dlogp = −ρA, weight 1/(S·|o_s|)
  EXPECT_NEAR(d[2], 0.5 / 3, 1e-7);
  cfg.agg = Agg::Token;
  o = grpo_loss(cfg, off, lp, lp, {}, adv, d);
  EXPECT_NEAR(o.loss, -(2 * 1.5 - 0.5 + 3 * 0.25) / 6, 1e-12);  // Token: Σ over tokens / 6
  EXPECT_NEAR(d[5], -0.25 / 6, 1e-7);
}

TEST(GrpoHand, KlZeroWhenRefEqualsNew_Beta004_S2) {
  std::vector<int64_t> off{0, 2, 4};
  std::vector<float> nw{-1, -2, -0.5f, -3}, old{-1.1f, -1.8f, -0.5f, -3.2f}, adv{1, -1};
  std::vector<float> d0(4), d1(4);
  GrpoConfig cfg;
  auto base = grpo_loss(cfg, off, nw, old, {}, adv, d0);
  cfg.beta = 0.04;
  auto with_ref = grpo_loss(cfg, off, nw, old, nw, adv, d1);
  EXPECT_EQ(with_ref.kl, 0);
  EXPECT_DOUBLE_EQ(with_ref.loss, base.loss);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(d1[i], d0[i]);
}

TEST(GrpoHand, K3Value_OneToken) {
  // y = ref − new = 0.5: k3 = e^0.5 − 0.5 − 1; dk3/dnew = 1 − e^0.5; ρ = 1, A = 0 ⇒ only the KL term.
  std::vector<int64_t> off{0, 1};
  std::vector<float> nw{-1.f}, ref{-0.5f}, adv{0.f}, d(1);
  GrpoConfig cfg;
  cfg.beta = 0.1;
  auto o = grpo_loss(cfg, off, nw, nw, ref, adv, d);
  const double k3 = std::exp(0.5) - 1.5;
  EXPECT_NEAR(o.kl, k3, 1e-12);
  EXPECT_NEAR(o.loss, 0.1 * k3, 1e-12);
  EXPECT_NEAR(d[0], 0.1 * (1 - std::exp(0.5)), 1e-7);
}

TEST(GrpoHand, ClipBranches_OneToken) {
  std::vector<int64_t> off{0, 1};
  std::vector<float> old{-1.f}, d(1);
  GrpoConfig cfg;  // ε = 0.2
  auto run = [&](float x, float A) {
    std::vector<float> nw{-1.f + x}, adv{A};
    return grpo_loss(cfg, off, nw, old, {}, adv, d);
  };
  const double r = std::exp(double(-1.f + 0.5f) - (-1.0));
  auto o = run(0.5f, 1);  // ρ ≈ 1.65 > 1.2, A > 0: clipped at 1.2, no gradient
  EXPECT_NEAR(o.loss, -1.2, 1e-12);
  EXPECT_EQ(d[0], 0.f);
  EXPECT_EQ(o.clip_ratio_high, 1);
  o = run(0.5f, -1);  // A < 0, ρ > 1: min picks the unclipped −ρ, gradient flows
  EXPECT_NEAR(o.loss, r, 1e-7);
  EXPECT_NEAR(d[0], r, 1e-6);
  EXPECT_EQ(o.clip_ratio, 0);
  o = run(-0.5f, -1);  // ρ ≈ 0.61 < 0.8, A < 0: clipped at 0.8
  EXPECT_NEAR(o.loss, 0.8, 1e-12);
  EXPECT_EQ(d[0], 0.f);
  EXPECT_EQ(o.clip_ratio_low, 1);
  cfg.eps_low = cfg.eps_high = 10;  // R1's loose clip: ρ = e^2 ≈ 7.39 < 11 is not clipped
  o = run(2.f, 1);
  EXPECT_NEAR(o.loss, -std::exp(2.0), 1e-5);
  EXPECT_EQ(o.clip_ratio, 0);
  o = run(-3.f, -1);  // low bound 1 − 10 < 0 never binds
  EXPECT_NEAR(o.loss, std::exp(-3.0), 1e-6);
}

TEST(GrpoHand, HugeLogRatio_FiniteAndFlat_S1) {
  std::vector<int64_t> off{0, 3};
  std::vector<float> nw{500.f, -500.f, -1.f}, old{-1.f, -1.f, -1.f}, ref{-600.f, 600.f, -1.f}, adv{-2.f};
  std::vector<float> d(3);
  GrpoConfig cfg;
  cfg.beta = 0.04;
  cfg.eps_low = cfg.eps_high = 10;
  auto o = grpo_loss(cfg, off, nw, old, ref, adv, d);
  EXPECT_TRUE(std::isfinite(o.loss));
  EXPECT_TRUE(std::isfinite(o.kl));
  EXPECT_EQ(d[0], 0.f);  // both log-ratios clamped: flat
  EXPECT_EQ(d[1], 0.f);
  EXPECT_NEAR(d[2], 2.0 / 3, 1e-7);  // ρ = 1, A = −2, k3' = 0 at y = 0
}

TEST(GrpoHand, EmptyAndFullyMaskedSequencesAreSkipped_S3) {
  // seq 1 is empty, seq 2 fully masked: the Sequence mean runs over seq 0 only.
  std::vector<int64_t> off{0, 2, 2, 4};
  std::vector<float> lp{-1, -1, -1, -1}, adv{2, 5, 7}, d(4);
  std::vector<uint8_t> mask{1, 1, 0, 0};
  auto o = policy_loss(GrpoConfig{}, {off, lp, lp, {}, mask, adv, {}}, d);
  EXPECT_NEAR(o.loss, -2, 1e-12);
  EXPECT_EQ(o.n_seqs, 1);
  EXPECT_EQ(o.n_tokens, 2);
  EXPECT_EQ(d[2], 0.f);
  EXPECT_EQ(d[3], 0.f);
}

TEST(GrpoHand, PerTokenAdvantagesEqualBroadcastPerSeq_S2) {
  std::vector<int64_t> off{0, 3, 5};
  std::vector<float> nw{-1, -0.7f, -2, -0.2f, -1.5f}, old{-1.2f, -0.6f, -1.5f, -0.25f, -1.4f};
  std::vector<float> seq{0.7f, -1.3f}, tok{0.7f, 0.7f, 0.7f, -1.3f, -1.3f}, d1(5), d2(5);
  GrpoConfig cfg;
  auto a = policy_loss(cfg, {off, nw, old, {}, {}, seq, {}}, d1);
  auto b = policy_loss(cfg, {off, nw, old, {}, {}, {}, tok}, d2);
  EXPECT_DOUBLE_EQ(a.loss, b.loss);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(d1[i], d2[i]);
}

TEST(GrpoAdvantages, Hand_G2_G3) {
  std::vector<float> r{0, 1, 1, 1, 1};
  EXPECT_THROW(group_advantages(r, 2, true, nullptr), Error);  // 5 rewards, groups of 2
  std::vector<float> r6{0, 1, 1, 1, 1, 1};
  double frac = 0;
  auto a = group_advantages(r6, 2, true, &frac);
  const double sd = std::sqrt(0.5);  // sample std of {0, 1}
  EXPECT_NEAR(a[0], -0.5 / (sd + kAdvStdEps), 1e-6);
  EXPECT_NEAR(a[1], 0.5 / (sd + kAdvStdEps), 1e-6);
  EXPECT_EQ(a[2], 0.f);
  EXPECT_EQ(a[5], 0.f);
  EXPECT_DOUBLE_EQ(frac, 2.0 / 3);
  auto b = group_advantages(std::vector<float>{0, 1, 2}, 3, false, nullptr);  // Dr. GRPO: r − mean
  EXPECT_FLOAT_EQ(b[0], -1);
  EXPECT_FLOAT_EQ(b[2], 1);
}

TEST(GrpoErrors, BadInputsThrowNamingTheField) {
  std::vector<int64_t> off{0, 2};
  std::vector<float> lp{-1, -1}, adv{1}, d(2);
  GrpoConfig cfg;
  cfg.beta = 0.1;
  auto msg = [&](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([&] { grpo_loss(cfg, off, lp, lp, {}, adv, d); }).find("logp_ref"), std::string::npos);
  cfg.beta = 0;
  std::vector<float> nan{-1, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_NE(msg([&] { grpo_loss(cfg, off, nan, lp, {}, adv, d); }).find("logp_new[1]"), std::string::npos);
  std::vector<float> short_old{-1};
  EXPECT_NE(msg([&] { grpo_loss(cfg, off, lp, short_old, {}, adv, d); }).find("logp_old"), std::string::npos);
  std::vector<int64_t> bad_off{0, 2, 1};
  std::vector<float> adv2{1, 1};
  EXPECT_NE(msg([&] { grpo_loss(cfg, bad_off, lp, lp, {}, adv2, d); }).find("offsets[2]"), std::string::npos);
  std::vector<uint8_t> none{0, 0};
  EXPECT_NE(msg([&] { policy_loss(cfg, {off, lp, lp, {}, none, adv, {}}, d); }).find("no unmasked"),
            std::string::npos);
  EXPECT_THROW(policy_loss(cfg, {off, lp, lp, {}, {}, adv, lp}, d), Error);  // both advantage kinds
}

}  // namespace nanoseek
