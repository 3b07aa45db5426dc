// Size sweeps across the OpenMP threshold (kParallelWork = 65536, core/parallel.h) for the dense ops: linear and
// gemm, rmsnorm, rope (interleaved, with and without YaRN), rope_half, swiglu, cross-entropy. Attention and the MoE
// router are in ops_sweep_attn_router_test.cpp.
//
// Every case:
//  * compares against a plain double-precision reference written here (independent of src/ops);
//  * uses odd, misaligned lengths, and strides larger than widths wherever the API takes a stride;
//  * runs with 1 and 2 OpenMP threads and checks the two agree (see expect_threads_agree for why not bitwise);
//  * guards every output with sentinel pads (sweep_util.h); OVERWRITE outputs start as NaN, ACCUMULATE outputs
//    start from nonzero values that the reference adds to.
// Case names carry the shapes. The cases marked "par" in the tables are at or above the op's own
// worth_parallel(...) work estimate, "ser" below; OpsSweepCoverage checks each family has both.
//
// Tolerances are normalized errors (max |got − ref| / max |ref|, sweep_util.h); u = 2^-24 ≈ 6e-8 is the fp32 unit
// roundoff. Each is justified where it is defined.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "ops/cross_entropy.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/rope_half.h"
#include "ops/swiglu.h"
#include "sweep_util.h"

namespace nanoseek {
namespace {
using namespace sweep;

// ---------------------------------------------------------------------------------------------------------------
// linear_forward / linear_backward_input / linear_backward_weight (OpenBLAS, which has no loop of ours: it threads
// internally once M·N·K exceeds SMP_THRESHOLD_MIN·GEMM_MULTITHREAD_THRESHOLD = 65536·4 in a default build).

// Dot products of K ≤ 257 fp32 terms. Rounding errors of random sign grow like √K·u relative to Σ|a·b| (the
// worst-case K·u ≈ 1.5e-5 needs every rounding to go the same way, which random inputs do not do); observed
// ≤ 5.3e-7 normalized over this sweep. 5e-6 is ~10× that; a missed, doubled or misindexed term of these O(1)
// random inputs moves the result by ≥ 1e-2 of max|y|.
constexpr double kGemmTol = 5e-6;

struct LinearCase {
  int64_t N, I, O;
};
std::string linear_name(const testing::TestParamInfo<LinearCase>& p) {
  return fmt::format("N{}_I{}_O{}", p.param.N, p.param.I, p.param.O);
}
class LinearSweep : public testing::TestWithParam<LinearCase> {};
// N·I·O: 1..2.2k, then 71k/72k (above kParallelWork), then 540k..1.1M (above OpenBLAS's default 262144 too).
const std::vector<LinearCase> kLinearCases = {
    {1, 1, 1},    {3, 7, 17},   {7, 3, 1},     {1, 129, 33},  {33, 17, 3},
    {0, 7, 3},     // no rows: y, dx empty; dW += nothing (gemm's K = 0 path, beta 1)
    {5, 0, 3},     // no input features: y = 0 (gemm's K = 0 path, beta 0)
    {17, 33, 127}, {33, 129, 17}, {129, 127, 33}, {127, 33, 129}, {257, 129, 33}};

TEST_P(LinearSweep, ForwardInputGradWeightGrad) {
  const auto [N, I, O] = GetParam();
  const auto x = randn(N * I, 101), W = randn(O * I, 102), dy = randn(N * O, 103);
  const auto dx0 = randn(N * I, 104, 0.5), dW0 = randn(O * I, 105, 0.5);
  std::vector<double> y_ref(N * O), dx_ref = to_double(dx0), dW_ref = to_double(dW0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double s = 0;
      for (int64_t i = 0; i < I; ++i) s += double(x[n * I + i]) * W[o * I + i];
      y_ref[n * O + o] = s;
    }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < I; ++i) {
      double s = 0;
      for (int64_t o = 0; o < O; ++o) s += double(dy[n * O + o]) * W[o * I + i];
      dx_ref[n * I + i] += s;
    }
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) s += double(dy[n * O + o]) * x[n * I + i];
      dW_ref[o * I + i] += s;
    }

  std::vector<float> y[2], dx[2], dW[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> gx(x, kInNaN), gW(W, kInNaN), gdy(dy, kInNaN);
    Guarded<float> gy(N * O, kOutNaN), gdx(dx0, kAccPad), gdW(dW0, kAccPad);
    linear_forward(gy.data(), gx.data(), gW.data(), N, I, O);
    linear_backward_input(gdx.data(), gdy.data(), gW.data(), N, I, O);
    linear_backward_weight(gdW.data(), gdy.data(), gx.data(), N, I, O);
    expect_pads("y", gy);
    expect_pads("dx", gdx);
    expect_pads("dW", gdW);
    y[t] = gy.payload(), dx[t] = gdx.payload(), dW[t] = gdW.payload();
    expect_close("y", y[t], y_ref, kGemmTol);
    expect_close("dx (accumulated onto nonzero)", dx[t], dx_ref, kGemmTol);
    expect_close("dW (accumulated onto nonzero)", dW[t], dW_ref, kGemmTol);
  }
  expect_threads_agree("y", y[0], y[1], kGemmTol);
  expect_threads_agree("dx", dx[0], dx[1], kGemmTol);
  expect_threads_agree("dW", dW[0], dW[1], kGemmTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, LinearSweep, testing::ValuesIn(kLinearCases), linear_name);

