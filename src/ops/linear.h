// Linear layers (no bias; DeepSeek has none). Weight layout is HF's [out, in], row-major.
// Backward is split in two (ZeroBubble / DualPipe need to run the weight part later):
//   linear_backward_input  — dx += dy W      (on the critical path)
//   linear_backward_weight — dW += dy^T x    (deferrable)
// Gradient convention across src/ops: backward functions ACCUMULATE (+=) into gradient buffers unless a
// comment says "overwrite".
//
// Legend: N = rows (tokens), I = in features, O = out features.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nanoseek {

// y[N,O] = x[N,I] · W[O,I]^T          (overwrite)
void linear_forward(float* y, const float* x, const float* W, int64_t N, int64_t I, int64_t O);
// dx[N,I] += dy[N,O] · W[O,I]
void linear_backward_input(float* dx, const float* dy, const float* W, int64_t N, int64_t I, int64_t O);
// dW[O,I] += dy[N,O]^T · x[N,I]
void linear_backward_weight(float* dW, const float* dy, const float* x, int64_t N, int64_t I, int64_t O);

// Plain row-major GEMM used by ops that need strides: C[M,N] = alpha·op(A)·op(B) + beta·C. OpenBLAS; ≤ kGemvMaxRows
// forward-shaped rows on ops/gemv.h; inside a Bf16ComputeScope (ops/gemm_bf16.h) more rows on the BF16 units.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Decoding from bf16 weights (infer/engine.h DecodeWeights::BF16): while a scope is alive, every forward-shaped gemm
// (no transA, alpha 1, beta 0 or 1) whose B lies inside [fp32, fp32 + n) reads the bf16 copy at the same offset
// instead (ops/gemv.h gemv_bf16 / gemv_t_bf16, fp32 accumulation), halving the bytes a decode step reads. Other
// calls use fp32 B. The scope is process-wide (the kernels' worker threads see it) and the innermost one applies;
// the engine opens it around its own forward only, so a trainer sharing the weights never sees it. Two engines
// generating concurrently from different threads would need one scope per thread (no command does that). Inside a
// Bf16ComputeScope too (bf16 training), calls with more rows read the bf16 copy as their rounded B.
class Bf16WeightScope {
 public:
  Bf16WeightScope(const float* fp32, const uint16_t* bf16, size_t n);
  ~Bf16WeightScope();   // restores the enclosing scope
  Bf16WeightScope(const Bf16WeightScope&) = delete;
  Bf16WeightScope& operator=(const Bf16WeightScope&) = delete;

 private:
  const float* prev_fp32_;
  const uint16_t* prev_bf16_;
  size_t prev_n_;
};

}  // namespace nanoseek
