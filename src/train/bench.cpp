#include "train/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/rng.h"
#include "infer/engine.h"
#include "model/tensors.h"

namespace nanoseek {
namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int64_t cfg_int(const nlohmann::json& c, const char* k, int64_t def) {
  const auto it = c.find(k);
  return it != c.end() && it->is_number_integer() ? it->get<int64_t>() : def;
}

std::vector<int32_t> random_ids(Rng& r, int64_t n, int64_t vocab) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = int32_t(r.below(uint64_t(vocab)));
  return v;
}

// Forward FLOPs per token of a sequence of T tokens: every matmul (2 per active weight, the head included), the
// attention over T/2 keys on average, and with MTP its D modules (their layer, eh_proj and the shared head).
double forward_flops_per_token(const LanguageModel& m, int64_t T, bool with_mtp) {
  const nlohmann::json cj = m.config_json();
  const ModelSummary s = summarize_config(cj, "bench", T);
  double f = s.matmul_flops_per_token + s.attention_flops_per_token;
  if (with_mtp && m.has_mtp()) {
    const double D = double(cfg_int(cj, "num_nextn_predict_layers", 0));
    f += 2.0 * (double(s.mtp_active_params) + D * double(s.vocab_size) * double(s.hidden_size)) +
         D * s.attention_flops_per_token / double(std::max<int64_t>(s.layers, 1));
  }
  return f;
}

// Bytes one decode step of `batch` sequences must read: every weight of the main model once (MTP modules are not
// used to decode), routed experts as many as the batch touches on average under uniform routing, `batch` rows of
// an untied embedding table, and the cache rows of every sequence at mean length `mean_len`.
double decode_bytes_per_step(const LanguageModel& m, const CachePlan& cache, int64_t batch, double mean_len,
                             DecodeWeights weights) {
  const nlohmann::json cj = m.config_json();
  const int64_t layers = cfg_int(cj, "num_hidden_layers", 0), E = cfg_int(cj, "n_routed_experts", 0);
  const int64_t K = cfg_int(cj, "num_experts_per_tok", 0);
  const bool tied = cj.value("tie_word_embeddings", false);
  const double touched = E > 0 ? 1.0 - std::pow(1.0 - double(K) / double(E), double(batch)) : 0.0;
  double bytes = 0;
  for (const TensorSpec& s : m.tensors().specs) {
    if (s.layer >= layers) continue;
    // bf16: the matmul weights are read from the engine's bf16 copy; norms and biases stay fp32
    const bool matmul = s.role != Role::Norm && s.role != Role::Bias && s.role != Role::RouterBias;
    const double b = (weights == DecodeWeights::BF16 && matmul ? 2.0 : 4.0) * double(s.numel());
    if (s.role == Role::RoutedExpert) bytes += b * touched;
    else if (s.role == Role::Embed && !tied) bytes += 4.0 * double(batch) * double(s.shape.back());   // fp32 rows
    else bytes += b;
  }
  return bytes + 4.0 * double(batch) * mean_len * double(cache.values_per_token) * double(cache.layers);
}

}  // namespace

nlohmann::json MachineFigures::to_json() const {
  return {{"cpu", cpu.model},
          {"isa", cpu.isa},
          {"avx512_bf16", cpu.avx512_bf16},
          {"amx", cpu.amx},
          {"threads", cpu.threads},
          {"gemm_gflops", gemm_gflops},
          {"triad_gbps", triad_gbps},
          {"gemv_f32_gbps", gemv_f32_gbps},
          {"gemv_bf16_gbps", gemv_bf16_gbps},
          {"gemm_bf16_gflops", gemm_bf16_gflops},
          {"bf16_isa", bf16_isa}};
}

MachineFigures measure_machine() {
  MachineFigures h;
  h.cpu = cpu_info();
  h.gemm_gflops = measure_gemm_gflops();
  h.triad_gbps = measure_triad_gbps();
  h.gemv_f32_gbps = measure_gemv_gbps(false);
  h.gemv_bf16_gbps = measure_gemv_gbps(true);
  h.bf16_isa = bf16_compute_isa();
  if (bf16_compute_available()) {
    const Bf16ComputeScope bf16;
    h.gemm_bf16_gflops = measure_gemm_gflops();
  }
  return h;
}