// gemm: C[M,N] = alpha·op(A)·op(B) + beta·C with leading dimensions larger than the widths.
struct GemmCase {
  bool tA, tB;
  int64_t M, N, K, padA, padB, padC;
  float alpha, beta;
};
std::string gemm_name(const testing::TestParamInfo<GemmCase>& p) {
  const GemmCase& c = p.param;
  auto f = [](float v) {  // 0.25 -> "0p25", -1.5 -> "m1p5"
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    for (auto& ch : s) ch = ch == '.' ? 'p' : ch == '-' ? 'm' : ch;
    return s;
  };
  // Leading dimensions as given to gemm (stored width + pad).
  const int64_t lda = (c.tA ? c.M : c.K) + c.padA, ldb = (c.tB ? c.K : c.N) + c.padB, ldc = c.N + c.padC;
  return fmt::format("{}{}_M{}_N{}_K{}_lda{}_ldb{}_ldc{}_alpha{}_beta{}", c.tA ? "T" : "N", c.tB ? "T" : "N", c.M, c.N,
                     c.K, lda, ldb, ldc, f(c.alpha), f(c.beta));
}
class GemmSweep : public testing::TestWithParam<GemmCase> {};
const std::vector<GemmCase> kGemmCases = {
    {false, false, 1, 1, 1, 0, 0, 0, 1.f, 0.f},      {false, true, 3, 7, 17, 1, 2, 3, 0.5f, 0.f},
    {true, false, 17, 33, 7, 5, 0, 1, 1.f, 1.f},     {true, true, 33, 17, 129, 3, 3, 3, -1.5f, 0.25f},
    {false, true, 129, 127, 33, 7, 1, 2, 1.f, 0.f},  // 540k multiply-adds: above OpenBLAS's threading threshold
    {true, false, 127, 129, 65, 1, 7, 5, 1.f, 1.f},  // 1.06M
    {true, true, 65, 257, 33, 2, 1, 9, 0.75f, -1.f},  // 551k
    {false, false, 3, 7, 0, 1, 1, 2, 1.f, 0.f},       // K = 0: C = 0 (gemm's own path, not BLAS)
    {false, false, 3, 7, 0, 1, 1, 2, 1.f, 0.5f},      // K = 0: C = beta·C
    {false, false, 0, 7, 5, 1, 1, 2, 1.f, 1.f}};      // M = 0: no-op

TEST_P(GemmSweep, StridedMatchesReference) {
  const GemmCase c = GetParam();
  const int64_t M = c.M, N = c.N, K = c.K;
  // Stored shapes: A is [M,K] (or [K,M] transposed), B is [K,N] (or [N,K]); ld = stored width + pad.
  const int64_t a_rows = c.tA ? K : M, a_cols = c.tA ? M : K, lda = a_cols + c.padA;
  const int64_t b_rows = c.tB ? N : K, b_cols = c.tB ? K : N, ldb = b_cols + c.padB;
  const int64_t ldc = N + c.padC;
  // Gaps between rows: NaN in the inputs (a read poisons C), kAccPad in C (an update there shows).
  std::vector<float> A(a_rows * lda, bits_to_float(kInNaN)), B(b_rows * ldb, bits_to_float(kInNaN));
  {
    const auto a = randn(a_rows * a_cols, 201), b = randn(b_rows * b_cols, 202);
    for (int64_t r = 0; r < a_rows; ++r)
      for (int64_t q = 0; q < a_cols; ++q) A[r * lda + q] = a[r * a_cols + q];
    for (int64_t r = 0; r < b_rows; ++r)
      for (int64_t q = 0; q < b_cols; ++q) B[r * ldb + q] = b[r * b_cols + q];
  }
  // beta == 0: C starts as NaN (BLAS must not read it: 0·NaN would be NaN). Otherwise random values.
  std::vector<float> C0(M * ldc, bits_to_float(kAccPad));
  const auto c0 = randn(M * N, 203);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C0[i * ldc + j] = c.beta == 0.f ? bits_to_float(kOutNaN) : c0[i * N + j];
  std::vector<double> ref(M * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += double(c.tA ? A[k * lda + i] : A[i * lda + k]) * (c.tB ? B[j * ldb + k] : B[k * ldb + j]);
      ref[i * N + j] = double(c.alpha) * s + (c.beta == 0.f ? 0.0 : double(c.beta) * c0[i * N + j]);
    }

  std::vector<float> out[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> gA(A, kInNaN), gB(B, kInNaN), gC(C0, kAccPad);
    gemm(c.tA, c.tB, M, N, K, c.alpha, gA.data(), lda, gB.data(), ldb, c.beta, gC.data(), ldc);
    expect_pads("C", gC);
    out[t].resize(M * N);
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) out[t][i * N + j] = gC[i * ldc + j];
      for (int64_t j = N; j < ldc; ++j)
        ASSERT_TRUE(same_bits(gC[i * ldc + j], C0[i * ldc + j])) << "C gap written at row " << i << " col " << j;
    }
    // alpha·Σ scales the dot-product error by |alpha|; beta·C adds one rounding. Same bound as linear.
    expect_close("C", out[t], ref, kGemmTol);
  }
  expect_threads_agree("C", out[0], out[1], kGemmTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, GemmSweep, testing::ValuesIn(kGemmCases), gemm_name);

