// BF16 compute for training and prefill (train.precision = bf16; `nanoseek bench --precision bf16`): while a
// Bf16ComputeScope is alive, every gemm() of ops/linear.h with more than kGemvMaxRows rows rounds both operands to
// bf16 (round to nearest even) and multiplies them on the CPU's BF16 units — AMX tiles where the CPU has them, else
// AVX512-BF16 dot products — through oneDNN's matmul (Debian libdnnl-dev), accumulating in fp32 and writing
// C = alpha·op(A)·op(B) + beta·C in fp32 as the fp32 path does. Everything else stays fp32: master weights,
// gradients, AdamW, norms, softmax, SwiGLU, the loss — the usual BF16 mixed precision (V3's baseline, spec §5, the
// one FP8 is compared against).
//
// Where it departs from a GPU BF16 recipe: activations are stored in fp32 between ops (rounded to bf16 only as a
// GEMM operand), so each op sees the same values as in fp32 and only the products lose precision; weights are
// rounded from the fp32 masters into a bf16 copy after every optimizer step (train/trainer.h), as a GPU recipe's
// bf16 weight copy is.
//
// oneDNN JIT-compiles one kernel per shape (milliseconds each): rows (and the inner dimension) are padded up to a few buckets (multiples of
// 32 to 256, of 64 to 1024, of 256 beyond) so MoE expert blocks, whose row counts change every step, reuse a
// handful of kernels; the padded rows are zero and dropped. Calls from inside an OpenMP parallel region (per expert,
// per attention head) run on their own thread, as OpenBLAS does there.
#pragma once
#include <cstdint>
#include <string>

namespace nanoseek {

// What training's and prefill's matmuls compute in (train.precision, bench --precision).
enum class Precision { Fp32, Bf16 };
Precision parse_precision(const std::string& s);   // "fp32" | "bf16"; anything else is an Error listing them
const char* precision_name(Precision p);

// True when this build has oneDNN and the CPU has AVX512-BF16 or AMX-BF16 (checked once); otherwise
// bf16_compute_unavailable() says why ("this build has no oneDNN: ...", "this CPU has no BF16 units ...").
bool bf16_compute_available();
std::string bf16_compute_unavailable();
// "amx-bf16", "avx512-bf16" or "none": what the matmuls run on.
std::string bf16_compute_isa();

// C[M,N] = alpha·op(A)·op(B) + beta·C with bf16-rounded operands, fp32 accumulation (needs bf16_compute_available()).
// B16, when given, is B already rounded to bf16 (same layout and ldb: a Bf16WeightScope's copy of the weights, so
// the trainer rounds its weights once per optimizer step instead of at every matmul).
void gemm_bf16_compute(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                       int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                       const uint16_t* B16 = nullptr);

// While alive, gemm() multiplies in bf16 as above (process-wide, nests; the innermost scope applies). Opening one
// where bf16_compute_available() is false is an Error naming `what` and the reason.
class Bf16ComputeScope {
 public:
  explicit Bf16ComputeScope(bool on = true, const std::string& what = "bf16 compute");
  ~Bf16ComputeScope();
  Bf16ComputeScope(const Bf16ComputeScope&) = delete;
  Bf16ComputeScope& operator=(const Bf16ComputeScope&) = delete;

 private:
  bool prev_;
};
bool bf16_compute_active();

}  // namespace nanoseek
