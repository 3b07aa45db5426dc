// The decode kernels (ops/gemv.h) on every instruction set this CPU has, fp32 and bf16 weights: against a double
// reference written here, against the scalar path, bitwise equal across thread counts (the header promises it),
// with misaligned guarded buffers (sweep_util.h), lengths around every vector width and tail, and sizes on both
// sides of the OpenMP threshold.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/gemv.h"
#include "ops/linear.h"
#include "sweep_util.h"

namespace nanoseek {
namespace {
using namespace sweep;

// Dot products of up to 1031 fp32 terms, summed in a different order by each path: random-sign rounding grows like
// √K·u relative to Σ|w·x| (≈ 2e-6 at K = 1031, u = 6e-8); observed ≤ 1.2e-6 normalized. 1e-5 is well above that
// and far below what a missed or doubled term of these O(1) inputs does (≥ 1e-2).
constexpr double kTol = 1e-5;

struct Case {
  int64_t n, I, O;
};
// I: below, at and past the 8- and 16-lane widths and their multiples; O: below, at and past the 4-row block.
// n·I·O ≥ 65536 (kParallelWork) from {2, 1031, 33} on.
const std::vector<Case> kCases = {{1, 1, 1},    {1, 7, 3},     {2, 8, 4},     {3, 15, 5},    {4, 16, 7},
                                  {1, 17, 9},   {2, 31, 1},    {3, 33, 17},   {4, 129, 33},  {5, 64, 12},
                                  {1, 0, 3},    {2, 1031, 33}, {1, 4096, 67}, {4, 257, 130}, {3, 1000, 64}};

uint16_t to_bf16(float f) {   // round to nearest even (the inputs are finite)
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
double from_bf16(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

std::vector<Isa> isas() {
  std::vector<Isa> v = {Isa::Scalar};
  if (best_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
  if (best_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
  return v;
}

class Gemv : public testing::TestWithParam<Case> {};

// gemv with strided x, y and W (ldx = I + 3, ldy = O + 2: the gaps must stay untouched; W rows ldw = I + 1 apart
// with NaN in the gaps, which must never be read), overwriting (y starts NaN) and accumulating (y starts nonzero);
// gemv_t over the same W seen as [K = O, N = I].
TEST_P(Gemv, EveryIsaMatchesReferenceScalarAndItselfAcrossThreads) {
  const auto [n, I, O] = GetParam();
  const int64_t ldx = I + 3, ldy = O + 2, ldt = I + 5;   // ldt: gemv_t's output stride (its N = I)
  const auto x = randn(n * ldx, 201), W = randn(O * I, 202), y0 = randn(n * ldy, 203, 0.5);
  const auto xt = randn(n * O, 204), yt0 = randn(n * ldt, 205, 0.5);
  std::vector<uint16_t> Wb(W.size());
  for (size_t i = 0; i < W.size(); ++i) Wb[i] = to_bf16(W[i]);
  const int64_t ldw = I + 1;
  std::vector<float> Ws(size_t(O * ldw), bits_to_float(kInNaN));
  std::vector<uint16_t> Wbs(size_t(O * ldw) + 2, 0x7FC1);   // bf16 NaN; +1: 2-byte aligned only
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < I; ++k) Ws[o * ldw + k] = W[o * I + k], Wbs[1 + o * ldw + k] = Wb[o * I + k];
  // references: y (overwrite), y_acc = y0 + y on the payload columns and y0 in the gaps; same for bf16 and gemv_t
  std::vector<double> ref(n * ldy), ref_acc(n * ldy), ref_b(n * ldy), ref_t(n * ldt), ref_t_acc(n * ldt),
      ref_tb(n * ldt);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t o = 0; o < ldy; ++o) {
      double s = 0, sb = 0;
      for (int64_t k = 0; o < O && k < I; ++k) {
        s += double(W[o * I + k]) * x[i * ldx + k];
        sb += from_bf16(Wb[o * I + k]) * x[i * ldx + k];
      }
      const bool gap = o >= O;
      ref[i * ldy + o] = gap ? std::nan("") : s;   // gaps of the overwrite output are not compared (pads are)
      ref_b[i * ldy + o] = gap ? std::nan("") : sb;
      ref_acc[i * ldy + o] = y0[i * ldy + o] + (gap ? 0 : s);
    }
    for (int64_t c = 0; c < ldt; ++c) {
      double s = 0, sb = 0;
      for (int64_t k = 0; c < I && k < O; ++k) {
        s += double(xt[i * O + k]) * W[k * I + c];
        sb += double(xt[i * O + k]) * from_bf16(Wb[k * I + c]);
      }
      ref_t[i * ldt + c] = c >= I ? std::nan("") : s;
      ref_tb[i * ldt + c] = c >= I ? std::nan("") : sb;
      ref_t_acc[i * ldt + c] = yt0[i * ldt + c] + (c >= I ? 0 : s);
    }
  }
  // compares the payload columns of an overwrite output (gaps hold whatever the caller had: NaN here)
  auto cols = [](const std::vector<float>& v, const std::vector<double>& r, std::vector<float>& got,
                 std::vector<double>& want) {
    got.clear(), want.clear();
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isnan(r[i])) got.push_back(v[i]), want.push_back(r[i]);
  };
  std::vector<float> base[6];
  for (Isa isa : isas()) {
    std::vector<float> got[2][6];
    for (int t = 0; t < 2; ++t) {
      SCOPED_TRACE(fmt::format("{} threads {}", isa_name(isa), kThreadCounts[t]));
      OmpThreads threads(kThreadCounts[t]);
      Guarded<float> gx(x, kInNaN), gW(Ws, kInNaN), gy(n * ldy, kOutNaN), gyb(n * ldy, kOutNaN), gya(y0, kAccPad);
      Guarded<float> gxt(xt, kInNaN), gyt(n * ldt, kOutNaN), gyta(yt0, kAccPad), gytb(n * ldt, kOutNaN);
      const uint16_t* wb = Wbs.data() + 1;
      gemv_f32(gy.data(), ldy, gx.data(), ldx, gW.data(), ldw, n, I, O, false, isa);
      gemv_bf16(gyb.data(), ldy, gx.data(), ldx, wb, ldw, n, I, O, false, isa);
      gemv_f32(gya.data(), ldy, gx.data(), ldx, gW.data(), ldw, n, I, O, true, isa);
      gemv_t_f32(gyt.data(), ldt, gxt.data(), O, gW.data(), ldw, n, O, I, false, isa);
      gemv_t_f32(gyta.data(), ldt, gxt.data(), O, gW.data(), ldw, n, O, I, true, isa);
      gemv_t_bf16(gytb.data(), ldt, gxt.data(), O, wb, ldw, n, O, I, false, isa);
      for (auto* g : {&gy, &gyb, &gya, &gyt, &gyta, &gytb}) expect_pads("y", *g);
      std::vector<float> gf, gb, gt, gtb;
      std::vector<double> rf, rb, rt, rtb;
      cols(gy.payload(), ref, gf, rf);
      cols(gyb.payload(), ref_b, gb, rb);
      cols(gyt.payload(), ref_t, gt, rt);
      cols(gytb.payload(), ref_tb, gtb, rtb);
      expect_close("gemv f32", gf, rf, kTol);
      expect_close("gemv bf16 weights", gb, rb, kTol);
      expect_close("gemv f32 accumulate (gaps untouched)", gya.payload(), ref_acc, kTol);
      expect_close("gemv_t", gt, rt, kTol);
      expect_close("gemv_t accumulate (gaps untouched)", gyta.payload(), ref_t_acc, kTol);
      expect_close("gemv_t bf16 weights", gtb, rtb, kTol);
      got[t][0] = gf, got[t][1] = gb, got[t][2] = gya.payload(), got[t][3] = gt, got[t][4] = gyta.payload();
      got[t][5] = gtb;
    }
    for (int k = 0; k < 6; ++k) {
      EXPECT_EQ(got[0][k], got[1][k]) << isa_name(isa) << " output " << k << " depends on the thread count";
      if (isa == Isa::Scalar) {
        base[k] = got[0][k];
      } else {
        const std::vector<double> sc(base[k].begin(), base[k].end());
        expect_close(fmt::format("{} vs scalar, output {}", isa_name(isa), k), got[0][k], sc, kTol);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Gemv, testing::ValuesIn(kCases), [](const testing::TestParamInfo<Case>& p) {
  return fmt::format("n{}_I{}_O{}{}", p.param.n, p.param.I, p.param.O,
                     worth_parallel(p.param.n * p.param.I * p.param.O) ? "_par" : "_ser");
});

// dot and axpy at every length around the vector widths and their unrolled steps.
TEST(GemvVec, DotAndAxpyMatchReferenceOnEveryIsa) {
  for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 160, 1001}) {
    const auto a = randn(n, 300 + n), b = randn(n, 400 + n), y0 = randn(n, 500 + n);
    double d = 0;
    std::vector<double> yr(n);
    for (int64_t k = 0; k < n; ++k) d += double(a[k]) * b[k], yr[k] = y0[k] + 0.75 * double(a[k]);
    for (Isa isa : isas()) {
      SCOPED_TRACE(fmt::format("{} n {}", isa_name(isa), n));
      Guarded<float> ga(a, kInNaN), gb(b, kInNaN), gy(y0, kAccPad);
      const float got = dot_f32(ga.data(), gb.data(), n, isa);
      EXPECT_LE(std::fabs(got - d), kTol * std::max(1.0, std::sqrt(double(n)))) << got << " vs " << d;
      axpy_f32(gy.data(), 0.75f, ga.data(), n, isa);
      expect_pads("axpy y", gy);
      expect_close("axpy", gy.payload(), yr, kTol);
    }
  }
}

TEST(GemvIsa, NamesTheDetectedInstructionSet) {
  const std::string name = isa_name(best_isa());
  EXPECT_TRUE(name == "scalar" || name == "avx2+fma" || name == "avx512f") << name;
  RecordProperty("isa", name);
}

}  // namespace
}  // namespace nanoseek

namespace nanoseek {
namespace {

// Bf16WeightScope (ops/linear.h): inside it, linear_forward on weights in the scope's buffer reads the bf16 copy
// (any row count); scopes nest and the enclosing one applies again when the inner ends; outside, fp32.
TEST(Bf16WeightScope, GemmReadsTheCopyAndScopesNest) {
  const int64_t N = 11, I = 33, O = 5;   // 11 rows: two chunks of the kernels
  const auto x = randn(N * I, 601), W = randn(O * I, 602);
  std::vector<uint16_t> Wb(W.size()), zero(W.size(), 0);
  for (size_t i = 0; i < W.size(); ++i) Wb[i] = to_bf16(W[i]);
  std::vector<double> ref(N * O), ref_b(N * O);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t k = 0; k < I; ++k) {
        ref[n * O + o] += double(W[o * I + k]) * x[n * I + k];
        ref_b[n * O + o] += from_bf16(Wb[o * I + k]) * x[n * I + k];
      }
  std::vector<float> y(N * O);
  const std::vector<double> zeros(N * O, 0.0);
  {
    Bf16WeightScope outer(W.data(), Wb.data(), W.size());
    linear_forward(y.data(), x.data(), W.data(), N, I, O);
    expect_close("outer scope", y, ref_b, kTol);
    {
      Bf16WeightScope inner(W.data(), zero.data(), W.size());   // a copy of zeros: the inner scope applies
      linear_forward(y.data(), x.data(), W.data(), N, I, O);
      expect_close("inner scope", y, zeros, kTol);
    }
    linear_forward(y.data(), x.data(), W.data(), N, I, O);
    expect_close("outer scope again", y, ref_b, kTol);
  }
  linear_forward(y.data(), x.data(), W.data(), N, I, O);
  expect_close("no scope", y, ref, kTol);
  EXPECT_GT(norm_err(y.data(), ref_b.data(), ref_b.size()), 1e-4) << "bf16 rounding should show";
}

}  // namespace
}  // namespace nanoseek
