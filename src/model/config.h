// ModelConfig — the HF config.json of deepseek_v3 / deepseek_v2, with every field the math depends on.
// Parsing is strict: a missing, unknown-valued or inconsistent field that changes the math is an Error naming it.
// The only defaults are the ones HF itself documents for fields absent from real configs (listed in config.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ops/moe_router.h"
#include "ops/rope.h"

namespace nanoseek {


struct ModelConfig {
  std::string model_type;          // "deepseek_v3" or "deepseek_v2"
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, moe_intermediate_size = 0;
  int64_t num_hidden_layers = 0, num_attention_heads = 0;
  int64_t q_lora_rank = 0;         // 0 <=> JSON null: a single full-rank q_proj
  int64_t kv_lora_rank = 0, qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;
  double rope_theta = 10000, rms_norm_eps = 1e-6;
  std::optional<YarnScaling> rope_scaling;
  int64_t n_routed_experts = 0, n_shared_experts = 0, num_experts_per_tok = 0;
  int64_t n_group = 1, topk_group = 1;
  TopkMethod topk_method = TopkMethod::Greedy;
  ScoringFunc scoring_func = ScoringFunc::Softmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1;
  int64_t first_k_dense_replace = 0, moe_layer_freq = 1;
  int64_t num_nextn_predict_layers = 0;  // MTP depth D
  bool tie_word_embeddings = false;
  int64_t max_position_embeddings = 0;
  int64_t bos_token_id = -1, eos_token_id = -1;
  double initializer_range = 0.02;
  double aux_loss_alpha = 0.001;   // informational: training recipes set α explicitly
  nlohmann::json extra;            // fields we do not interpret (quantization_config, architectures...), kept on write

  // derived
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  int64_t q_out_dim() const { return num_attention_heads * qk_head_dim(); }
  int64_t kv_a_dim() const { return kv_lora_rank + qk_rope_head_dim; }
  int64_t kv_b_dim() const { return num_attention_heads * (qk_nope_head_dim + v_head_dim); }
  int64_t o_in_dim() const { return num_attention_heads * v_head_dim; }
  int64_t shared_inter() const { return n_shared_experts * moe_intermediate_size; }
  int64_t total_layers() const { return num_hidden_layers + num_nextn_predict_layers; }  // incl. MTP layers
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  bool has_correction_bias() const { return topk_method == TopkMethod::NoauxTc; }
};

ModelConfig parse_config(const nlohmann::json& j, const std::string& label);
ModelConfig load_config(const std::string& path);  // path to config.json or to a model directory containing one
nlohmann::json config_to_json(const ModelConfig& c);
void save_config(const ModelConfig& c, const std::string& path);  // atomic

RouterConfig router_config(const ModelConfig& c);   // the router's part of the config (ops/moe_router.h)

}  // namespace nanoseek
