// nanoseek info --config PATH [--json] [--ctx N] — what a config costs: parameters (total / active per token / MTP),
// KV-cache bytes per token for MLA vs MHA of the same shape, forward FLOPs per token.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "model/config.h"
#include "model/counts.h"

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
  ModelConfig c = load_config(o.config);
  ModelCounts m = count_model(c, o.ctx);
  if (o.json) {
    nlohmann::json j = {
        {"model_type", c.model_type},
        {"total_params", m.total_params},
        {"active_params_per_token", m.active_params_per_token},
        {"mtp_params", m.mtp_params},
        {"mtp_active_params", m.mtp_active_params},
        {"embedding_params", m.embedding_params},
        {"kv_cache_bytes_per_token_mla", m.mla_cache_bytes_per_token},
        {"kv_cache_bytes_per_token_mha", m.mha_cache_bytes_per_token},
        {"kv_cache_values_per_token_per_layer_mla", m.mla_cache_values_per_layer},
        {"kv_cache_values_per_token_per_layer_mha", m.mha_cache_values_per_layer},
        {"forward_flops_per_token", m.matmul_flops_per_token + m.attention_flops_per_token},
        {"forward_flops_per_token_matmul", m.matmul_flops_per_token},
        {"forward_flops_per_token_attention", m.attention_flops_per_token},
        {"flops_context", o.ctx},
    };
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("config            {} ({})\n", o.config, c.model_type);
  fmt::print("shape             d={} layers={} heads={} q_lora={} kv_lora={} nope/rope/v={}/{}/{} vocab={}\n",
             c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.q_lora_rank, c.kv_lora_rank,
             c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.vocab_size);
  if (c.n_routed_experts > 0)
    fmt::print("moe               {} routed (top-{}) + {} shared, {} {}, groups {}/{}, first {} dense\n",
               c.n_routed_experts, c.num_experts_per_tok, c.n_shared_experts, to_string(c.scoring_func),
               to_string(c.topk_method), c.topk_group, c.n_group, c.first_k_dense_replace);
  fmt::print("total params      {:>16L} ({}) without MTP\n", m.total_params, human(m.total_params));
  fmt::print("active per token  {:>16L} ({})\n", m.active_params_per_token, human(m.active_params_per_token));
  fmt::print("MTP params        {:>16L} ({}; {} active) excluding shared embedding/head, D={}\n", m.mtp_params,
             human(m.mtp_params), human(m.mtp_active_params), c.num_nextn_predict_layers);
  fmt::print("KV cache / token  MLA {} B ({} values x {} layers, bf16) vs MHA {} B: {:.1f}x smaller\n",
             m.mla_cache_bytes_per_token, m.mla_cache_values_per_layer, c.num_hidden_layers,
             m.mha_cache_bytes_per_token, double(m.mha_cache_bytes_per_token) / m.mla_cache_bytes_per_token);
  fmt::print("forward FLOPs/tok {} matmul + {} attention at ctx {} = {}\n", human(m.matmul_flops_per_token),
             human(m.attention_flops_per_token), o.ctx, human(m.matmul_flops_per_token + m.attention_flops_per_token));
  return 0;
}

const bool registered = cli::add_command({"info", "Parameter counts, KV-cache bytes and FLOPs of a config", 10,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<InfoOpts>();
      app.add_option("--config", o->config, "HF config.json (or a model directory)")->required();
      app.add_flag("--json", o->json, "Print machine-readable JSON");
      app.add_option("--ctx", o->ctx, "Context length for the attention FLOPs term")->capture_default_str();
      return [o] { return run_info(*o); };
    }});

}  // namespace
}  // namespace nanoseek
