// nanoseek info --config PATH [--json] [--ctx N] — what a config costs, for either architecture: parameters (total /
// active per token / MTP), KV-cache bytes per token (MLA's compressed cache or GQA's K/V) against full MHA of the
// same shape, forward FLOPs per token.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "model/language_model.h"

namespace nanoseek {
namespace {

struct InfoOpts {
  std::string config;
  bool json = false;
  int64_t ctx = 4096;
};

std::string human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.2f}K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

int run_info(const InfoOpts& o) {
  const std::string path = dir_exists(o.config) ? o.config + "/config.json" : o.config;
  check(file_exists(path), "--config {}: no such file", o.config);
  const auto cj = read_json_file(path);
  check(cj.is_object(), "{}: not a JSON object", path);
  const ModelSummary m = summarize_config(cj, path, o.ctx);
  // bytes per token over all layers at 2 bytes per value (bf16)
  const int64_t cache_bytes = 2 * m.cache_values_per_token_layer * m.layers;
  const int64_t mha_bytes = 2 * m.mha_cache_values_per_token_layer * m.layers;
  if (o.json) {
    nlohmann::json j = {
        {"model_type", m.model_type},
        {"architecture", m.architecture},
        {"total_params", m.total_params},
        {"active_params_per_token", m.active_params_per_token},
        {"mtp_params", m.mtp_params},
        {"mtp_active_params", m.mtp_active_params},
        {"embedding_params", m.embedding_params},
        {"kv_cache_kind", m.cache_kind},
        {"kv_cache_bytes_per_token", cache_bytes},
        {"kv_cache_bytes_per_token_mha", mha_bytes},
        {"kv_cache_values_per_token_per_layer", m.cache_values_per_token_layer},
        {"kv_cache_values_per_token_per_layer_mha", m.mha_cache_values_per_token_layer},
        {"forward_flops_per_token", m.matmul_flops_per_token + m.attention_flops_per_token},
        {"forward_flops_per_token_matmul", m.matmul_flops_per_token},
        {"forward_flops_per_token_attention", m.attention_flops_per_token},
        {"flops_context", o.ctx},
    };
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("config            {} ({}: {})\n", o.config, m.model_type, m.architecture);
  for (const std::string& line : m.shape) fmt::print("shape             {}\n", line);
  fmt::print("total params      {:>16L} ({}){}\n", m.total_params, human(double(m.total_params)),
             m.mtp_params ? " without MTP" : "");
  fmt::print("active per token  {:>16L} ({})\n", m.active_params_per_token, human(double(m.active_params_per_token)));
  if (m.mtp_params)
    fmt::print("MTP params        {:>16L} ({}; {} active) excluding shared embedding/head\n", m.mtp_params,
               human(double(m.mtp_params)), human(double(m.mtp_active_params)));
  fmt::print("KV cache / token  {} B ({}: {} values x {} layers, bf16) vs MHA {} B: {:.1f}x smaller\n", cache_bytes,
             m.cache_kind, m.cache_values_per_token_layer, m.layers, mha_bytes, double(mha_bytes) / double(cache_bytes));
  fmt::print("forward FLOPs/tok {} matmul + {} attention at ctx {} = {}\n", human(m.matmul_flops_per_token),
             human(m.attention_flops_per_token), o.ctx, human(m.matmul_flops_per_token + m.attention_flops_per_token));
  return 0;
}

const bool registered = cli::add_command({"info", "Parameter counts, KV-cache bytes and FLOPs of a config", 10,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<InfoOpts>();
      app.add_option("--config", o->config, "HF config.json of any supported model_type (or a model directory)")->required();
      app.add_flag("--json", o->json, "Print machine-readable JSON");
      app.add_option("--ctx", o->ctx, "Context length for the attention FLOPs term")->capture_default_str();
      return [o] { return run_info(*o); };
    }});

}  // namespace
}  // namespace nanoseek
