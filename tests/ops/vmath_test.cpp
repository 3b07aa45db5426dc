// exp_sum_f32 (ops/vmath.h) on every instruction set this CPU has: each value within 2 ulp of exp in double over
// the whole float range (a dense sweep of [−87.3, 88.3] plus random points), the documented edges (0 below −87.3,
// +inf above 88.3, NaN kept), the double sum, scale and shift, in-place use, and every tail length.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ops/vmath.h"

namespace nanoseek {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> v = {Isa::Scalar};
  if (best_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
  if (best_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
  return v;
}

// |got − want| in units of float's spacing at want
double ulps(float got, double want) {
  const double spacing = std::ldexp(1.0, std::ilogb(float(want)) - 23);
  return std::fabs(double(got) - want) / spacing;
}

TEST(Vmath, ExpWithin2UlpOverTheWholeRange) {
  std::vector<float> x;
  for (double v = -87.33; v <= 88.37; v += 0.0007) x.push_back(float(v));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-87.3f, 88.3f);
  for (int i = 0; i < 100000; ++i) x.push_back(u(rng));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 0.5f, -0.5f, 0.34657359f, -0.34657359f}) x.push_back(v);
  for (Isa isa : isas()) {
    std::vector<float> y(x.size());
    const double s = exp_sum_f32(y.data(), x.data(), int64_t(x.size()), 0.f, 1.f, isa);
    double worst = 0, ref_sum = 0;
    size_t wi = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(double(x[i]));
      ref_sum += double(float(want));
      const double e = ulps(y[i], want);
      if (e > worst) worst = e, wi = i;
    }
    EXPECT_LE(worst, 2.0) << isa_name(isa) << ": exp(" << x[wi] << ") = " << y[wi] << ", want " << std::exp(double(x[wi]));
    EXPECT_NEAR(s / ref_sum, 1.0, 1e-7) << isa_name(isa);
  }
}

TEST(Vmath, EdgesShiftScaleInPlaceAndEveryTail) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (Isa isa : isas()) {
    SCOPED_TRACE(isa_name(isa));
    std::vector<float> e = {-1000.f, -87.4f, -inf, 88.5f, 1000.f, inf, nan}, ye(e.size());
    exp_sum_f32(ye.data(), e.data(), int64_t(e.size()), 0.f, 1.f, isa);
    EXPECT_EQ(ye[0], 0.f);
    EXPECT_EQ(ye[1], 0.f);
    EXPECT_EQ(ye[2], 0.f);
    EXPECT_EQ(ye[3], inf);
    EXPECT_EQ(ye[4], inf);
    EXPECT_EQ(ye[5], inf);
    EXPECT_TRUE(std::isnan(ye[6]));
    for (int64_t n = 0; n <= 40; ++n) {
      std::vector<float> x(size_t(n) + 1, 123.f);   // one element past n must stay untouched
      for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(i % 7) * 0.25f - 1.f;
      const std::vector<float> x0 = x;
      double want = 0;
      for (int64_t i = 0; i < n; ++i) want += std::exp(double(x0[size_t(i)]) - 0.5);
      const double s = exp_sum_f32(x.data(), x.data(), n, 0.5f, 3.f, isa);   // in place
      EXPECT_NEAR(s, want, 1e-6 * std::max(1.0, want)) << "n " << n;
      for (int64_t i = 0; i < n; ++i)
        EXPECT_NEAR(x[size_t(i)], 3.0 * std::exp(double(x0[size_t(i)]) - 0.5), 1e-6) << "n " << n << " i " << i;
      EXPECT_EQ(x[size_t(n)], 123.f) << "wrote past n = " << n;
      EXPECT_NEAR(exp_sum_f32(nullptr, x0.data(), n, 0.5f, 1.f, isa), want, 1e-6 * std::max(1.0, want));
    }
  }
}

}  // namespace
}  // namespace nanoseek
