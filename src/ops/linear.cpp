#include "ops/linear.h"

#include <cblas.h>

#include "ops/gemv.h"

namespace nanoseek {

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C untouched for K == 0 only when beta == 1; make the semantics explicit.
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  // A few rows (decoding, small expert batches): stream B once with our kernels instead of packing it (ops/gemv.h)
  if (!transA && M <= kGemvMaxRows && alpha == 1.f && (beta == 0.f || beta == 1.f)) {
    if (!transB) return gemv_t_f32(C, ldc, A, lda, B, ldb, M, K, N, beta == 1.f);
    if (ldb == K) return gemv_f32(C, ldc, A, lda, B, M, K, N, beta == 1.f);
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
