// `nanoseek bench`: throughput of a model on this machine next to the machine's own limits, measured in one run
// (llama-bench's job, with the limits beside it). For any architecture behind the model interface:
//   train   — forward + backward of the full loss on random tokens (B × T), tokens/s and MFU: model FLOPs
//             (3 × forward: matmuls, attention at T/2 mean keys, MTP modules) per second over the measured GEMM peak;
//   prefill — the engine's prompt pass (B prompts of P tokens), tokens/s and MFU of its forward FLOPs;
//   decode  — greedy decoding through the engine at each batch, tokens/s and the roofline fraction: bytes a step must
//             read (every weight once — routed experts as many as the batch touches on average, E·(1 − (1 − K/E)^B)
//             — plus the cache rows at their mean length) per second over the measured triad bandwidth.
// Medians of the timed repetitions; threads as OpenMP has them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "infer/engine.h"
#include "model/language_model.h"
#include "ops/gemm_bf16.h"
#include "ops/hw_probe.h"

namespace nanoseek {

struct BenchOptions {
  int64_t batch = 4, seq = 256;                 // train: B × T
  int64_t steps = 3, warmup = 1;                // timed and untimed training steps
  int64_t prompt = 64, new_tokens = 64;         // prefill / decode: P prompt tokens, N generated
  std::vector<int64_t> decode_batches = {1, 8};
  bool train = true, prefill = true, decode = true;
  DecodeWeights weights = DecodeWeights::F32;   // prefill / decode: what the engine's matmuls read
  Precision precision = Precision::Fp32;        // train / prefill: what the GEMMs compute in (ops/gemm_bf16.h)
};

struct MachineFigures {
  CpuInfo cpu;
  double gemm_gflops = 0, triad_gbps = 0, gemv_f32_gbps = 0, gemv_bf16_gbps = 0;
  double gemm_bf16_gflops = 0;   // the same GEMM with bf16 compute, its operand rounding included (0: unavailable)
  std::string bf16_isa;          // ops/gemm_bf16.h bf16_compute_isa()
  nlohmann::json to_json() const;
};
MachineFigures measure_machine();

struct BenchRow {
  std::string test;          // "train", "prefill", "decode"
  int64_t batch = 0, tokens = 0;   // sequences; tokens per sequence (T, P or N)
  double tokens_per_s = 0;
  std::string precision = "fp32";   // train / prefill: the GEMMs' compute precision; MFU is of that GEMM's peak
  std::string limit;         // "MFU" (of the GEMM peak) or "roofline" (of the triad bandwidth)
  double achieved = 0;       // GFLOP/s or GB/s
  double fraction = 0;       // achieved / the machine's limit
};

std::vector<BenchRow> bench_model(LanguageModel& m, const BenchOptions& o, const MachineFigures& hw,
                                  bool progress);
std::string bench_table(const std::vector<BenchRow>& rows, const MachineFigures& hw, const std::string& what);
nlohmann::json bench_json(const std::vector<BenchRow>& rows, const MachineFigures& hw, const std::string& what);

}  // namespace nanoseek
