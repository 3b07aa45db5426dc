// Model throughput, the C++ side of docs/benchmarks.md (the PyTorch side is tools/reference/bench_torch.py with the
// same protocol). Prints one JSON line per measurement.
//   train:    forward + backward of the full loss (CE + MTP λ=0.3 + balance α=1e-4) on random tokens, `--warmup`
//             untimed steps, median of `--steps` timed steps → tokens/s.
//   generate: greedy decode with the engine: --batch prompts of --prompt random tokens, --new tokens each;
//             decode tokens/s = batch·(new−1)/decode time (the first token comes from the prefill, timed apart),
//             plus the decode roofline: bytes of weights + KV cache read per decode step against the memory
//             bandwidth measured here by a STREAM-style triad.
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

using namespace nanoseek;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// STREAM triad a = b + s·c over 3 × 128 MiB arrays; bytes moved counted as 3 per element (no write-allocate).
static double triad_gbps() {
  const size_t n = size_t(32) << 20;
  std::vector<float> a(n), b(n, 1.f), c(n, 2.f);
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
    t.push_back(secs(t0, Clock::now()));
  }
  volatile float sink = a[n / 2];
  (void)sink;
  return 3.0 * n * sizeof(float) / median(t) / 1e9;
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
    check(N >= 2, "--new must be >= 2");
    Engine e(m, B, P + N);
    std::vector<std::vector<int32_t>> prompts(B, std::vector<int32_t>(P));
    for (auto& p : prompts)
      for (auto& x : p) x = int32_t(r.below(c.vocab_size));
    GenerateRequest req;
    req.prompts = prompts;
    req.sampling.temperature = 0;
    req.sampling.max_new_tokens = int(N);
    // Time the prefill step apart: the callback fires first for every sequence right after the prefill.
    Clock::time_point t_first;
    size_t seen = 0;
    req.on_token = [&](size_t, int32_t) {
      if (++seen == size_t(B)) t_first = Clock::now();
      return true;
    };
    auto t0 = Clock::now();
    e.generate(req);
    auto t2 = Clock::now();
    const double decode_s = secs(t_first, t2), prefill_s = secs(t0, t_first);
    const double tps = double(B * (N - 1)) / decode_s;
    // Bytes per decode step: every weight except routed experts and the embedding table is read once; routed
    // experts touched ≈ E·(1 − (1 − K/E)^B) per layer (uniform routing); B embedding rows; the cache rows of every
    // sequence at its mean length P + N/2.
    const TensorLayout lay = tensor_layout(c);
    double wbytes = 0, expert_bytes = 0;
    for (const TensorSpec& s : lay.specs) {
      if (s.layer >= c.num_hidden_layers) continue;  // MTP is not used for decoding
      if (s.role == Role::RoutedExpert) expert_bytes += 4.0 * s.numel();
      else if (s.role == Role::Embed) wbytes += 4.0 * B * c.hidden_size;
      else wbytes += 4.0 * s.numel();
    }
    double touched = c.n_routed_experts ? 1.0 - std::pow(1.0 - double(c.num_experts_per_tok) / c.n_routed_experts, B) : 0;
    wbytes += expert_bytes * touched;
    const double cache_bytes = 4.0 * B * (P + N / 2.0) * (c.kv_lora_rank + c.qk_rope_head_dim) * c.num_hidden_layers;
    const double step_s = decode_s / double(N - 1), bw = triad_gbps();
    out.update({{"prompt", P}, {"new", N}, {"tokens_per_s", tps}, {"prefill_tokens_per_s", double(B * P) / prefill_s},
                {"bytes_per_step", wbytes + cache_bytes}, {"achieved_gbps", (wbytes + cache_bytes) / step_s / 1e9},
                {"triad_gbps", bw}, {"roofline_fraction", (wbytes + cache_bytes) / step_s / 1e9 / bw}});
  } else {
    fail("--mode must be train or generate");
  }
  fmt::print("{}\n", out.dump());
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "model_bench: {}\n", e.what());
  return 1;
}
