// BF16 compute (ops/gemm_bf16.h) against a double reference over the bf16-rounded operands, every transpose pair,
// strided operands, alpha/beta, row counts on both sides of the padding buckets, 1 and 2 threads, and from inside an
// OpenMP parallel region (as the per-expert and per-head calls make). The reference rounds the inputs itself, so a
// kernel that skipped the rounding (≈ 1e-3 off) or truncated instead of rounding would fail the 1e-5 bound as
// surely as a wrong index would. Skipped, saying why, where the build or CPU has no BF16 compute.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "ops/gemm_bf16.h"
#include "ops/linear.h"
#include "sweep_util.h"

namespace nanoseek {
namespace {
using namespace sweep;

// Products of two bf16 values are exact in fp32, so the only rounding left is the fp32 accumulation: √K·u relative
// to Σ|a·b| at worst (≈ 2e-6 at K = 700); 1e-5 stays well below the 2^-9 a missing bf16 rounding leaves.
constexpr double kTol = 1e-5;

struct Case {
  bool ta, tb;
  int64_t M, N, K, pad;   // pad: extra leading-dimension elements on every operand (strided views)
  float alpha, beta;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  const int64_t Ms[] = {9, 31, 32, 33, 64, 257, 300};
  const int64_t NKs[][2] = {{1, 1}, {17, 7}, {64, 129}, {130, 64}, {48, 700}};
  int i = 0;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t M : Ms)
        for (const auto& nk : NKs) {
          const float alpha = i % 3 == 0 ? 0.125f : 1.f;
          const float beta = i % 4 == 0 ? 0.f : i % 4 == 1 ? 1.f : i % 4 == 2 ? 0.5f : 0.f;
          v.push_back({ta, tb, M, nk[0], nk[1], (i % 2) * 3, alpha, beta});
          ++i;
        }
  return v;
}

double r16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<float> A, B, C0;
  std::vector<double> ref;
};

Operands make(const Case& c, uint64_t seed) {
  Operands o;
  const int64_t ar = c.ta ? c.K : c.M, ac = c.ta ? c.M : c.K;   // A stored ar × ac
  const int64_t br = c.tb ? c.N : c.K, bc = c.tb ? c.K : c.N;
  o.lda = ac + c.pad;
  o.ldb = bc + c.pad;
  o.ldc = c.N + c.pad;
  o.A = randn(size_t(ar * o.lda), seed);
  o.B = randn(size_t(br * o.ldb), seed + 1);
  o.C0 = randn(size_t(c.M * o.ldc), seed + 2);
  // Gaps between rows poisoned: a kernel reading them would turn its result into NaN.
  const float nan = bits_to_float(kInNaN);
  for (int64_t r = 0; r < ar; ++r)
    for (int64_t j = ac; j < o.lda; ++j) o.A[r * o.lda + j] = nan;
  for (int64_t r = 0; r < br; ++r)
    for (int64_t j = bc; j < o.ldb; ++j) o.B[r * o.ldb + j] = nan;
  o.ref.assign(size_t(c.M * c.N), 0);
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const float a = c.ta ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
        const float b = c.tb ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
        s += r16(a) * r16(b);
      }
      o.ref[i * c.N + j] = double(c.alpha) * s + double(c.beta) * o.C0[i * o.ldc + j];
    }
  return o;
}

// C's payload compared with the reference; its gaps must keep their starting values.
void check(const std::string& what, const Case& c, const Operands& o, const std::vector<float>& C) {
  std::vector<float> got(size_t(c.M * c.N));
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) got[i * c.N + j] = C[i * o.ldc + j];
  expect_close(what, got, o.ref, kTol);
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < o.ldc; ++j)
      ASSERT_TRUE(same_bits(C[i * o.ldc + j], o.C0[i * o.ldc + j])) << what << ": wrote into C's gap at row " << i;
}

std::string name(const Case& c) {
  return fmt::format("ta={} tb={} M={} N={} K={} pad={} alpha={} beta={}", c.ta, c.tb, c.M, c.N, c.K, c.pad, c.alpha,
                     c.beta);
}

TEST(GemmBf16, MatchesBf16RoundedReferenceEveryLayout) {
  if (!bf16_compute_available()) GTEST_SKIP() << bf16_compute_unavailable();
  uint64_t seed = 100;
  for (const Case& c : cases())
    for (int threads : kThreadCounts) {
      OmpThreads t(threads);
      const Operands o = make(c, seed += 3);
      std::vector<float> C = o.C0;
      gemm_bf16_compute(c.ta, c.tb, c.M, c.N, c.K, c.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, c.beta, C.data(),
                        o.ldc);
      check(fmt::format("{} threads={}", name(c), threads), c, o, C);
    }
}