// ---------------------------------------------------------------------------------------------------------------
// rmsnorm_forward / rmsnorm_backward, x a strided view.

// Forward: the sum of squares is in double; rstd is rounded to float once and y = x·r·g takes two float multiplies:
// ≤ 3u ≈ 1.8e-7 relative per element (observed 9.3e-8). 1e-6 gives ~5× over the bound; a wrong row/stride is O(1).
constexpr double kRmsFwdTol = 1e-6;
// Backward: dx = r·g·dy − x·k is a difference of float terms (normalized by max |dx| it stays ~10u); dg sums N ≤ 257
// float terms per column in per-thread float partials, random-sign growth ~√N·u ≈ 1e-6 of Σ|term|. Observed ≤ 4.1e-7
// (dg) and 1.3e-7 (dx); 4e-6 is ~10× the larger. A lost thread partial or a missing row is ≥ 1e-3.
constexpr double kRmsBwdTol = 4e-6;

struct RmsCase {
  int64_t N, C, stride;
};
std::string rms_name(const testing::TestParamInfo<RmsCase>& p) {
  return fmt::format("N{}_C{}_stride{}", p.param.N, p.param.C, p.param.stride);
}
class RmsNormSweep : public testing::TestWithParam<RmsCase> {};
// Work estimates: forward N·C·4, backward N·C·8 ("ser"/"par": below/at-or-above kParallelWork).
const std::vector<RmsCase> kRmsCases = {
    {1, 1, 1},     {3, 7, 7}, {7, 3, 9}, {17, 33, 40}, {1, 129, 129},
    {33, 127, 130},     // ser/ser: 16764 / 33528
    {129, 127, 127},    // fwd ser at 65532 (just below), bwd par 131064
    {128, 128, 131},    // fwd par at exactly 65536, bwd par
    {257, 129, 133},    // par/par
    {1, 16411, 16417}};  // par/par with a single row: the second thread gets no rows

TEST_P(RmsNormSweep, ForwardBackwardStrided) {
  const auto [N, C, XS] = GetParam();
  const float eps = 1e-6f;
  // x [N, XS]: the view's C columns random, the gap columns NaN (must never be read).
  std::vector<float> x(N * XS, bits_to_float(kInNaN));
  {
    const auto v = randn(N * C, 301);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) x[n * XS + c] = v[n * C + c];
  }
  const auto g = randn(C, 302), dy = randn(N * C, 303), dg0 = randn(C, 305, 0.5);
  // dx [N, XS] accumulates on the view: starts random there, kAccPad in the gaps (must stay untouched).
  std::vector<float> dx0(N * XS, bits_to_float(kAccPad));
  {
    const auto v = randn(N * C, 304, 0.5);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) dx0[n * XS + c] = v[n * C + c];
  }
  std::vector<double> y_ref(N * C), rstd_ref(N), dx_ref(N * C), dg_ref = to_double(dg0);
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = &x[n * XS];
    double ss = 0, dot = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(xr[c]) * xr[c];
    const double r = 1.0 / std::sqrt(ss / double(C) + eps);
    rstd_ref[n] = r;
    for (int64_t c = 0; c < C; ++c) {
      y_ref[n * C + c] = xr[c] * r * g[c];
      dot += double(dy[n * C + c]) * g[c] * xr[c];
    }
    for (int64_t c = 0; c < C; ++c) {
      dx_ref[n * C + c] = dx0[n * XS + c] + r * g[c] * dy[n * C + c] - xr[c] * r * r * r / double(C) * dot;
      dg_ref[c] += double(dy[n * C + c]) * xr[c] * r;
    }
  }

  std::vector<float> y[2], rstd[2], dx[2], dg[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> gx(x, kInNaN), gg(g, kInNaN), gdy(dy, kInNaN);
    Guarded<float> gy(N * C, kOutNaN), grstd(N, kOutNaN), gdx(dx0, kAccPad), gdg(dg0, kAccPad);
    rmsnorm_forward(gy.data(), grstd.data(), gx.data(), gg.data(), N, C, eps, XS);
    rmsnorm_backward(gdx.data(), gdg.data(), gdy.data(), gx.data(), gg.data(), grstd.data(), N, C, XS);
    expect_pads("y", gy);
    expect_pads("rstd", grstd);
    expect_pads("dx", gdx);
    expect_pads("dg", gdg);
    y[t] = gy.payload(), rstd[t] = grstd.payload(), dg[t] = gdg.payload();
    dx[t].resize(N * C);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = 0; c < C; ++c) dx[t][n * C + c] = gdx[n * XS + c];
      for (int64_t c = C; c < XS; ++c)
        ASSERT_TRUE(same_bits(gdx[n * XS + c], dx0[n * XS + c])) << "dx gap written at row " << n << " col " << c;
    }
    expect_close("y", y[t], y_ref, kRmsFwdTol);
    expect_close("rstd", rstd[t], rstd_ref, kRmsFwdTol);
    expect_close("dx (accumulated onto nonzero)", dx[t], dx_ref, kRmsBwdTol);
    expect_close("dg (accumulated onto nonzero)", dg[t], dg_ref, kRmsBwdTol);
  }
  expect_threads_agree("y", y[0], y[1], kRmsFwdTol);
  expect_threads_agree("rstd", rstd[0], rstd[1], kRmsFwdTol);
  expect_threads_agree("dx", dx[0], dx[1], kRmsBwdTol);
  expect_threads_agree("dg", dg[0], dg[1], kRmsBwdTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, RmsNormSweep, testing::ValuesIn(kRmsCases), rms_name);

