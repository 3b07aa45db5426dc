// Training throughput: tokens/s of forward+backward (the unit tools/reference/bench_torch.py measures) and of the
// full optimizer step (+ AdamW), the share of that time spent inside BLAS GEMMs, and — with --torch — the ratio to
// the PyTorch reference training the same config on the same machine and thread count, measured in the same run.
//
//   build/train_bench [--batch 4] [--seq 256] [--steps 5] [--torch] [--config recipes/tiny-base.toml ...]
//
// Configs: a model config.json, or a recipe .toml (its [model] section, vocab from data.vocab_size).
// Default: recipes/tiny-base.toml and tools/reference/configs/bench-30m.json. Prints one JSON line per config.
// GEMM time: this program defines cblas_sgemm itself (symbol interposition: the library's call in ops/linear.cpp
// binds to it) and forwards to OpenBLAS via dlsym(RTLD_NEXT); calls made inside an OpenMP parallel region are
// counted as their per-thread time divided by the thread count.
#include <cblas.h>
#include <dlfcn.h>
#include <unistd.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/rng.h"
#include "model/counts.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "pipeline/recipe.h"

namespace {

// The repository root, from this file's path (CMake compiles it by absolute path): bench/train_bench.cpp.
const std::string kRoot = [] {
  std::string f = __FILE__;
  const size_t p = f.rfind("/bench/");
  return p == std::string::npos ? std::string(".") : f.substr(0, p);
}();
#define NANOSEEK_SOURCE_DIR_BENCH kRoot

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
std::atomic<double> g_gemm_s{0};
std::atomic<int64_t> g_gemm_calls{0};

}  // namespace

using SgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                         const float*, blasint, const float*, blasint, float, float*, blasint);

