// nanoseek bench (--config FILE | --model DIR) [--batch B --seq T] [--prompt P --new N] [--decode-batch 1,8]
//                [--only train|prefill|decode|machine] [--weights f32|bf16] [--precision fp32|bf16] [--json] — train / prefill / decode tokens/s on this machine
// next to its measured limits (GEMM peak, triad bandwidth): MFU and roofline fractions (train/bench.h says how).
// A config gets random weights (init seed 0); a model directory is loaded as it is.
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "model/memory_preflight.h"
#include "model/model.h"
#include "ops/gemm_bf16.h"
#include "train/bench.h"

namespace nanoseek {
namespace {

struct BenchCli {
  std::string config, model, only, decode_batches = "1,8", weights = "f32", precision = "fp32";
  bool json = false;
  BenchOptions o;
};

int run_bench(BenchCli& c) {
  check(c.config.empty() != c.model.empty(), "bench: give exactly one of --config FILE and --model DIR");
  if (!c.only.empty()) {
    check(c.only == "train" || c.only == "prefill" || c.only == "decode" || c.only == "machine",
          "bench --only '{}': must be train, prefill, decode or machine", c.only);
    c.o.train = c.only == "train", c.o.prefill = c.only == "prefill", c.o.decode = c.only == "decode";
  }
  c.o.weights = parse_decode_weights(c.weights);
  c.o.precision = parse_precision(c.precision);
  if (c.o.precision == Precision::Bf16)
    check(bf16_compute_available(), "bench --precision bf16: {}", bf16_compute_unavailable());
  c.o.decode_batches.clear();
  for (const std::string& b : cli::split_csv(c.decode_batches)) {
    int64_t v = 0;
    try {
      size_t used = 0;
      v = std::stoll(b, &used);
      check(used == b.size(), "");
    } catch (const std::exception&) {
      fail("bench --decode-batch '{}': '{}' is not an integer", c.decode_batches, b);
    }
    c.o.decode_batches.push_back(v);
  }
  std::unique_ptr<LanguageModel> m;
  std::string what;
  if (c.only != "machine") {
    if (!c.model.empty()) {
      m = load_language_model(c.model);
      what = c.model;
    } else {
      const auto cj = read_json_file(c.config);
      check(cj.is_object(), "{}: not a JSON object", c.config);
      preflight_model_memory(cj, c.config, c.o.train ? MemUse::Train : MemUse::Load);
      m = make_language_model(cj, c.config);
      m->init(0);
      what = c.config;
    }
    what = fmt::format("{} ({}, {:.1f}M parameters, {} weights)", what, m->model_type(),
                       double(m->tensors().params) / 1e6, decode_weights_name(c.o.weights));
  }
  if (!c.json) std::fprintf(stderr, "bench: measuring the machine (GEMM peak, triad, decode kernels)...\n");
  const MachineFigures hw = measure_machine();
  const std::vector<BenchRow> rows = m ? bench_model(*m, c.o, hw, !c.json) : std::vector<BenchRow>{};
  if (c.json) fmt::print("{}\n", bench_json(rows, hw, what).dump());
  else fmt::print("{}", bench_table(rows, hw, what.empty() ? "machine" : what));
  return 0;
}

const bool registered = cli::add_command({"bench", "Train / prefill / decode tokens/s next to this machine's "
                                          "measured GEMM peak and bandwidth (MFU, roofline)", 12,
    [](CLI::App& app) -> cli::Runner {
      auto c = std::make_shared<BenchCli>();
      app.add_option("--config", c->config, "HF config.json (random weights)");
      app.add_option("--model", c->model, "Model directory (its weights)");
      app.add_option("--batch", c->o.batch, "Training batch B")->capture_default_str();
      app.add_option("--seq", c->o.seq, "Training sequence length T")->capture_default_str();
      app.add_option("--steps", c->o.steps, "Timed training steps (median)")->capture_default_str();
      app.add_option("--prompt", c->o.prompt, "Prompt tokens per sequence (prefill, decode)")->capture_default_str();
      app.add_option("--new", c->o.new_tokens, "Generated tokens per sequence (decode)")->capture_default_str();
      app.add_option("--decode-batch", c->decode_batches, "Comma-separated decode batches")->capture_default_str();
      app.add_option("--only", c->only, "train | prefill | decode | machine (default: all)");
      cli::add_weights_option(app, c->weights);
      app.add_option("--precision", c->precision, "Train / prefill GEMMs: fp32 | bf16 (AMX / AVX512-BF16)")
          ->capture_default_str();
      app.add_flag("--json", c->json, "One JSON object instead of the table");
      return [c] { return run_bench(*c); };
    }});

}  // namespace
}  // namespace nanoseek