std::vector<BenchRow> bench_model(LanguageModel& m, const BenchOptions& o, const MachineFigures& hw, bool progress) {
  check(o.batch >= 1 && o.seq >= 2 && o.steps >= 1 && o.warmup >= 0, "bench: need --batch >= 1, --seq >= 2, --steps >= 1");
  check(o.prompt >= 1 && o.new_tokens >= 2, "bench: need --prompt >= 1 and --new >= 2");
  check(o.seq <= m.max_positions() && o.prompt + o.new_tokens <= m.max_positions(),
        "bench: --seq {} or --prompt + --new {} exceeds the model's {} positions", o.seq, o.prompt + o.new_tokens,
        m.max_positions());
  for (int64_t b : o.decode_batches) check(b >= 1, "bench: decode batch {} must be >= 1", b);
  auto say = [&](const std::string& what) {
    if (progress) std::fprintf(stderr, "bench: %s...\n", what.c_str());
  };
  const bool bf16 = o.precision == Precision::Bf16;
  const Bf16ComputeScope compute(bf16, "bench --precision bf16");
  const double peak = bf16 ? hw.gemm_bf16_gflops : hw.gemm_gflops;
  Rng r(0);
  std::vector<BenchRow> rows;
  const int64_t V = m.vocab_size();
  if (o.train) {
    say(fmt::format("train {} x {}", o.batch, o.seq));
    const int64_t B = o.batch, T = o.seq;
    const std::vector<int32_t> ids = random_ids(r, B * T, V);
    std::vector<int32_t> tg(ids.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) tg[size_t(b * T + t)] = t + 1 < T ? ids[size_t(b * T + t + 1)] : -1;
    m.enable_grad();
    const auto acts = m.plan(B, T, true);
    const Batch batch{B, T, ids.data(), tg.data(), nullptr, nullptr};
    const LossConfig lc{0.3, 1e-4};
    std::vector<double> t;
    for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
      const auto t0 = Clock::now();
      m.zero_grad();
      m.forward(batch, *acts, lc);
      m.backward(batch, *acts, lc);
      if (s >= o.warmup) t.push_back(secs(t0, Clock::now()));
    }
    BenchRow row{"train", B, T, double(B * T) / median(t), precision_name(o.precision), "MFU"};
    row.achieved = row.tokens_per_s * 3.0 * forward_flops_per_token(m, T, true) / 1e9;
    row.fraction = row.achieved / peak;
    rows.push_back(row);
  }
  std::vector<int64_t> batches = o.decode ? o.decode_batches : std::vector<int64_t>{};
  if (o.prefill && batches.empty()) batches.push_back(1);
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    const int64_t B = batches[bi], P = o.prompt, N = o.new_tokens;
    say(fmt::format("generate: batch {}, {} prompt + {} new tokens", B, P, N));
    Engine e(m, B, P + N, o.weights);
    GenerateRequest req;
    for (int64_t b = 0; b < B; ++b) req.prompts.push_back(random_ids(r, P, V));
    req.sampling.temperature = 0;
    req.sampling.max_new_tokens = int(N);
    // every sequence's first token comes right after the prefill: the prefill ends when all B have one
    Clock::time_point t_first;
    size_t seen = 0;
    req.on_token = [&](size_t, int32_t) {
      if (++seen == size_t(B)) t_first = Clock::now();
      return true;
    };
    const auto t0 = Clock::now();
    const std::vector<Completion> out = e.generate(req);
    const auto t2 = Clock::now();
    int64_t generated = 0;
    for (const Completion& c : out) generated += int64_t(c.tokens.size());
    if (o.prefill && bi == 0) {
      BenchRow row{"prefill", B, P, double(B * P) / secs(t0, t_first), precision_name(o.precision), "MFU"};
      // the head runs for the last prompt token only
      const double head = 2.0 * double(V) * double(m.hidden_size());
      row.achieved = (double(B * P) * (forward_flops_per_token(m, P, false) - head) + double(B) * head) /
                     secs(t0, t_first) / 1e9;
      row.fraction = row.achieved / peak;
      rows.push_back(row);
    }
    if (o.decode) {
      check(generated == B * N, "bench: decoding stopped early ({} of {} tokens)", generated, B * N);
      const double decode_s = secs(t_first, t2), step_s = decode_s / double(N - 1);
      BenchRow row{"decode", B, N, double(B * (N - 1)) / decode_s, "fp32", "roofline"};
      row.achieved = decode_bytes_per_step(m, e.plan(), B, double(P) + double(N) / 2.0, o.weights) / step_s / 1e9;
      row.fraction = row.achieved / hw.triad_gbps;
      rows.push_back(row);
    }
  }
  return rows;
}

std::string bench_table(const std::vector<BenchRow>& rows, const MachineFigures& hw, const std::string& what) {
  std::string s = fmt::format(
      "{}\n{} | {} | {} threads | GEMM peak {:.1f} GFLOP/s fp32, {} bf16 | triad {:.1f} GB/s | decode kernels "
      "{:.1f} GB/s fp32, {:.1f} GB/s bf16\n\n",
      what, hw.cpu.model, hw.cpu.isa, hw.cpu.threads, hw.gemm_gflops,
      hw.gemm_bf16_gflops > 0 ? fmt::format("{:.1f} GFLOP/s ({})", hw.gemm_bf16_gflops, hw.bf16_isa) : "none",
      hw.triad_gbps, hw.gemv_f32_gbps, hw.gemv_bf16_gbps);
  s += "| test | compute | batch | tokens | tokens/s | achieved | of the limit |\n|---|---|---|---|---|---|---|\n";
  for (const BenchRow& r : rows)
    s += fmt::format("| {} | {} | {} | {} | {:.1f} | {:.1f} {} | {:.1f}% {} |\n", r.test, r.precision, r.batch,
                     r.tokens, r.tokens_per_s, r.achieved, r.limit == "MFU" ? "GFLOP/s" : "GB/s", 100.0 * r.fraction,
                     r.limit);
  return s;
}

nlohmann::json bench_json(const std::vector<BenchRow>& rows, const MachineFigures& hw, const std::string& what) {
  nlohmann::json j = {{"model", what}, {"machine", hw.to_json()}, {"results", nlohmann::json::array()}};
  for (const BenchRow& r : rows)
    j["results"].push_back({{"test", r.test},
                            {"batch", r.batch},
                            {"tokens", r.tokens},
                            {"tokens_per_s", r.tokens_per_s},
                            {"precision", r.precision},
                            {"limit", r.limit},
                            {r.limit == "MFU" ? "gflops" : "gbps", r.achieved},
                            {"fraction", r.fraction}});
  return j;
}

}  // namespace nanoseek