// ---------------------------------------------------------------------------------------------------------------
// rope_forward / rope_backward: interleaved pairs, strided heads, optional YaRN table.

// Table entries are float(cos·f) (u relative), each output is a·c − b·s in float (≤ 2u of |a|+|b|): ≤ ~4u
// ≈ 2.4e-7 normalized (observed 9.6e-8). 1e-6 leaves ~4× over the bound; a wrong position, pair or sign is O(1).
constexpr double kRopeTol = 1e-6;

struct RopeCase {
  int64_t N, heads, R, head_stride, offset, stride;
  bool yarn;
  int64_t max_pos;
};
std::string rope_name(const testing::TestParamInfo<RopeCase>& p) {
  const RopeCase& c = p.param;
  return fmt::format("N{}_H{}_R{}_hstride{}_off{}_stride{}_{}_P{}", c.N, c.heads, c.R, c.head_stride, c.offset,
                     c.stride, c.yarn ? "yarn" : "plain", c.max_pos);
}
class RopeSweep : public testing::TestWithParam<RopeCase> {};
// {N, heads, R, head_stride, offset, stride, yarn, max_pos}; work estimate N·heads·R·3.
const std::vector<RopeCase> kRopeCases = {
    {1, 1, 2, 2, 0, 2, false, 1},       // one pair, position 0 only
    {3, 1, 4, 7, 3, 9, false, 17},      // k_pe-like single head, odd strides
    {7, 3, 8, 12, 4, 40, true, 33},     // q-like [N, H, nope + rope] with a row gap
    {17, 5, 16, 19, 3, 102, true, 129},
    {33, 17, 32, 35, 1, 17 * 35 + 3, false, 4099},      // ser 53856
    {127, 3, 64, 65, 1, 3 * 65 + 1, false, 4099},       // par 73152
    {129, 7, 64, 67, 3, 7 * 67 + 5, true, 8191},        // par 173376
    {1, 129, 256, 259, 3, 129 * 259 + 7, true, 4099}};  // par with a single row

// The YaRN frequency blend and attention factor written out again (HF DeepSeek-V3 yarn_find_correction_range /
// yarn_linear_ramp_mask / yarn_get_mscale), so the sweep also checks the table the op is given.
struct RefRope {
  std::vector<double> inv_freq;
  double factor = 1;
};
RefRope ref_rope(int64_t R, double base, const YarnScaling* y) {
  RefRope r;
  const int64_t half = R / 2;
  for (int64_t j = 0; j < half; ++j) r.inv_freq.push_back(1.0 / std::pow(base, double(2 * j) / double(R)));
  if (!y) return r;
  auto dim_for = [&](double rotations) {  // the dimension whose wavelength fits `rotations` times in the window
    return double(R) * std::log(double(y->original_max_position_embeddings) / (rotations * 2 * std::numbers::pi)) /
           (2 * std::log(base));
  };
  const double lo = std::max(0.0, std::floor(dim_for(y->beta_fast)));
  double hi = std::min(double(R - 1), std::ceil(dim_for(y->beta_slow)));
  if (hi == lo) hi += 0.001;
  for (int64_t j = 0; j < half; ++j) {
    const double ramp = std::min(1.0, std::max(0.0, (double(j) - lo) / (hi - lo)));  // 0: extrapolate, 1: interpolate
    r.inv_freq[j] = ramp * r.inv_freq[j] / y->factor + (1 - ramp) * r.inv_freq[j];
  }
  auto mscale = [&](double m) { return y->factor <= 1 ? 1.0 : 0.1 * m * std::log(y->factor) + 1.0; };
  r.factor = mscale(y->mscale) / mscale(y->mscale_all_dim);
  return r;
}

