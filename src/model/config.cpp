#include "model/config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "model/counts.h"

namespace nanoseek {

using json = nlohmann::json;

RouterConfig router_config(const ModelConfig& c) {
  RouterConfig r;
  r.E = c.n_routed_experts;
  r.K = c.num_experts_per_tok;
  r.n_group = c.n_group;
  r.topk_group = c.topk_group;
  r.scoring = c.scoring_func;
  r.method = c.topk_method;
  r.norm_topk_prob = c.norm_topk_prob;
  r.routed_scaling = float(c.routed_scaling_factor);
  return r;
}

namespace {

// Fields read by parse_config; everything else in the file is kept verbatim in `extra`.
const std::set<std::string> kKnown = {
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "moe_intermediate_size", "num_hidden_layers",
    "num_attention_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
    "rope_theta", "rms_norm_eps", "rope_scaling", "n_routed_experts", "n_shared_experts", "num_experts_per_tok",
    "n_group", "topk_group", "topk_method", "scoring_func", "norm_topk_prob", "routed_scaling_factor",
    "first_k_dense_replace", "moe_layer_freq", "num_nextn_predict_layers", "tie_word_embeddings",
    "max_position_embeddings", "bos_token_id", "eos_token_id", "initializer_range", "aux_loss_alpha",
    "num_key_value_heads", "attention_bias", "hidden_act"};

// Typed field reads; every message names the file (label) and the field (prefix + key, e.g. 'rope_scaling.type').
struct Reader {
  const json& j;
  const std::string& label;
  std::string prefix;   // "" at the top level, "rope_scaling." inside it

  std::string field(const char* k) const { return prefix + k; }
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  const json& need(const char* k) const {
    auto it = j.find(k);
    if (it == j.end()) fail("{}: required field '{}' is missing", label, field(k));
    return *it;
  }
  int64_t integer(const char* k, int64_t min) const {
    int64_t x = json_as_int(need(k), label, field(k));
    check(x >= min, "{}: field '{}' must be >= {}, got {}", label, field(k), min, x);
    return x;
  }
  int64_t integer_or(const char* k, int64_t min, int64_t def) const { return has(k) ? integer(k, min) : def; }
  double number(const char* k, double min_exclusive) const {
    const json& v = need(k);
    check(v.is_number(), "{}: field '{}' must be a number, got {}", label, field(k), json_brief(v));
    double x = v.get<double>();
    check(std::isfinite(x) && x > min_exclusive, "{}: field '{}' must be > {}, got {}", label, field(k),
          min_exclusive, x);
    return x;
  }
  bool boolean(const char* k) const {
    const json& v = need(k);
    check(v.is_boolean(), "{}: field '{}' must be true or false, got {}", label, field(k), json_brief(v));
    return v.get<bool>();
  }
  std::string string(const char* k) const {
    const json& v = need(k);
    check(v.is_string(), "{}: field '{}' must be a string, got {}", label, field(k), json_brief(v));
    return v.get<std::string>();
  }
};

YarnScaling parse_yarn(const json& r, const std::string& label) {
  check(r.is_object(), "{}: field 'rope_scaling' must be null or an object, got {}", label, json_brief(r));
  Reader rd{r, label, "rope_scaling."};
  std::string type = r.contains("type") ? rd.string("type") : r.contains("rope_type") ? rd.string("rope_type") : "";
  check(type == "yarn", "{}: rope_scaling.type '{}' is not supported (only \"yarn\", or rope_scaling: null)", label, type);
  const std::string& sub = label;
  YarnScaling y;
  y.factor = rd.number("factor", 0);
  y.original_max_position_embeddings = rd.integer("original_max_position_embeddings", 1);
  y.beta_fast = rd.number("beta_fast", 0);
  y.beta_slow = rd.number("beta_slow", 0);
  y.mscale = rd.number("mscale", -1e300);
  // HF: mscale_all_dim absent or 0 means "no softmax-scale correction".
  y.mscale_all_dim = rd.has("mscale_all_dim") ? rd.number("mscale_all_dim", -1e300) : 0.0;
  check(y.beta_fast > y.beta_slow, "{}: rope_scaling.beta_fast ({}) must exceed rope_scaling.beta_slow ({})", sub,
        y.beta_fast, y.beta_slow);
  return y;
}

}  // namespace

ModelConfig parse_config(const json& j, const std::string& label) {
  check(j.is_object(), "{}: config must be a JSON object", label);
  Reader rd{j, label, ""};
  ModelConfig c;
  c.model_type = rd.string("model_type");
  check(c.model_type == "deepseek_v3" || c.model_type == "deepseek_v2",
        "{}: model_type '{}' is not supported (deepseek_v3, deepseek_v2)", label, c.model_type);
  c.vocab_size = rd.integer("vocab_size", 1);
  c.hidden_size = rd.integer("hidden_size", 1);
  c.intermediate_size = rd.integer("intermediate_size", 1);
  c.num_hidden_layers = rd.integer("num_hidden_layers", 1);
  c.num_attention_heads = rd.integer("num_attention_heads", 1);
  // q_lora_rank: null (V2-Lite) means no query compression; the key itself must be present.
  const json& ql = rd.need("q_lora_rank");
  c.q_lora_rank = ql.is_null() ? 0 : rd.integer("q_lora_rank", 1);
  c.kv_lora_rank = rd.integer("kv_lora_rank", 1);
  c.qk_nope_head_dim = rd.integer("qk_nope_head_dim", 1);
  c.qk_rope_head_dim = rd.integer("qk_rope_head_dim", 2);
  check(c.qk_rope_head_dim % 2 == 0, "{}: qk_rope_head_dim must be even (RoPE rotates pairs), got {}", label,
        c.qk_rope_head_dim);
  c.v_head_dim = rd.integer("v_head_dim", 1);
  c.rope_theta = rd.number("rope_theta", 0);
  c.rms_norm_eps = rd.number("rms_norm_eps", 0);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) c.rope_scaling = parse_yarn(j["rope_scaling"], label);
  c.max_position_embeddings = rd.integer("max_position_embeddings", 1);

