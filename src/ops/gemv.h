// Weight-streaming kernels for decoding, where a step multiplies a few rows (one token per sequence in flight) by
// every weight matrix and is bound by reading the weights once:
//   gemv    y[n,O] (+)= x[n,I] · W[O,I]ᵀ   — a Linear (HF layout [out, in]); W is fp32 or bf16
//   gemv_t  y[n,N] (+)= x[n,K] · W[K,N]    — a matrix applied from the left (MLA's absorbed W_UK)
//   dot, axpy                               — attention over cached rows
// gemv walks W row by row exactly once and applies each row to all n inputs while it is in L1; threads split the
// output columns, never a reduction, so results do not depend on the thread count. Called inside a parallel region
// they run on the calling thread (a nested team would be new threads woken per call: 5x slower decoding, measured). bf16 weights are widened to
// fp32 in registers and accumulated in fp32 (x is never rounded); bf16 halves the bytes per decode step.
//
// The instruction set is chosen at run time from CPUID (AVX-512F/BW/VL, AVX2+FMA, else portable scalar code), so
// the build runs on any x86-64; every path is tested against the scalar one (tests/ops/gemv_test.cpp).
// Legend: n rows, I in features, O out features; ldx/ldy row strides; acc: add to y instead of overwriting it.
#pragma once
#include <cstdint>

namespace nanoseek {

enum class Isa { Scalar, Avx2, Avx512 };
Isa best_isa();                   // what this CPU runs (detected once)
const char* isa_name(Isa isa);    // "scalar", "avx2+fma", "avx512f"

// y[i·ldy + o] (+)= Σ_k W[o·ldw + k]·x[i·ldx + k]
void gemv_f32(float* y, int64_t ldy, const float* x, int64_t ldx, const float* W, int64_t ldw, int64_t n, int64_t I,
              int64_t O, bool acc, Isa isa = best_isa());
void gemv_bf16(float* y, int64_t ldy, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw, int64_t n,
               int64_t I, int64_t O, bool acc, Isa isa = best_isa());
// y[i·ldy + c] (+)= Σ_k x[i·ldx + k]·W[k·ldw + c]
void gemv_t_f32(float* y, int64_t ldy, const float* x, int64_t ldx, const float* W, int64_t ldw, int64_t n,
                int64_t K, int64_t N, bool acc, Isa isa = best_isa());
void gemv_t_bf16(float* y, int64_t ldy, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw, int64_t n,
                 int64_t K, int64_t N, bool acc, Isa isa = best_isa());

float dot_f32(const float* a, const float* b, int64_t n, Isa isa = best_isa());
void axpy_f32(float* y, float a, const float* x, int64_t n, Isa isa = best_isa());   // y += a·x

// Rows up to which gemm() uses these kernels instead of OpenBLAS (measured: docs/benchmarks.md).
constexpr int64_t kGemvMaxRows = 8;

}  // namespace nanoseek