TEST_P(RopeSweep, ForwardBackwardInPlace) {
  const RopeCase c = GetParam();
  ASSERT_GE(c.head_stride, c.offset + c.R);
  ASSERT_GE(c.stride, c.heads * c.head_stride);
  const double theta = 10000;
  std::optional<YarnScaling> yarn;
  // factor 40 over a 4096 window as in DeepSeek-V3; mscale ≠ mscale_all_dim so the table carries a factor ≠ 1.
  if (c.yarn) yarn = YarnScaling{40.0, 32, 1, 1.0, 0.8, 4096};
  const RopeTable table = make_rope_table(c.R, theta, yarn, c.max_pos);
  const RefRope rr = ref_rope(c.R, theta, c.yarn ? &*yarn : nullptr);
  ASSERT_EQ(table.inv_freq.size(), rr.inv_freq.size());
  for (size_t j = 0; j < rr.inv_freq.size(); ++j)
    EXPECT_NEAR(table.inv_freq[j], rr.inv_freq[j], 1e-12 * rr.inv_freq[j]) << "inv_freq " << j;
  EXPECT_NEAR(table.attn_factor, rr.factor, 1e-12);
  if (c.yarn) {
    EXPECT_NE(rr.factor, 1.0);
  }

  // Positions: random, unsorted, repeated, with both ends of the table.
  std::vector<int32_t> pos(c.N);
  Rng rng(401);
  for (auto& p : pos) p = int32_t(rng.below(uint64_t(c.max_pos)));
  pos[0] = int32_t(c.max_pos - 1);
  if (c.N > 1) pos[c.N - 1] = 0;
  // The whole buffer random (the rope dims and everything the op must leave alone: nope dims, head and row gaps).
  const auto x0 = randn(c.N * c.stride, 402);
  std::vector<char> rotated(x0.size(), 0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t d = 0; d < c.R; ++d) rotated[n * c.stride + h * c.head_stride + c.offset + d] = 1;
  // Reference: forward rotates pair j by +pos·θ_j, backward (the transpose) by −pos·θ_j; both scaled by the factor.
  auto reference = [&](double sign) {
    std::vector<double> r = to_double(x0);
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t h = 0; h < c.heads; ++h)
        for (int64_t j = 0; j < c.R / 2; ++j) {
          const int64_t i = n * c.stride + h * c.head_stride + c.offset + 2 * j;
          const double a = x0[i], b = x0[i + 1], ang = sign * double(pos[n]) * rr.inv_freq[j];
          r[i] = rr.factor * (a * std::cos(ang) - b * std::sin(ang));
          r[i + 1] = rr.factor * (a * std::sin(ang) + b * std::cos(ang));
        }
    return r;
  };
  const std::vector<double> fwd_ref = reference(+1), bwd_ref = reference(-1);

  std::vector<float> fwd[2], bwd[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<int32_t> gpos(pos, kInNaN);
    Guarded<float> gf(x0, kAccPad), gb(x0, kAccPad);
    rope_forward(gf.data(), gpos.data(), c.N, c.heads, c.stride, c.head_stride, c.offset, table);
    rope_backward(gb.data(), gpos.data(), c.N, c.heads, c.stride, c.head_stride, c.offset, table);
    expect_pads("x (forward)", gf);
    expect_pads("dx (backward)", gb);
    fwd[t] = gf.payload(), bwd[t] = gb.payload();
    for (size_t i = 0; i < x0.size(); ++i)
      if (!rotated[i]) {
        ASSERT_TRUE(same_bits(fwd[t][i], x0[i])) << "forward wrote outside the rope dims at " << i;
        ASSERT_TRUE(same_bits(bwd[t][i], x0[i])) << "backward wrote outside the rope dims at " << i;
      }
    expect_close("forward", fwd[t], fwd_ref, kRopeTol);
    expect_close("backward", bwd[t], bwd_ref, kRopeTol);
  }
  expect_threads_agree("forward", fwd[0], fwd[1], kRopeTol);
  expect_threads_agree("backward", bwd[0], bwd[1], kRopeTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, RopeSweep, testing::ValuesIn(kRopeCases), rope_name);

// ---------------------------------------------------------------------------------------------------------------
// rope_half_forward / rope_half_backward ("rotate_half" pairs i, i + D/2), contiguous [N, nh, D], in place.

// Same arithmetic as rope (float table, two products and a sum per output): 1e-6 as there.
constexpr double kRopeHalfTol = 1e-6;