  // MoE. n_routed_experts null/0 would mean a dense model; real DeepSeek configs always have experts.
  c.n_routed_experts = rd.integer("n_routed_experts", 0);
  if (c.n_routed_experts > 0) {
    c.moe_intermediate_size = rd.integer("moe_intermediate_size", 1);
    c.n_shared_experts = rd.integer("n_shared_experts", 0);
    c.num_experts_per_tok = rd.integer("num_experts_per_tok", 1);
    check(c.num_experts_per_tok <= c.n_routed_experts, "{}: num_experts_per_tok ({}) exceeds n_routed_experts ({})",
          label, c.num_experts_per_tok, c.n_routed_experts);
    std::string method = rd.string("topk_method");
    if (method == "noaux_tc") c.topk_method = TopkMethod::NoauxTc;
    else if (method == "greedy") c.topk_method = TopkMethod::Greedy;
    else if (method == "group_limited_greedy") c.topk_method = TopkMethod::GroupLimitedGreedy;
    else fail("{}: topk_method '{}' is not supported (noaux_tc, greedy, group_limited_greedy)", label, method);
    // HF DeepseekV2/V3 configs default scoring_func to softmax (V2) / sigmoid (V3) but every real file sets it.
    std::string scoring = rd.string("scoring_func");
    if (scoring == "sigmoid") c.scoring_func = ScoringFunc::Sigmoid;
    else if (scoring == "softmax") c.scoring_func = ScoringFunc::Softmax;
    else fail("{}: scoring_func '{}' is not supported (sigmoid, softmax)", label, scoring);
    bool ok = (c.scoring_func == ScoringFunc::Sigmoid && c.topk_method == TopkMethod::NoauxTc) ||
              (c.scoring_func == ScoringFunc::Softmax && c.topk_method != TopkMethod::NoauxTc);
    check(ok, "{}: scoring_func '{}' with topk_method '{}' is not a DeepSeek combination "
          "(sigmoid+noaux_tc for V3; softmax+greedy or softmax+group_limited_greedy for V2)", label, scoring, method);
    c.n_group = rd.integer_or("n_group", 1, 1);
    c.topk_group = rd.integer_or("topk_group", 1, 1);
    check(c.n_routed_experts % c.n_group == 0, "{}: n_routed_experts ({}) must be divisible by n_group ({})", label,
          c.n_routed_experts, c.n_group);
    check(c.topk_group <= c.n_group, "{}: topk_group ({}) exceeds n_group ({})", label, c.topk_group, c.n_group);
    if (c.topk_method != TopkMethod::Greedy && c.n_group > 1) {
      int64_t per_group = c.n_routed_experts / c.n_group;
      check(c.topk_method != TopkMethod::NoauxTc || per_group >= 2,
            "{}: noaux_tc scores a group by its top-2 experts, but n_group {} leaves {} expert(s) per group", label,
            c.n_group, per_group);
      check(c.topk_group * per_group >= c.num_experts_per_tok,
            "{}: topk_group ({}) groups of {} experts cannot hold num_experts_per_tok ({})", label, c.topk_group,
            per_group, c.num_experts_per_tok);
    }
    c.norm_topk_prob = rd.boolean("norm_topk_prob");
    c.routed_scaling_factor = rd.number("routed_scaling_factor", 0);
    c.first_k_dense_replace = rd.integer("first_k_dense_replace", 0);
    c.moe_layer_freq = rd.integer_or("moe_layer_freq", 1, 1);  // absent in some V2 files; HF default 1
  }
  // Absent from every deepseek_v2 config; HF's default is 0 (no MTP module).
  c.num_nextn_predict_layers = rd.integer_or("num_nextn_predict_layers", 0, 0);
  // HF's DeepseekV2/V3Config default is false; real files set it explicitly.
  c.tie_word_embeddings = j.contains("tie_word_embeddings") ? rd.boolean("tie_word_embeddings") : false;
  c.bos_token_id = rd.integer_or("bos_token_id", 0, -1);
  c.eos_token_id = rd.integer_or("eos_token_id", 0, -1);
  c.initializer_range = j.contains("initializer_range") ? rd.number("initializer_range", 0) : 0.02;
  c.aux_loss_alpha = rd.has("aux_loss_alpha") ? rd.number("aux_loss_alpha", -1e300) : 0.001;
  check(c.aux_loss_alpha >= 0, "{}: field 'aux_loss_alpha' must be >= 0, got {}", label, c.aux_loss_alpha);

