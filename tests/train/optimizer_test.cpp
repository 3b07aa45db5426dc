// AdamW against the formula computed by hand in double, the decay policy from tensor roles, the
// thread-independent gradient norm, and the LR schedules at their corners.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>

#include "train/optimizer.h"
#include "train/schedule.h"
#include "model/weights.h"

namespace nanoseek {
namespace {

TensorLayout two_tensor_layout() {  // a [2,3] matrix, a [3] norm gain and a non-trainable [2] bias
  TensorLayout l;
  l.specs = {{"w", {2, 3}, Init::Normal, Role::Attn, 0, true},
             {"norm", {3}, Init::Ones, Role::Norm, 0, true},
             {"bias", {2}, Init::Zeros, Role::RouterBias, 0, false}};
  l.offsets = {0, 6, 9};
  l.total = 11;
  return l;
}

TEST(AdamW, TwoStepsMatchFormula_w2x3_norm3) {
  const TensorLayout l = two_tensor_layout();
  AdamWConfig c{0.9, 0.95, 1e-8, 0.1};
  AdamW opt(trainable_spans(l), l.total, c);
  std::vector<float> p(11), g(11);
  for (int i = 0; i < 11; ++i) p[i] = 0.1f * float(i) - 0.4f;
  std::vector<double> P(p.begin(), p.end()), M(11, 0), V(11, 0);
  const std::vector<float> p0 = p;
  for (int t = 1; t <= 2; ++t) {
    for (int i = 0; i < 11; ++i) g[i] = std::sin(float(i * t)) * 0.5f;
    opt.step(p.data(), g.data(), 1e-2);
    for (int i = 0; i < 9; ++i) {
      M[i] = 0.9 * M[i] + 0.1 * g[i];
      V[i] = 0.95 * V[i] + 0.05 * double(g[i]) * g[i];
      const double mh = M[i] / (1 - std::pow(0.9, t)), vh = V[i] / (1 - std::pow(0.95, t));
      const double wd = i < 6 ? 0.1 : 0.0;  // no decay on the norm gain
      P[i] -= 1e-2 * (mh / (std::sqrt(vh) + 1e-8) + wd * P[i]);
    }
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(p[i], P[i], 1e-6) << i;
  EXPECT_EQ(p[9], p0[9]);  // the router bias is not AdamW's to move
  EXPECT_EQ(p[10], p0[10]);
  EXPECT_EQ(opt.t, 2);
}

TEST(AdamW, GradNormAndScale_11elems) {
  const TensorLayout l = two_tensor_layout();
  AdamW opt(trainable_spans(l), l.total, {});
  std::vector<float> g(11, 0.f);
  for (int i = 0; i < 11; ++i) g[i] = float(i);
  double want = 0;
  for (int i = 0; i < 9; ++i) want += double(i) * i;  // trainable spans only
  EXPECT_DOUBLE_EQ(grad_norm(opt, g.data()), std::sqrt(want));
  scale_grads(opt, g.data(), 0.5f);
  EXPECT_EQ(g[4], 2.f);
  EXPECT_EQ(g[10], 10.f);
}

TEST(LrSchedule, CosineWsdConstantCorners_warmup10_total100) {
  LrSchedule s{LrKind::Cosine, 1.0, 0.1, 10, 100, 0.2};
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
  EXPECT_NEAR(s.at(55), 0.55, 1e-12);  // midpoint of the cosine
  EXPECT_NEAR(s.at(100), 0.1, 1e-12);
  s.kind = LrKind::Wsd;
  EXPECT_DOUBLE_EQ(s.at(50), 1.0);
  EXPECT_DOUBLE_EQ(s.at(80), 1.0);     // decay starts at 80
  EXPECT_NEAR(s.at(90), 0.55, 1e-12);
  EXPECT_NEAR(s.at(100), 0.1, 1e-12);
  s.kind = LrKind::Constant;
  EXPECT_DOUBLE_EQ(s.at(99), 1.0);
  EXPECT_THROW(parse_lr_kind("linear"), Error);
}

}  // namespace
}  // namespace nanoseek