struct RopeHalfCase {
  int64_t N, nh, D, max_pos;
  double base;
};
std::string rope_half_name(const testing::TestParamInfo<RopeHalfCase>& p) {
  const RopeHalfCase& c = p.param;
  return fmt::format("N{}_nh{}_D{}_P{}_base{}", c.N, c.nh, c.D, c.max_pos, int64_t(c.base));
}
class RopeHalfSweep : public testing::TestWithParam<RopeHalfCase> {};
// {N, nh, D, max_pos, base}; work estimate N·nh·D. D/2 odd in most (6, 34, 130, 21846).
const std::vector<RopeHalfCase> kRopeHalfCases = {
    {1, 1, 2, 1, 10000},    {3, 5, 6, 7, 10000},       {17, 3, 34, 129, 1e6},
    {33, 7, 130, 4099, 10000},   // ser 30030
    {127, 17, 34, 8191, 1e6},    // par 73406
    {129, 7, 130, 4099, 10000},  // par 117390
    {1, 3, 21846, 33, 10000}};   // par 65538 with a single row

TEST_P(RopeHalfSweep, ForwardBackwardInPlace) {
  const RopeHalfCase c = GetParam();
  const int64_t h = c.D / 2;
  const RopeHalfTable table = make_rope_half_table(c.D, c.max_pos, c.base);
  std::vector<int32_t> pos(c.N);
  Rng rng(501);
  for (auto& p : pos) p = int32_t(rng.below(uint64_t(c.max_pos)));
  pos[0] = int32_t(c.max_pos - 1);
  const auto x0 = randn(c.N * c.nh * c.D, 502);
  auto reference = [&](double sign) {
    std::vector<double> r(x0.size());
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t k = 0; k < c.nh; ++k)
        for (int64_t i = 0; i < h; ++i) {
          const int64_t at = (n * c.nh + k) * c.D + i;
          const double ang = sign * double(pos[n]) * std::pow(c.base, -double(2 * i) / double(c.D));
          const double a = x0[at], b = x0[at + h];
          r[at] = a * std::cos(ang) - b * std::sin(ang);
          r[at + h] = b * std::cos(ang) + a * std::sin(ang);
        }
    return r;
  };
  const std::vector<double> fwd_ref = reference(+1), bwd_ref = reference(-1);

  std::vector<float> fwd[2], bwd[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<int32_t> gpos(pos, kInNaN);
    Guarded<float> gf(x0, kAccPad), gb(x0, kAccPad);
    rope_half_forward(gf.data(), gpos.data(), c.N, c.nh, table);
    rope_half_backward(gb.data(), gpos.data(), c.N, c.nh, table);
    expect_pads("x (forward)", gf);
    expect_pads("dx (backward)", gb);
    fwd[t] = gf.payload(), bwd[t] = gb.payload();
    expect_close("forward", fwd[t], fwd_ref, kRopeHalfTol);
    expect_close("backward", bwd[t], bwd_ref, kRopeHalfTol);
  }
  expect_threads_agree("forward", fwd[0], fwd[1], kRopeHalfTol);
  expect_threads_agree("backward", bwd[0], bwd[1], kRopeHalfTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, RopeHalfSweep, testing::ValuesIn(kRopeHalfCases), rope_half_name);

// ---------------------------------------------------------------------------------------------------------------
// swiglu_forward / swiglu_backward (element-wise; da, db OVERWRITE).

// σ(a) = 1/(1 + expf(−a)) carries ~3u (expf ≤ 1 ulp, an add, a divide); h = a·σ·b two more (observed 9e-8).
// da's factor 1 + a(1 − σ) takes σ's absolute error u times |a|: with |a| ≤ 16 (4σ of the N(0, 4²) inputs) that is
// ≤ 16u ≈ 1e-6 of the element (observed 4.6e-7 normalized). 2e-6 is twice that bound; a misindexed element is O(1).
constexpr double kSwigluTol = 2e-6;

class SwigluSweep : public testing::TestWithParam<int64_t> {};
// Work estimate n·8: 8191 is just below the threshold, 8192 exactly at it.
const std::vector<int64_t> kSwigluCases = {0, 1, 3, 7, 17, 33, 127, 129, 8191, 8192, 16411};

