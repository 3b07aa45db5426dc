// The one place that maps config.json's model_type to an architecture: make_language_model, load_language_model
// and summarize_config. Everything above src/model/ goes through these and the LanguageModel interface.
#include "model/language_model.h"

#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "model/counts.h"
#include "model/dense.h"
#include "model/model.h"

namespace nanoseek {

bool is_dense_model_type(const std::string& t) { return t == "qwen2" || t == "llama"; }

std::string model_type_of(const std::string& dir) {
  const std::string path = dir + "/config.json";
  check(file_exists(path), "{}: no config.json (not a model directory)", dir);
  const auto j = read_json_file(path);
  check(j.is_object(), "{}: not a JSON object", path);
  return json_string(j, "model_type", path);
}

void LanguageModel::init(uint64_t seed) { init_tensors(tensors(), param_buffer().data(), seed, init_std()); }

void LanguageModel::save(const std::string& dir, DType dtype, size_t max_shard_bytes) const {
  save_tensors(dir, tensors(), param_buffer().data(), tensor_aliases(), config_json(), dtype, max_shard_bytes);
}

void LanguageModel::load_weights(const std::string& dir) {
  std::vector<std::string> aliases;
  for (const TensorAlias& a : tensor_aliases()) aliases.push_back(a.name);
  load_tensors(dir, tensors(), param_buffer().data(), aliases,
               [this](const std::string& name) { return ignores_tensor(name); });
}

void copy_params(LanguageModel& to, const LanguageModel& from) {
  const auto src = from.param_buffer();
  const auto dst = to.param_buffer();
  check(to.model_type() == from.model_type() && src.size() == dst.size(),
        "copy_params: a {} model of {} parameters into a {} model of {}", from.model_type(), src.size(),
        to.model_type(), dst.size());
  std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
}

std::unique_ptr<LanguageModel> make_language_model(const nlohmann::json& config, const std::string& label) {
  check(config.is_object() && config.contains("model_type") && config["model_type"].is_string(),
        "{}: field 'model_type' is missing or not a string", label);
  if (is_dense_model_type(config["model_type"].get<std::string>()))
    return std::make_unique<DenseModel>(parse_dense_config(config, label));
  return std::make_unique<Model>(parse_config(config, label));
}

std::unique_ptr<LanguageModel> load_language_model(const std::string& dir) {
  if (is_dense_model_type(model_type_of(dir))) return load_dense_model(dir);
  return load_model(dir);
}

namespace {

ModelSummary summarize_v3(const ModelConfig& c, int64_t ctx) {
  const ModelCounts m = count_model(c, ctx);
  ModelSummary s;
  s.model_type = c.model_type;
  s.architecture = c.n_routed_experts > 0 ? "MLA + DeepSeekMoE" : "MLA + dense FFN";
  if (c.num_nextn_predict_layers > 0) s.architecture += " + MTP";
  s.shape.push_back(fmt::format("d={} layers={} heads={} q_lora={} kv_lora={} nope/rope/v={}/{}/{} vocab={}",
                                c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.q_lora_rank,
                                c.kv_lora_rank, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.vocab_size));
  if (c.n_routed_experts > 0)
    s.shape.push_back(fmt::format("moe: {} routed (top-{}) + {} shared, {} {}, groups {}/{}, first {} dense",
                                  c.n_routed_experts, c.num_experts_per_tok, c.n_shared_experts,
                                  to_string(c.scoring_func), to_string(c.topk_method), c.topk_group, c.n_group,
                                  c.first_k_dense_replace));
  if (c.num_nextn_predict_layers > 0) s.shape.push_back(fmt::format("mtp: depth {}", c.num_nextn_predict_layers));
  s.total_params = m.total_params;
  s.active_params_per_token = m.active_params_per_token;
  s.mtp_params = m.mtp_params;
  s.mtp_active_params = m.mtp_active_params;
  s.embedding_params = m.embedding_params;
  s.layers = c.num_hidden_layers;
  s.hidden_size = c.hidden_size;
  s.vocab_size = c.vocab_size;
  s.max_positions = c.max_position_embeddings;
  s.cache_kind = "compressed MLA latent + RoPE key";
  s.cache_values_per_token_layer = m.mla_cache_values_per_layer;
  s.mha_cache_values_per_token_layer = m.mha_cache_values_per_layer;
  s.matmul_flops_per_token = m.matmul_flops_per_token;
  s.attention_flops_per_token = m.attention_flops_per_token;
  return s;
}

ModelSummary summarize_dense(const DenseConfig& c, int64_t ctx) {
  ModelSummary s;
  s.model_type = c.model_type;
  s.architecture = "dense, GQA + SwiGLU";
  s.shape.push_back(fmt::format("d={} layers={} heads={} kv_heads={} head_dim={} intermediate={} vocab={}{}{}",
                                c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
                                c.head_dim, c.intermediate_size, c.vocab_size, c.qkv_bias ? " qkv_bias" : "",
                                c.tie_word_embeddings ? " tied" : ""));
  const DenseCounts n = count_dense(c);   // closed form: no layout is built for a summary
  s.total_params = n.total_params;
  s.embedding_params = n.embedding_params;
  s.active_params_per_token = s.total_params;
  s.layers = c.num_hidden_layers;
  s.hidden_size = c.hidden_size;
  s.vocab_size = c.vocab_size;
  s.max_positions = c.max_position_embeddings;
  s.cache_kind = "K and V per kv head";
  s.cache_values_per_token_layer = 2 * c.num_key_value_heads * c.head_dim;
  s.mha_cache_values_per_token_layer = 2 * c.num_attention_heads * c.head_dim;
  // Every weight but the embedding lookup does one multiply-add per token; a tied head still does its matmul.
  double matmul = double(s.total_params - c.vocab_size * c.hidden_size);
  if (c.tie_word_embeddings) matmul += double(c.vocab_size * c.hidden_size);
  s.matmul_flops_per_token = 2.0 * matmul;
  // q.k and p.v over head_dim for ctx/2 keys on average, every head, every layer.
  s.attention_flops_per_token =
      2.0 * double(c.num_hidden_layers * c.num_attention_heads) * double(2 * c.head_dim) * (double(ctx) / 2.0);
  return s;
}

}  // namespace

ModelSummary summarize_config(const nlohmann::json& config, const std::string& label, int64_t ctx) {
  check(config.is_object() && config.contains("model_type") && config["model_type"].is_string(),
        "{}: field 'model_type' is missing or not a string", label);
  if (is_dense_model_type(config["model_type"].get<std::string>()))
    return summarize_dense(parse_dense_config(config, label), ctx);
  return summarize_v3(parse_config(config, label), ctx);
}

}  // namespace nanoseek
