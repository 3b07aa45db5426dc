// Model throughput, the C++ side of docs/benchmarks.md (the PyTorch side is tools/reference/bench_torch.py with the
// same protocol). Prints one JSON line per measurement.
//   train:    forward + backward of the full loss (CE + MTP λ=0.3 + balance α=1e-4) on random tokens, `--warmup`
//             untimed steps, median of `--steps` timed steps → tokens/s.
//   generate: greedy decode with the engine, measured as `nanoseek bench` does (src/train/bench.h): --batch prompts
//             of --prompt random tokens, --new tokens each; decode tokens/s = batch·(new−1)/decode time, and the
//             roofline fraction against the triad bandwidth measured in the same run.
// usage: model_bench CONFIG [--mode train|generate] [--batch B] [--seq T] [--prompt P] [--new N] [--steps S]
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "infer/engine.h"
#include "model/counts.h"
#include "model/model.h"
#include "train/bench.h"

using namespace nanoseek;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int main(int argc, char** argv) try {
  if (argc < 2) fail("usage: model_bench CONFIG [--mode train|generate] [--batch B] [--seq T] [--prompt P] [--new N]");
  std::string config = argv[1], mode = "train";
  int64_t B = 4, T = 256, P = 32, N = 64, steps = 5, warmup = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") mode = v;
    else if (k == "--batch") B = std::stoll(v);
    else if (k == "--seq") T = std::stoll(v);
    else if (k == "--prompt") P = std::stoll(v);
    else if (k == "--new") N = std::stoll(v);
    else if (k == "--steps") steps = std::stoll(v);
    else if (k == "--warmup") warmup = std::stoll(v);
    else fail("unknown option {}", k);
  }
  ModelConfig c = load_config(config);
  Model m(c);
  m.init(0);
  Rng r(0);
  nlohmann::json out = {{"mode", mode}, {"config", config}, {"threads", omp_get_max_threads()}, {"batch", B}};
  if (mode == "train") {
    std::vector<int32_t> ids(B * T), tg(B * T);
    for (auto& x : ids) x = int32_t(r.below(c.vocab_size));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) tg[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : -1;
    Workspace ws = plan_workspace(c, B, T, true);
    m.enable_grad();
    Batch batch{B, T, ids.data(), tg.data(), nullptr};
    LossConfig lc{0.3, 1e-4};
    std::vector<double> times;
    double loss = 0;
    for (int64_t s = 0; s < warmup + steps; ++s) {
      auto t0 = Clock::now();
      m.zero_grad();
      loss = m.forward(batch, ws, lc).loss;
      m.backward(batch, ws, lc);
      if (s >= warmup) times.push_back(secs(t0, Clock::now()));
    }
    const double med = median(times);
    out.update({{"seq", T}, {"tokens_per_s", double(B * T) / med}, {"step_s", med}, {"loss", loss},
                {"activation_mib", double(ws.bytes) / (1 << 20)}});
  } else if (mode == "generate") {
    // the same measurement as `nanoseek bench --only decode` (src/train/bench.cpp), one decode batch
    BenchOptions o;
    o.train = false, o.prefill = true, o.decode = true;
    o.prompt = P, o.new_tokens = N, o.decode_batches = {B};
    const MachineFigures hw = measure_machine();
    const std::vector<BenchRow> rows = bench_model(m, o, hw, false);
    out.update({{"prompt", P}, {"new", N}, {"prefill_tokens_per_s", rows.at(0).tokens_per_s},
                {"tokens_per_s", rows.at(1).tokens_per_s}, {"achieved_gbps", rows.at(1).achieved},
                {"triad_gbps", hw.triad_gbps}, {"roofline_fraction", rows.at(1).fraction}});
  } else {
    fail("--mode must be train or generate");
  }
  fmt::print("{}\n", out.dump());
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "model_bench: {}\n", e.what());
  return 1;
}
