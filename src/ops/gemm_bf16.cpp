#include "ops/gemm_bf16.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "ops/hw_probe.h"

#ifdef NANOSEEK_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace nanoseek {
namespace {

bool g_active = false;

// The CPU's BF16 units (ops/hw_probe.h reads /proc/cpuinfo), read once.
const CpuInfo& cpu() {
  static const CpuInfo c = cpu_info();
  return c;
}

// A dimension padded to a bucket so changing row counts (MoE experts) reuse a few JIT kernels; ≤ 12.5% waste above
// 256.
int64_t padded(int64_t M) {
  const int64_t g = M <= 256 ? 32 : M <= 1024 ? 64 : 256;
  return (M + g - 1) / g * g;
}

// dst [rows, cols] row-major = bf16(src [valid_rows, valid_cols], leading dimension ld_src), zero outside it.
// Parallel over rows unless already inside a parallel region. Branch-free so it vectorizes.
void to_bf16(uint16_t* dst, int64_t rows, int64_t cols, const float* src, int64_t ld_src, int64_t valid_rows,
             int64_t valid_cols) {
  const bool par = !omp_in_parallel() && rows * cols >= (int64_t(1) << 15);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; ++r) {
    uint16_t* d = dst + r * cols;
    int64_t c = 0;
    if (r < valid_rows) {
      const float* s = src + r * ld_src;
      for (; c < valid_cols; ++c) d[c] = f32_to_bf16(s[c]);
    }
    for (; c < cols; ++c) d[c] = 0;
  }
}

#ifdef NANOSEEK_HAVE_DNNL

struct Key {
  bool ta, tb, direct;
  int64_t M, N, K, ldc;
  float alpha, beta;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<int64_t>()(k.M);
    for (int64_t v : {k.N, k.K, k.ldc, int64_t(k.ta) * 4 + int64_t(k.tb) * 2 + int64_t(k.direct)}) h = h * 1000003u ^ std::hash<int64_t>()(v);
    uint32_t a, b;
    std::memcpy(&a, &k.alpha, 4);
    std::memcpy(&b, &k.beta, 4);
    return h * 1000003u ^ (size_t(a) << 32 | b);
  }
};

// A compact bf16 [rows, cols] operand, row-major, or stored transposed (cols × rows).
dnnl::memory::desc operand(int64_t rows, int64_t cols, bool trans) {
  using dnnl::memory;
  return memory::desc({rows, cols}, memory::data_type::bf16, trans ? memory::dims{1, rows} : memory::dims{cols, 1});
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// One matmul per shape: A [M, K] bf16, stored K × M when ta; B [K, N] bf16, stored N × K when tb (both compact);
// C [M, N] fp32 with leading dimension ldc, = alpha·A·B (+ beta·C when direct, oneDNN's sum post-op; else C is a
// scratch it overwrites). The scratchpad is the caller's (scratchpad_mode::user): oneDNN's own is one per primitive,
// and the per-expert calls run the same primitive from several threads at once.
struct Prim {
  dnnl::matmul mm;
  dnnl::memory::desc scratchpad;
};
std::shared_ptr<const Prim> primitive(const Key& k) {
  static std::mutex mu;
  static std::unordered_map<Key, std::shared_ptr<const Prim>, KeyHash> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  using dnnl::memory;
  const memory::desc a = operand(k.M, k.K, k.ta), b = operand(k.K, k.N, k.tb);
  const memory::desc c({k.M, k.N}, memory::data_type::f32, memory::dims{k.ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (k.alpha != 1.f) attr.set_output_scales(0, {k.alpha});
  if (k.direct && k.beta != 0.f) {
    dnnl::post_ops po;
    po.append_sum(k.beta);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine());
  auto p = std::make_shared<const Prim>(Prim{dnnl::matmul(pd), pd.scratchpad_desc()});
  cache.emplace(k, p);
  return p;
}

#endif  // NANOSEEK_HAVE_DNNL

}  // namespace

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::Fp32;
  if (s == "bf16") return Precision::Bf16;
  fail("precision '{}': must be fp32 or bf16", s);
}
const char* precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "fp32"; }

