// nanoseek init --config PATH --out DIR [--seed N] [--dtype f32|bf16] — a randomly initialised model directory
// in HF layout (config.json + model.safetensors), loadable by every other command. Any architecture the config's
// model_type names: deepseek_v3/deepseek_v2, or a dense qwen2/llama student.
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "model/language_model.h"

namespace nanoseek {
namespace {

struct InitOpts {
  std::string config, out, dtype = "f32";
  uint64_t seed = 0;
};

int run_init(const InitOpts& o) {
  check(o.dtype == "f32" || o.dtype == "bf16", "--dtype must be f32 or bf16, got '{}'", o.dtype);
  const std::string path = dir_exists(o.config) ? o.config + "/config.json" : o.config;
  check(file_exists(path), "--config {}: no such file", o.config);
  const auto j = read_json_file(path);
  check(j.is_object(), "{}: not a JSON object", path);
  const ModelSummary ms = summarize_config(j, path, 1);
  const double bytes = double(ms.total_params + ms.mtp_params) * 4;   // fp32 parameters in memory
  check_memory(o.config + ": init (`init` is for small configs; `info` gives the real model's figures)",
               fmt::format("fp32 parameters {:.1f} MiB", bytes / double(1 << 20)), bytes);
  const std::unique_ptr<LanguageModel> m = make_language_model(j, path);
  m->init(o.seed);
  m->save(o.out, o.dtype == "bf16" ? DType::BF16 : DType::F32);
  fmt::print("wrote {} ({} {} params + {} MTP, {:.1f} MiB {}, seed {})\n", o.out, ms.model_type, ms.total_params,
             ms.mtp_params, double(m->param_buffer().size() * sizeof(float)) / (1 << 20) / (o.dtype == "bf16" ? 2 : 1),
             o.dtype, o.seed);
  return 0;
}

const bool registered = cli::add_command({"init", "Write a randomly initialised model directory (HF layout)", 20,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<InitOpts>();
      app.add_option("--config", o->config, "HF config.json (any supported model_type) or a model directory")->required();
      app.add_option("--out", o->out, "Output model directory")->required();
      app.add_option("--seed", o->seed, "Initialisation seed")->capture_default_str();
      app.add_option("--dtype", o->dtype, "Weight dtype on disk: f32 or bf16")->capture_default_str();
      return [o] { return run_init(*o); };
    }});

}  // namespace
}  // namespace nanoseek