TEST_P(SwigluSweep, ForwardBackward) {
  const int64_t n = GetParam();
  // a spans ±12 (σ saturates at both ends), b and dh O(1).
  const auto a = randn(n, 601, 4.0), b = randn(n, 602), dh = randn(n, 603);
  std::vector<double> h_ref(n), da_ref(n), db_ref(n);
  for (int64_t i = 0; i < n; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-double(a[i])));
    h_ref[i] = a[i] * s * b[i];
    db_ref[i] = double(dh[i]) * a[i] * s;
    da_ref[i] = double(dh[i]) * b[i] * (s + a[i] * s * (1 - s));
  }
  std::vector<float> h[2], da[2], db[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> ga(a, kInNaN), gb(b, kInNaN), gdh(dh, kInNaN);
    Guarded<float> gh(n, kOutNaN), gda(n, kOutNaN), gdb(n, kOutNaN);
    swiglu_forward(gh.data(), ga.data(), gb.data(), size_t(n));
    swiglu_backward(gda.data(), gdb.data(), gdh.data(), ga.data(), gb.data(), size_t(n));
    expect_pads("h", gh);
    expect_pads("da", gda);
    expect_pads("db", gdb);
    h[t] = gh.payload(), da[t] = gda.payload(), db[t] = gdb.payload();
    expect_close("h", h[t], h_ref, kSwigluTol);
    expect_close("da (overwrite)", da[t], da_ref, kSwigluTol);
    expect_close("db (overwrite)", db[t], db_ref, kSwigluTol);
  }
  expect_threads_agree("h", h[0], h[1], kSwigluTol);
  expect_threads_agree("da", da[0], da[1], kSwigluTol);
  expect_threads_agree("db", db[0], db[1], kSwigluTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, SwigluSweep, testing::ValuesIn(kSwigluCases),
                         [](const testing::TestParamInfo<int64_t>& p) { return fmt::format("n{}", p.param); });

// ---------------------------------------------------------------------------------------------------------------
// cross_entropy_forward / cross_entropy_backward / token_logprobs.

// The log-sum-exp is in double but each exponent x − max is a float subtraction (≤ u·|x − max|, ~1e-6 absolute
// for these ±15 logits); the row loss is rounded to float once. Normalized by max|loss| (or max|dlogits|) that is
// ≤ ~1e-7, observed ≤ 6e-8. 1e-6 leaves margin; a wrong row or target gives O(1).
constexpr double kCeTol = 1e-6;
// loss_sum: Σ of float-rounded row losses, in double: relative error ≤ u. Same 1e-6.

struct CeCase {
  int64_t N, V;
  bool row_scale, alias;
};
std::string ce_name(const testing::TestParamInfo<CeCase>& p) {
  const CeCase& c = p.param;
  return fmt::format("N{}_V{}{}{}", c.N, c.V, c.row_scale ? "_rowscale" : "", c.alias ? "_inplace" : "");
}
class CrossEntropySweep : public testing::TestWithParam<CeCase> {};
// {N, V, row_scale, in place}; work estimate N·V for all three loops.
const std::vector<CeCase> kCeCases = {
    {1, 1, false, false},    {3, 7, true, false}, {7, 17, false, true}, {17, 33, true, true},
    {33, 127, false, false},   // ser 4191
    {129, 507, true, false},   // ser 65403 (just below)
    {129, 513, false, false},  // par 66177
    {127, 1031, true, true},   // par 130937, in place
    {257, 257, true, false},   // par 66049
    {1, 65537, false, false}};  // par with a single row

