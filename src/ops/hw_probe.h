// The machine's two limits, measured in the same run as what is compared with them (docs/benchmarks.md):
//   peak FP32 GEMM GFLOP/s — the GEMM every training and prefill matmul goes through (ops/linear.h gemm), square n³;
//   memory bandwidth GB/s  — a STREAM-style triad a = b + s·c over three arrays far larger than any cache;
// plus what the decode kernels (ops/gemv.h) reach on a weight matrix of the same size, fp32 and bf16.
// Each figure is the median of `reps` timed repetitions after one untimed warmup, with the current OpenMP threads.
#pragma once
#include <cstdint>
#include <string>

namespace nanoseek {

struct CpuInfo {
  std::string model;     // /proc/cpuinfo "model name"
  std::string isa;       // what the kernels dispatch to (ops/gemv.h isa_name)
  bool avx512_bf16 = false, amx = false, amx_bf16 = false;   // amx: tiles (amx_tile); amx_bf16: their bf16 ops
  int threads = 1;       // OpenMP threads used for the measurements
};
CpuInfo cpu_info();

double measure_gemm_gflops(int64_t n = 2048, int reps = 5);
double measure_triad_gbps(int64_t mib_per_array = 128, int reps = 5);
// y = W x with W [rows, cols] fp32 (bf16 = true: bf16) of `mib` MiB: GB/s of weight bytes read.
double measure_gemv_gbps(bool bf16, int64_t mib = 256, int reps = 5);

}  // namespace nanoseek