// Inner dimensions that change from call to call (an expert's weight gradient sums over its rows) are padded like
// the rows.
TEST(GemmBf16, InsideAParallelRegionEachThreadItsOwnCall) {
  if (!bf16_compute_available()) GTEST_SKIP() << bf16_compute_unavailable();
  OmpThreads t(2);
  std::vector<Case> cs = {{false, true, 33, 64, 129, 0, 1.f, 1.f}, {true, false, 300, 17, 7, 3, 1.f, 0.f},
                          {false, false, 257, 130, 64, 0, 0.125f, 0.f}, {true, true, 64, 48, 700, 3, 1.f, 0.5f}};
  for (int64_t k : {159, 226, 97, 300}) cs.push_back({true, false, 192, 384, k, 0, 1.f, 1.f});   // expert dW
  std::vector<Operands> os;
  for (size_t i = 0; i < cs.size(); ++i) os.push_back(make(cs[i], 900 + i));
  std::vector<std::vector<float>> Cs;
  for (const auto& o : os) Cs.push_back(o.C0);
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < cs.size(); ++i) {
    const Case& c = cs[i];
    gemm_bf16_compute(c.ta, c.tb, c.M, c.N, c.K, c.alpha, os[i].A.data(), os[i].lda, os[i].B.data(), os[i].ldb, c.beta,
                      Cs[i].data(), os[i].ldc);
  }
  for (size_t i = 0; i < cs.size(); ++i) check(name(cs[i]) + " in a parallel region", cs[i], os[i], Cs[i]);
}

// Regression: the same shape run by two threads at once (attention heads, experts) shared oneDNN's per-primitive
// scratchpad and returned NaN in training's first step; each thread passes its own now. A race shows only when two
// executions overlap, so the same call runs 512 times across the team (with the shared scratchpad: 5 failures in 5
// runs; 64 calls caught it in 1 run of 3).
TEST(GemmBf16, SameShapeFromManyThreadsAtOnce) {
  if (!bf16_compute_available()) GTEST_SKIP() << bf16_compute_unavailable();
  OmpThreads t(2);
  const Case c{false, false, 255, 32, 255, 160, 1.f, 0.f};   // attention's P·V in bench-30m training
  const Operands o = make(c, 55);
  std::vector<std::vector<float>> Cs(512, o.C0);
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < Cs.size(); ++i)
    gemm_bf16_compute(c.ta, c.tb, c.M, c.N, c.K, c.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, c.beta, Cs[i].data(),
                      o.ldc);
  for (size_t i = 0; i < Cs.size(); ++i) {
    check(fmt::format("{} call {}", name(c), i), c, o, Cs[i]);
    if (HasFailure()) break;
  }
}

// gemm() multiplies in bf16 exactly while a scope is open (bitwise the same call), fp32 again after it closes, and
// keeps the decode kernels for ≤ kGemvMaxRows rows.
TEST(GemmBf16, ScopeRoutesGemmAndRestores) {
  if (!bf16_compute_available()) {
    try {
      Bf16ComputeScope s(true, "train.precision = bf16");
      FAIL() << "opened a bf16 scope without BF16 compute";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("train.precision = bf16: "), std::string::npos) << e.what();
    }
    GTEST_SKIP() << bf16_compute_unavailable();
  }
  const Case c{false, true, 40, 64, 129, 0, 1.f, 0.f};
  const Operands o = make(c, 7);
  std::vector<float> direct = o.C0, scoped = o.C0, fp32 = o.C0, after = o.C0;
  gemm_bf16_compute(c.ta, c.tb, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, direct.data(), o.ldc);
  gemm(c.ta, c.tb, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, fp32.data(), o.ldc);
  {
    Bf16ComputeScope outer(true);
    {
      Bf16ComputeScope off(false);   // an inner fp32 scope wins while open
      EXPECT_FALSE(bf16_compute_active());
    }
    EXPECT_TRUE(bf16_compute_active());
    gemm(c.ta, c.tb, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, scoped.data(), o.ldc);
  }
  EXPECT_FALSE(bf16_compute_active());
  gemm(c.ta, c.tb, c.M, c.N, c.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, after.data(), o.ldc);
  EXPECT_EQ(0, std::memcmp(direct.data(), scoped.data(), direct.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(fp32.data(), after.data(), fp32.size() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(fp32.data(), scoped.data(), fp32.size() * sizeof(float)));
  check("bf16 through gemm()", c, o, scoped);
}

}  // namespace
}  // namespace nanoseek
