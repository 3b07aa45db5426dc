// nanoseek init --config PATH --out DIR [--seed N] [--dtype f32|bf16] — a randomly initialised model directory
// in HF layout (config.json + model.safetensors), loadable by every other command.
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "model/counts.h"

namespace nanoseek {
namespace {

struct InitOpts {
  std::string config, out, dtype = "f32";
  uint64_t seed = 0;
};

int run_init(const InitOpts& o) {
  ModelConfig c = load_config(o.config);
  const ModelCounts mc = count_model(c, 1);
  const double gib = double(tensor_layout(c).total) * 4 / double(1 << 30);
  check(gib < 64, "{}: {:.0f} GiB of fp32 parameters will not fit in memory; `init` is for small configs "
        "(use `info` for the real model's figures)", o.config, gib);
  check(o.dtype == "f32" || o.dtype == "bf16", "--dtype must be f32 or bf16, got '{}'", o.dtype);
  Model m(c);
  init_weights(m, o.seed);
  save_model(m, o.out, o.dtype == "bf16" ? DType::BF16 : DType::F32);
  fmt::print("wrote {} ({} params + {} MTP, {:.1f} MiB {}, seed {})\n", o.out, mc.total_params, mc.mtp_params,
             double(m.param_bytes()) / (1 << 20) / (o.dtype == "bf16" ? 2 : 1), o.dtype, o.seed);
  return 0;
}

const bool registered = cli::add_command({"init", "Write a randomly initialised model directory (HF layout)", 20,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<InitOpts>();
      app.add_option("--config", o->config, "HF config.json")->required();
      app.add_option("--out", o->out, "Output model directory")->required();
      app.add_option("--seed", o->seed, "Initialisation seed")->capture_default_str();
      app.add_option("--dtype", o->dtype, "Weight dtype on disk: f32 or bf16")->capture_default_str();
      return [o] { return run_init(*o); };
    }});

}  // namespace
}  // namespace nanoseek