bool bf16_compute_available() { return bf16_compute_unavailable().empty(); }

std::string bf16_compute_unavailable() {
#ifndef NANOSEEK_HAVE_DNNL
  return "this build has no oneDNN (install libdnnl-dev: scripts/setup-deps.sh, then re-run cmake)";
#else
  if (!cpu().avx512_bf16 && !cpu().amx_bf16)
    return "this CPU has no BF16 units (needs AVX512-BF16 or AMX-BF16 in /proc/cpuinfo flags)";
  return "";
#endif
}

std::string bf16_compute_isa() {
  if (!bf16_compute_available()) return "none";
  return cpu().amx_bf16 ? "amx-bf16" : "avx512-bf16";
}

void gemm_bf16_compute(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                       int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                       const uint16_t* B16) {
#ifndef NANOSEEK_HAVE_DNNL
  throw Error("bf16 compute: " + bf16_compute_unavailable());
#else
  if (M == 0 || N == 0) return;
  // M and K padded with zeros (K varies too: the weight gradients of MoE experts sum over their row blocks).
  const int64_t Mp = padded(M), Kp = padded(K);
  const bool direct = Mp == M;   // C itself is the destination; else a [Mp, N] scratch, combined below
  thread_local std::vector<uint16_t> a16, b16;
  thread_local std::vector<float> scratch;
  thread_local std::vector<uint8_t> pad;
  // Both operands converted in their own layout (a straight copy; oneDNN reads either layout).
  a16.resize(size_t(Mp * Kp));
  if (transA) to_bf16(a16.data(), Kp, Mp, A, lda, K, M);
  else to_bf16(a16.data(), Mp, Kp, A, lda, M, K);
  const int64_t b_rows = transB ? N : Kp, b_cols = transB ? Kp : N;
  const uint16_t* bsrc = B16;
  if (!B16 || Kp != K || ldb != b_cols) {   // round B here, or a compact zero-padded copy of its bf16 copy
    b16.resize(size_t(Kp * N));
    if (!B16) {
      to_bf16(b16.data(), b_rows, b_cols, B, ldb, transB ? N : K, transB ? K : N);
    } else {
      std::fill(b16.begin(), b16.end(), uint16_t(0));
      for (int64_t r = 0; r < (transB ? N : K); ++r)
        std::memcpy(&b16[size_t(r * b_cols)], B16 + r * ldb, 2 * size_t(transB ? K : N));
    }
    bsrc = b16.data();
  }
  const Key key{transA, transB, direct, Mp, N, Kp, direct ? ldc : N, alpha, direct ? beta : 0.f};
  const auto p = primitive(key);
  using dnnl::memory;
  float* dst = C;
  if (!direct) {
    scratch.resize(size_t(Mp * N));
    dst = scratch.data();
  }
  pad.resize(p->scratchpad.get_size());
  memory am(operand(Mp, Kp, transA), engine(), a16.data()), bm(operand(Kp, N, transB), engine(), const_cast<uint16_t*>(bsrc));
  memory cm(memory::desc({Mp, N}, memory::data_type::f32, memory::dims{key.ldc, 1}), engine(), dst);
  memory sm(p->scratchpad, engine(), pad.data());
  thread_local dnnl::stream s(engine());
  p->mm.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
  s.wait();
  if (direct) return;
  const bool par = !omp_in_parallel() && M * N >= (int64_t(1) << 16);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    const float* t = dst + i * N;
    if (beta == 0.f)
      for (int64_t j = 0; j < N; ++j) c[j] = t[j];
    else
      for (int64_t j = 0; j < N; ++j) c[j] = beta * c[j] + t[j];
  }
#endif
}

Bf16ComputeScope::Bf16ComputeScope(bool on, const std::string& what) : prev_(g_active) {
  if (on && !bf16_compute_available()) throw Error(what + ": " + bf16_compute_unavailable());
  g_active = on;
}
Bf16ComputeScope::~Bf16ComputeScope() { g_active = prev_; }

bool bf16_compute_active() { return g_active; }

}  // namespace nanoseek
