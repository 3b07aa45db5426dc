#include "ops/hw_probe.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

#include "ops/gemv.h"
#include "ops/linear.h"

namespace nanoseek {
namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double median_seconds(int reps, F&& f) {
  f();   // warmup: page faults, caches, thread start-up
  std::vector<double> t;
  for (int r = 0; r < std::max(reps, 1); ++r) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

CpuInfo cpu_info() {
  CpuInfo c;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (c.model.empty() && line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) c.model = line.substr(line.find_first_not_of(" \t", colon + 1));
    }
    if (line.rfind("flags", 0) == 0) {
      c.avx512_bf16 = line.find(" avx512_bf16") != std::string::npos;
      c.amx = line.find(" amx_tile") != std::string::npos;
      c.amx_bf16 = c.amx && line.find(" amx_bf16") != std::string::npos;
      break;
    }
  }
  if (c.model.empty()) c.model = "unknown CPU";
  c.isa = isa_name(best_isa());
  c.threads = omp_get_max_threads();
  return c;
}

double measure_gemm_gflops(int64_t n, int reps) {
  std::vector<float> a(size_t(n * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(n * n));
  const double s = median_seconds(reps, [&] { gemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n); });
  return 2.0 * double(n) * double(n) * double(n) / s / 1e9;
}

double measure_triad_gbps(int64_t mib_per_array, int reps) {
  const int64_t n = mib_per_array << 18;   // floats
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n), 1.f), c(static_cast<size_t>(n), 2.f);
  const double s = median_seconds(reps, [&] {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) a[size_t(i)] = b[size_t(i)] + 0.5f * c[size_t(i)];
  });
  return 3.0 * double(n) * sizeof(float) / s / 1e9;   // read b, c; write a (no write-allocate counted)
}

double measure_gemv_gbps(bool bf16, int64_t mib, int reps) {
  const int64_t cols = 4096, elem = bf16 ? 2 : 4, rows = (mib << 20) / (cols * elem);
  std::vector<float> x(static_cast<size_t>(cols), 1.f), y(static_cast<size_t>(rows));
  std::vector<float> wf(bf16 ? 0 : size_t(rows * cols), 0.001f);
  std::vector<uint16_t> wb(bf16 ? size_t(rows * cols) : 0, 0x3A83);   // ≈ 0.001 in bf16
  const double s = median_seconds(reps, [&] {
    if (bf16) gemv_bf16(y.data(), rows, x.data(), cols, wb.data(), cols, 1, cols, rows, false);
    else gemv_f32(y.data(), rows, x.data(), cols, wf.data(), cols, 1, cols, rows, false);
  });
  return double(rows * cols * elem) / s / 1e9;
}

}  // namespace nanoseek
