#include "ops/linear.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "ops/gemm_bf16.h"
#include "ops/gemv.h"

namespace nanoseek {
namespace {

struct Mirror {
  const float* fp32 = nullptr;
  const uint16_t* bf16 = nullptr;
  size_t n = 0;
};
Mirror g_mirror;   // the active Bf16WeightScope's buffers (none: fp32 == nullptr)

// The bf16 copy of B when B lies inside the active scope's fp32 buffer, else nullptr.
const uint16_t* bf16_copy_of(const float* B) {
  const auto b = reinterpret_cast<uintptr_t>(B), base = reinterpret_cast<uintptr_t>(g_mirror.fp32);
  if (!g_mirror.fp32 || b < base || b >= base + g_mirror.n * sizeof(float)) return nullptr;
  return g_mirror.bf16 + (B - g_mirror.fp32);
}

}  // namespace

Bf16WeightScope::Bf16WeightScope(const float* fp32, const uint16_t* bf16, size_t n)
    : prev_fp32_(g_mirror.fp32), prev_bf16_(g_mirror.bf16), prev_n_(g_mirror.n) {
  g_mirror = {fp32, bf16, n};
}
Bf16WeightScope::~Bf16WeightScope() { g_mirror = {prev_fp32_, prev_bf16_, prev_n_}; }

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C untouched for K == 0 only when beta == 1; make the semantics explicit.
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  // train.precision = bf16 (ops/gemm_bf16.h): more than kGemvMaxRows rows on the BF16 units, reading the weights'
  // bf16 copy when a Bf16WeightScope holds one.
  if (bf16_compute_active() && M > kGemvMaxRows) {
    gemm_bf16_compute(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bf16_copy_of(B));
    return;
  }
  // A few rows (decoding, small expert batches): stream B once with our kernels instead of packing it (ops/gemv.h).
  // B with a bf16 copy (Bf16WeightScope): every row, in chunks of kGemvMaxRows, so prefill and decode both read the
  // same bf16 weights.
  if (!transA && alpha == 1.f && (beta == 0.f || beta == 1.f)) {
    const uint16_t* wb = bf16_copy_of(B);
    if (wb || M <= kGemvMaxRows) {
      const bool acc = beta == 1.f;
      for (int64_t r0 = 0; r0 < M; r0 += kGemvMaxRows) {
        const int64_t m = std::min(kGemvMaxRows, M - r0);
        float* c = C + r0 * ldc;
        const float* a = A + r0 * lda;
        if (transB) {
          if (wb) gemv_bf16(c, ldc, a, lda, wb, ldb, m, K, N, acc);
          else gemv_f32(c, ldc, a, lda, B, ldb, m, K, N, acc);
        } else {
          if (wb) gemv_t_bf16(c, ldc, a, lda, wb, ldb, m, K, N, acc);
          else gemv_t_f32(c, ldc, a, lda, B, ldb, m, K, N, acc);
        }
      }
      return;
    }
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

void linear_forward(float* y, const float* x, const float* W, int64_t N, int64_t I, int64_t O) {
  gemm(false, true, N, O, I, 1.f, x, I, W, I, 0.f, y, O);
}

void linear_backward_input(float* dx, const float* dy, const float* W, int64_t N, int64_t I, int64_t O) {
  gemm(false, false, N, I, O, 1.f, dy, O, W, I, 1.f, dx, I);
}

void linear_backward_weight(float* dW, const float* dy, const float* x, int64_t N, int64_t I, int64_t O) {
  gemm(true, false, O, I, N, 1.f, dy, O, x, I, 1.f, dW, I);
}

}  // namespace nanoseek