extern "C" void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint M,
                            OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K, OPENBLAS_CONST float alpha,
                            OPENBLAS_CONST float* A, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float* B,
                            OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float* C,
                            OPENBLAS_CONST blasint ldc) {
  // With --as-needed the linker may drop OpenBLAS (this file defines its only used symbol): then load it by name,
  // the OpenMP build first (the one CMake links).
  static SgemmFn real = [] {
    void* f = dlsym(RTLD_NEXT, "cblas_sgemm");
    for (const char* lib : {"/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                            "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0", "libopenblas.so.0"}) {
      if (f) break;
      if (void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) f = dlsym(h, "cblas_sgemm");
    }
    if (!f) {
      std::fprintf(stderr, "train_bench: cannot find OpenBLAS's cblas_sgemm\n");
      std::abort();
    }
    return reinterpret_cast<SgemmFn>(f);
  }();
  const double t0 = now();
  real(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  double dt = now() - t0;
  if (omp_in_parallel()) dt /= omp_get_num_threads();
  double cur = g_gemm_s.load();
  while (!g_gemm_s.compare_exchange_weak(cur, cur + dt)) {
  }
  g_gemm_calls++;
}

namespace nanoseek {
namespace {

struct Opts {
  int64_t B = 4, T = 256, steps = 5, warmup = 1;
  bool torch = false;
  std::vector<std::string> configs;
};

nlohmann::json config_json(const std::string& path) {
  if (path.size() > 5 && path.substr(path.size() - 5) == ".toml") {
    const Recipe r = load_recipe(path);
    return model_config_json(r, r.data.vocab_size, 0, 1);
  }
  return nlohmann::json::parse(read_file(path));
}

double torch_tokens_per_s(const std::string& cfg_path, const Opts& o, int threads) {
  const std::string cmd = fmt::format("python3 {}/tools/reference/bench_torch.py {} --batch {} --seq {} --threads {} "
                                      "--steps {} 2>/dev/null", NANOSEEK_SOURCE_DIR_BENCH, cfg_path, o.B, o.T,
                                      threads, o.steps);
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return 0;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  pclose(f);
  const size_t p = out.rfind("{\"mode\"");
  if (p == std::string::npos) return 0;
  return nlohmann::json::parse(out.substr(p, out.find('\n', p) - p)).value("tokens_per_s", 0.0);
}

void bench(const std::string& path, const Opts& o) {
  const nlohmann::json cj = config_json(path);
  const ModelConfig cfg = parse_config(cj, path);
  Model m(cfg);
  m.init(1);
  m.enable_grad();
  AdamW opt(m, {});
  Workspace ws = plan_workspace(cfg, o.B, o.T, true);
  std::vector<int32_t> ids(o.B * o.T), tg(o.B * o.T);
  Rng r(0);
  for (auto& x : ids) x = int32_t(r.below(uint64_t(cfg.vocab_size)));
  for (int64_t i = 0; i < o.B * o.T; ++i) tg[i] = (i + 1) % o.T == 0 ? -1 : ids[i + 1];
  const Batch b{o.B, o.T, ids.data(), tg.data(), nullptr};
  const LossConfig lc{0.3, 1e-4};  // as bench_torch.py
  std::vector<double> fb, st;
  double gemm = 0;
  for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
    g_gemm_s = 0;
    const double t0 = now();
    m.zero_grad();
    m.forward(b, ws, lc);
    m.backward(b, ws, lc);
    const double t1 = now();
    opt.step(m.params.data(), m.grads.data(), 1e-4);
    const double t2 = now();
    if (i >= o.warmup) fb.push_back(t1 - t0), st.push_back(t2 - t0), gemm += g_gemm_s.load() / (t1 - t0);
  }
  std::sort(fb.begin(), fb.end());
  std::sort(st.begin(), st.end());
  const double tok = double(o.B * o.T);
  const int threads = omp_get_max_threads();
  const ModelCounts mc = count_model(cfg, o.T);
  nlohmann::json j = {{"config", path},
                      {"params", mc.total_params + mc.mtp_params},
                      {"threads", threads},
                      {"batch", o.B},
                      {"seq", o.T},
                      {"fwd_bwd_tokens_per_s", tok / fb[fb.size() / 2]},
                      {"step_tokens_per_s", tok / st[st.size() / 2]},
                      {"gemm_share", gemm / double(o.steps)},
                      {"model_gflops_per_s", 3 * (mc.matmul_flops_per_token + mc.attention_flops_per_token) * tok /
                                                 fb[fb.size() / 2] / 1e9}};
  if (o.torch) {
    std::string cfg_path = path;
    if (path.size() > 5 && path.substr(path.size() - 5) == ".toml") {
      cfg_path = "/tmp/train_bench_" + std::to_string(getpid()) + ".json";
      write_file_atomic(cfg_path, cj.dump(1));
    }
    const double t = torch_tokens_per_s(cfg_path, o, threads);
    j["torch_tokens_per_s"] = t;
    j["ratio_vs_torch"] = t > 0 ? tok / fb[fb.size() / 2] / t : 0.0;
  }
  fmt::print("{}\n", j.dump());
  std::fflush(stdout);
}

}  // namespace
}  // namespace nanoseek

int main(int argc, char** argv) {
  nanoseek::Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--batch") o.B = std::stoll(next());
    else if (a == "--seq") o.T = std::stoll(next());
    else if (a == "--steps") o.steps = std::stoll(next());
    else if (a == "--warmup") o.warmup = std::stoll(next());
    else if (a == "--torch") o.torch = true;
    else if (a == "--config") o.configs.push_back(next());
    else {
      fmt::print(stderr, "unknown argument {} (--batch --seq --steps --warmup --torch --config)\n", a);
      return 2;
    }
  }
  if (o.configs.empty())
    o.configs = {std::string(NANOSEEK_SOURCE_DIR_BENCH) + "/recipes/tiny-base.toml",
                 std::string(NANOSEEK_SOURCE_DIR_BENCH) + "/tools/reference/configs/bench-30m.json"};
  try {
    for (const auto& c : o.configs) nanoseek::bench(c, o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