TEST_P(CrossEntropySweep, ForwardBackwardLogprobs) {
  const auto [N, V, use_row_scale, alias] = GetParam();
  const auto logits = randn(N * V, 701, 3.0);
  const auto row_scale = randn(N, 702);  // signed: a per-token objective can push either way
  const float grad_scale = 0.37f;
  std::vector<int32_t> tgt(N);
  Rng rng(703);
  for (int64_t n = 0; n < N; ++n) {
    const uint64_t r = rng.below(8);
    tgt[n] = r == 0 ? -1 : r == 1 ? -100 : int32_t(rng.below(uint64_t(V)));  // ~1/4 ignored, two spellings
  }
  tgt[0] = 0;
  if (N > 1) tgt[N - 1] = int32_t(V - 1);
  if (N > 2) tgt[N / 2] = -1;

  std::vector<double> loss_ref(N, 0.0), lp_ref(N, 0.0), d_ref(N * V, 0.0);
  double sum_ref = 0;
  int64_t count_ref = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (tgt[n] < 0) continue;
    const float* x = &logits[n * V];
    double m = x[0], s = 0;
    for (int64_t v = 1; v < V; ++v) m = std::max(m, double(x[v]));
    for (int64_t v = 0; v < V; ++v) s += std::exp(double(x[v]) - m);
    const double lse = m + std::log(s);
    loss_ref[n] = lse - x[tgt[n]];
    lp_ref[n] = x[tgt[n]] - lse;
    sum_ref += loss_ref[n];
    ++count_ref;
    const double gs = double(grad_scale) * (use_row_scale ? double(row_scale[n]) : 1.0);
    for (int64_t v = 0; v < V; ++v) d_ref[n * V + v] = gs * (std::exp(double(x[v]) - lse) - (v == tgt[n] ? 1 : 0));
  }

  std::vector<float> loss[2], lp[2], d[2];
  double sums[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> gx(logits, kInNaN), grs(row_scale, kInNaN);
    Guarded<int32_t> gt(tgt, kInNaN);
    Guarded<float> gloss(N, kOutNaN), glp(N, kOutNaN);
    const CeResult r = cross_entropy_forward(gx.data(), gt.data(), N, V, gloss.data());
    const CeResult r_null = cross_entropy_forward(gx.data(), gt.data(), N, V, nullptr);
    token_logprobs(glp.data(), gx.data(), gt.data(), N, V);
    EXPECT_EQ(r.count, count_ref);
    EXPECT_LE(std::fabs(r.loss_sum - sum_ref), kCeTol * std::max(1.0, std::fabs(sum_ref))) << r.loss_sum;
    EXPECT_EQ(r_null.count, r.count);
    EXPECT_LE(std::fabs(r_null.loss_sum - r.loss_sum), kCeTol * std::max(1.0, std::fabs(sum_ref)));
    sums[t] = r.loss_sum;
    // Backward: into a fresh NaN buffer, or in place over a copy of the logits (the header allows aliasing).
    Guarded<float> gd = alias ? Guarded<float>(logits, kOutNaN) : Guarded<float>(N * V, kOutNaN);
    const float* src = alias ? gd.data() : gx.data();
    cross_entropy_backward(gd.data(), src, gt.data(), N, V, grad_scale, use_row_scale ? grs.data() : nullptr);
    expect_pads("row_loss", gloss);
    expect_pads("logprobs", glp);
    expect_pads("dlogits", gd);
    loss[t] = gloss.payload(), lp[t] = glp.payload(), d[t] = gd.payload();
    for (int64_t n = 0; n < N; ++n)
      if (tgt[n] < 0) {
        ASSERT_EQ(loss[t][n], 0.f) << "ignored row " << n;
        ASSERT_EQ(lp[t][n], 0.f) << "ignored row " << n;
        for (int64_t v = 0; v < V; ++v) ASSERT_EQ(d[t][n * V + v], 0.f) << "ignored row " << n;
      }
    expect_close("row_loss", loss[t], loss_ref, kCeTol);
    expect_close("token_logprobs", lp[t], lp_ref, kCeTol);
    expect_close("dlogits (overwrite)", d[t], d_ref, kCeTol);
  }
  EXPECT_LE(std::fabs(sums[0] - sums[1]), kCeTol * std::max(1.0, std::fabs(sum_ref))) << "loss_sum by threads";
  expect_threads_agree("row_loss", loss[0], loss[1], kCeTol);
  expect_threads_agree("token_logprobs", lp[0], lp[1], kCeTol);
  expect_threads_agree("dlogits", d[0], d[1], kCeTol);
}

INSTANTIATE_TEST_SUITE_P(OpsSweep, CrossEntropySweep, testing::ValuesIn(kCeCases), ce_name);

// ---------------------------------------------------------------------------------------------------------------
// Coverage: every parallel loop of these families gets cases on both sides of its work estimate (the expressions
// inside the ops' `if (worth_parallel(...))`, repeated here), so editing a case table cannot silently drop a side.
template <class Case, class F>
bool straddles(const std::vector<Case>& cases, F work) {
  bool below = false, above = false;
  for (const Case& c : cases) (worth_parallel(work(c)) ? above : below) = true;
  return below && above;
}

TEST(OpsSweepCoverage, DenseCasesStraddleTheThreshold) {
  // linear has no loop of its own; OpenBLAS goes multi-threaded above 4·65536 multiply-adds.
  EXPECT_TRUE(straddles(kLinearCases, [](const LinearCase& c) { return c.N * c.I * c.O / 4; }));
  EXPECT_TRUE(straddles(kGemmCases, [](const GemmCase& c) { return c.M * c.N * c.K / 4; }));
  EXPECT_TRUE(straddles(kRmsCases, [](const RmsCase& c) { return c.N * c.C * 4; }));
  EXPECT_TRUE(straddles(kRmsCases, [](const RmsCase& c) { return c.N * c.C * 8; }));
  EXPECT_TRUE(straddles(kRopeCases, [](const RopeCase& c) { return c.N * c.heads * c.R * 3; }));
  EXPECT_TRUE(straddles(kRopeHalfCases, [](const RopeHalfCase& c) { return c.N * c.nh * c.D; }));
  EXPECT_TRUE(straddles(kSwigluCases, [](int64_t n) { return n * 8; }));
  EXPECT_TRUE(straddles(kCeCases, [](const CeCase& c) { return c.N * c.V; }));
}

// The sweeps only test a real split if omp_set_num_threads(2) yields a team of two (not, e.g., OMP_DYNAMIC
// shrinking it or OMP_THREAD_LIMIT=1).
TEST(OpsSweepCoverage, TwoThreadsReallyRun) {
  OmpThreads threads(2);
  int team = 0;
#pragma omp parallel
  {
#pragma omp single
    team = omp_get_num_threads();
  }
  EXPECT_EQ(team, 2);
}

}  // namespace
}  // namespace nanoseek
