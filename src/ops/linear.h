// Linear layers (no bias; DeepSeek has none). Weight layout is HF's [out, in], row-major.
// Backward is split in two (ZeroBubble / DualPipe need to run the weight part later):
//   linear_backward_input  — dx += dy W      (on the critical path)
//   linear_backward_weight — dW += dy^T x    (deferrable)
// Gradient convention across src/ops: backward functions ACCUMULATE (+=) into gradient buffers unless a
// comment says "overwrite".
//
// Legend: N = rows (tokens), I = in features, O = out features.
#pragma once
#include <cstdint>

namespace nanoseek {

// y[N,O] = x[N,I] · W[O,I]^T          (overwrite)
void linear_forward(float* y, const float* x, const float* W, int64_t N, int64_t I, int64_t O);
// dx[N,I] += dy[N,O] · W[O,I]
void linear_backward_input(float* dx, const float* dy, const float* W, int64_t N, int64_t I, int64_t O);
// dW[O,I] += dy[N,O]^T · x[N,I]
void linear_backward_weight(float* dW, const float* dy, const float* x, int64_t N, int64_t I, int64_t O);

// Plain row-major GEMM used by ops that need strides: C[M,N] = alpha·op(A)·op(B) + beta·C.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace nanoseek