  // MLA has no grouped-KV: num_key_value_heads is unused, but a value that is not n_heads signals a misread config.
  if (j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null())
    check(j["num_key_value_heads"] == c.num_attention_heads,
          "{}: num_key_value_heads ({}) must equal num_attention_heads ({}) for MLA", label,
          json_brief(j["num_key_value_heads"]), c.num_attention_heads);
  if (j.contains("attention_bias"))
    check(j["attention_bias"] == false, "{}: attention_bias=true is not supported (DeepSeek linears have no bias)", label);
  if (j.contains("hidden_act"))
    check(j["hidden_act"] == "silu", "{}: hidden_act {} is not supported (silu)", label, json_brief(j["hidden_act"]));
  // Unknown fields are kept verbatim. They came through parse_json, so they are at most kJsonMaxDepth deep and
  // copying them (and re-dumping them in save_config) is bounded.
  for (const auto& [k, v] : j.items())
    if (!kKnown.count(k)) c.extra[k] = v;
  // The counts with checked 64-bit arithmetic: a config whose parameters overflow (or whose fp32 bytes do) is an
  // Error naming the field, before anything builds a tensor layout or allocates.
  count_model(c, 0, label);
  return c;
}

ModelConfig load_config(const std::string& path) {
  std::string file = std::filesystem::is_directory(path) ? path + "/config.json" : path;
  return parse_config(read_json_file(file), file);
}

json config_to_json(const ModelConfig& c) {
  json j = c.extra.is_object() ? c.extra : json::object();
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_attention_heads;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  j["rope_theta"] = c.rope_theta;
  j["rms_norm_eps"] = c.rms_norm_eps;
  if (c.rope_scaling) {
    const auto& y = *c.rope_scaling;
    j["rope_scaling"] = {{"type", "yarn"}, {"factor", y.factor},
                         {"original_max_position_embeddings", y.original_max_position_embeddings},
                         {"beta_fast", y.beta_fast}, {"beta_slow", y.beta_slow}, {"mscale", y.mscale},
                         {"mscale_all_dim", y.mscale_all_dim}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["n_routed_experts"] = c.n_routed_experts;
  if (c.n_routed_experts > 0) {
    j["moe_intermediate_size"] = c.moe_intermediate_size;
    j["n_shared_experts"] = c.n_shared_experts;
    j["num_experts_per_tok"] = c.num_experts_per_tok;
    j["n_group"] = c.n_group;
    j["topk_group"] = c.topk_group;
    j["topk_method"] = to_string(c.topk_method);
    j["scoring_func"] = to_string(c.scoring_func);
    j["norm_topk_prob"] = c.norm_topk_prob;
    j["routed_scaling_factor"] = c.routed_scaling_factor;
    j["first_k_dense_replace"] = c.first_k_dense_replace;
    j["moe_layer_freq"] = c.moe_layer_freq;
  }
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  j["initializer_range"] = c.initializer_range;
  j["aux_loss_alpha"] = c.aux_loss_alpha;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  if (!j.contains("architectures"))
    j["architectures"] = {c.model_type == "deepseek_v3" ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"};
  return j;
}

// Indented: `extra` is at most kJsonMaxDepth deep (parse_json's cap), so indentation adds a bounded amount per line.
void save_config(const ModelConfig& c, const std::string& path) {
  write_file_atomic(path, config_to_json(c).dump(2) + "\n");
}

}  // namespace nanoseek
