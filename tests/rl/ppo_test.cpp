// PPO baseline math: goldens from tools/reference/make_grpo_goldens.py, hand-computed GAE cases, value-loss FD.
#include "rl/ppo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

namespace {
template <typename T>
std::vector<T> vec(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}
// Largest |a − b| / max(1, |b|).
double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::max(m, std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i]))));
  return m;
}
}  // namespace

// Tolerances: both sides accumulate in double from the same float inputs and round results to float, so values
// agree to the float ulp; GAE chains ≤ 7 float-rounded steps in the reference (it rounds rewards/advantages to
// float like we do), so 1e-6 relative leaves room for a few ulps. Value loss is a double: 1e-10.
TEST(PpoGolden, RewardsGaeWhitenValueLoss_AllCases) {
  std::ifstream f(source_dir() + "/tests/golden/rl/ppo_cases.json");
  ASSERT_TRUE(f.good());
  double worst = 0;
  for (const auto& c : nlohmann::json::parse(f)) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto off = vec<int64_t>(c["offsets"]);
    const size_t N = size_t(off.back());
    auto rew = ppo_token_rewards(off, vec<float>(c["outcome"]), vec<float>(c["logp_old"]), vec<float>(c["logp_ref"]),
                                 c["kl_coef"]);
    worst = std::max(worst, max_rel(rew, vec<float>(c["token_rewards"])));
    auto values = vec<float>(c["values"]);
    std::vector<float> adv(N), ret(N);
    // Feed the golden rewards so a 1-ulp reward difference cannot compound.
    gae(off, vec<float>(c["token_rewards"]), values, c["gamma"], c["lam"], adv, ret);
    worst = std::max(worst, max_rel(adv, vec<float>(c["advantages"])));
    worst = std::max(worst, max_rel(ret, vec<float>(c["returns"])));
    auto w = vec<float>(c["advantages"]);
    whiten(w);
    worst = std::max(worst, max_rel(w, vec<float>(c["whitened"])));
    std::vector<float> dv(N);
    auto vl = value_loss(values, vec<float>(c["values_old"]), vec<float>(c["returns"]), c["clip_eps"], dv);
    EXPECT_NEAR(vl.loss, c["value_loss"].get<double>(), 1e-10);
    EXPECT_NEAR(vl.clip_frac, c["value_clip_frac"].get<double>(), 1e-12);
    auto dwant = vec<float>(c["dvalues"]);
    EXPECT_LE(norm_err(dv.data(), dwant.data(), N), 2e-7);
  }
  EXPECT_LE(worst, 1e-6);
  std::printf("PPO golden: max rel err %.3g\n", worst);
}

TEST(PpoGae, Hand_Gamma1Lambda1_OutcomeOnly_T4) {
  // γ = λ = 1, zero values: A_t = Σ_{k≥t} r_k = R for every token; returns = A.
  std::vector<int64_t> off{0, 4};
  auto r = ppo_token_rewards(off, std::vector<float>{2.f}, {}, {}, 0.0);
  EXPECT_EQ(r, (std::vector<float>{0, 0, 0, 2}));
  std::vector<float> v(4, 0.f), a(4), ret(4);
  gae(off, r, v, 1.0, 1.0, a, ret);
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(a[t], 2.f);
}

TEST(PpoGae, Hand_Lambda0_IsOneStepTd_TwoSeqs) {
  // λ = 0: A_t = r_t + γ·V_{t+1} − V_t, V past each sequence's end = 0 (no leak across sequences).
  std::vector<int64_t> off{0, 2, 3};
  std::vector<float> r{0, 1, 3}, v{0.5f, 0.25f, 1}, a(3), ret(3);
  gae(off, r, v, 0.9, 0.0, a, ret);
  EXPECT_NEAR(a[0], 0 + 0.9 * 0.25 - 0.5, 1e-7);
  EXPECT_NEAR(a[1], 1 - 0.25, 1e-7);
  EXPECT_NEAR(a[2], 3 - 1, 1e-7);
  EXPECT_NEAR(ret[0], a[0] + 0.5, 1e-7);
}

TEST(PpoValueLoss, FiniteDifferences_N9) {
  auto v = randn(9, 11), vo = randn(9, 12), R = randn(9, 13);
  std::vector<float> d(9);
  value_loss(v, vo, R, 0.3, d);
  std::vector<float> s(9);
  check_directional("value_loss", v, d, [&] { return value_loss(v, vo, R, 0.3, s).loss; }, 4, 1e-3, 1e-2, 1e-6);
}

TEST(PpoValueLoss, Hand_ClippedTermWins_N1) {
  // V_old = 0, V = 1, R = 2, ε = 0.2: V_clip = 0.2; (V−R)² = 1 < (V_clip−R)² = 3.24 ⇒ loss 1.62, no gradient.
  std::vector<float> d(1);
  auto o = value_loss(std::vector<float>{1}, std::vector<float>{0}, std::vector<float>{2}, 0.2, d);
  EXPECT_NEAR(o.loss, 1.62, 1e-6);
  EXPECT_EQ(o.clip_frac, 1);
  EXPECT_EQ(d[0], 0.f);
}

TEST(PpoWhiten, ZeroMeanUnitSampleStd_N5) {
  std::vector<float> x{1, 2, 3, 4, 10};
  whiten(x);
  double m = 0, ss = 0;
  for (float e : x) m += e;
  m /= 5;
  for (float e : x) ss += (e - m) * (e - m);
  EXPECT_NEAR(m, 0, 1e-7);
  EXPECT_NEAR(std::sqrt(ss / 4), 1, 1e-6);
  std::vector<float> one{1};
  EXPECT_THROW(whiten(one), Error);
}

// Regression: equal rewards with a small KL term differ only by float rounding (~1e-7); whitening divided that
// noise by its own std and gave the policy ±1 advantages out of nothing. They are zero now; a real spread of the
// same magnitude relative to zero-mean values is still whitened.
TEST(PpoWhiten, RoundingNoiseGivesZeroAdvantages_RealSpreadStillWhitened) {
  std::vector<float> x{0.5f, 0.5f + 6e-8f, 0.5f - 6e-8f, 0.5f, 0.5f + 6e-8f};
  whiten(x);
  for (float e : x) EXPECT_EQ(e, 0.f);
  std::vector<float> y{1e-3f, -1e-3f, 2e-3f, 0.f};   // small, zero-mean: the whole signal
  whiten(y);
  EXPECT_NEAR(y[2], 1.161886, 1e-4);
}

TEST(PpoErrors, BadShapesThrow) {
  std::vector<int64_t> off{0, 2};
  std::vector<float> r{0, 1}, v{0}, a(2), ret(2);
  EXPECT_THROW(gae(off, r, v, 1, 1, a, ret), Error);
  EXPECT_THROW(gae(off, r, r, 1.5, 1, a, ret), Error);
  EXPECT_THROW(ppo_token_rewards(off, std::vector<float>{1, 2}, {}, {}, 0), Error);
  EXPECT_THROW(ppo_token_rewards(off, std::vector<float>{1}, {}, {}, 0.1), Error);  // KL needs log-probs
}

}  // namespace nanoseek
