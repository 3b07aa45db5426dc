#include "pipeline/recipe.h"
#include "train/pretrain.h"

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <set>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/fs.h"
#include "model/dense.h"

namespace nanoseek {
namespace {

enum class Kind { I64, U64, F64, Bool, Str, StrList, F64List };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::I64: case Kind::U64: return "an integer";
    case Kind::F64: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::Str: return "a string";
    case Kind::StrList: return "a list of strings";
    case Kind::F64List: return "a list of numbers";
  }
  return "?";
}

struct Field {
  const char* key;
  Kind kind;
  std::function<void*(Recipe&)> ref;
  const char* help;
};

#define F(key, kind, member, help) Field{key, Kind::kind, [](Recipe& r) -> void* { return &r.member; }, help}
const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      F("data.tasks", StrList, data.tasks, "tasks to render (add, add-zh, mul, countdown)"),
      F("data.task_weights", F64List, data.task_weights, "sampling weight per task (default uniform)"),
      F("data.levels", StrList, data.levels, "difficulty levels to include (default all)"),
      F("data.bare", F64, data.bare, "share of bare-answer solutions"),
      F("data.short", F64, data.short_, "share of short-reasoning solutions"),
      F("data.long", F64, data.long_, "share of long step-by-step solutions"),
      F("data.selfcheck", F64, data.selfcheck, "share of solutions that catch and fix a slip"),
      F("data.wrong", F64, data.wrong, "share of wrong solutions"),
      F("data.train_docs", I64, data.train_docs, "training documents"),
      F("data.val_docs", I64, data.val_docs, "validation documents (val split: disjoint problems)"),
      F("data.seed", U64, data.seed, "corpus seed"),
      F("data.tokenizer", Str, data.tokenizer, "existing tokenizer dir (default: train one)"),
      F("data.vocab_size", I64, data.vocab_size, "vocabulary of the trained tokenizer"),
      F("data.tokenizer_docs", I64, data.tokenizer_docs, "documents the BPE trainer sees"),
      F("data.corpus", Str, corpus, "prebuilt corpus dir (default: build into OUT/corpus)"),
      F("data.format", Str, format, "document/prompt format: r1-zero or plain"),
      F("data.pack", Str, pack, "rows of whole documents (docs) or a cut stream (stream)"),
      F("train.steps", I64, steps, "optimizer steps"),
      F("train.batch_size", I64, batch_size, "sequences per micro-batch (B)"),
      F("train.seq_len", I64, seq_len, "tokens per sequence (T)"),
      F("train.grad_accum", I64, grad_accum, "micro-batches per optimizer step"),
      F("train.lr", F64, lr, "peak learning rate"),
      F("train.min_lr", F64, min_lr, "final learning rate"),
      F("train.warmup", I64, warmup, "linear warmup steps"),
      F("train.schedule", Str, schedule, "cosine, wsd or constant"),
      F("train.decay_frac", F64, decay_frac, "wsd: share of steps in the final decay"),
      F("train.weight_decay", F64, weight_decay, "AdamW decoupled weight decay (not on norms)"),
      F("train.beta1", F64, beta1, "AdamW beta1"),
      F("train.beta2", F64, beta2, "AdamW beta2"),
      F("train.eps", F64, eps, "AdamW epsilon"),
      F("train.clip", F64, clip, "global gradient-norm clip (0 = off)"),
      F("train.gamma", F64, gamma, "aux-loss-free router bias speed (0 = off)"),
      F("train.gamma_until", F64, gamma_until, "share of steps with gamma on"),
      F("train.alpha", F64, alpha, "sequence-wise balance loss weight (0 = off)"),
      F("train.mtp_lambda", F64, mtp_lambda, "MTP loss weight (0 = off)"),
      F("train.seed", U64, seed, "init + data order seed"),
      F("train.log_every", I64, log_every, "progress line period (steps)"),
      F("train.ckpt_every", I64, ckpt_every, "checkpoint period (0 = end / Ctrl-C only)"),
      F("train.keep_ckpts", I64, keep_ckpts, "checkpoints kept"),
      F("train.threads", I64, threads, "OpenMP threads (0 = OMP_NUM_THREADS / all)"),
      F("eval.every", I64, eval_every, "evaluation period (0 = end only)"),
      F("eval.val_batches", I64, val_batches, "validation batches (B x T tokens each)"),
      F("eval.problems_per_level", I64, problems_per_level, "held-out problems per task and level (0 = skip)"),
      F("eval.max_new_tokens", I64, max_new_tokens, "greedy generation budget"),
      F("eval.tasks", StrList, eval_tasks, "tasks to evaluate (default data.tasks)"),
      F("eval.levels", StrList, eval_levels, "levels to evaluate (default all)"),
      F("grpo.init", Str, grpo.init, "model dir to start from (r1zero: default OUT/base/final)"),
      F("grpo.tasks", StrList, grpo.tasks, "tasks the prompts come from"),
      F("grpo.task_weights", F64List, grpo.task_weights, "sampling weight per task (default uniform)"),
      F("grpo.levels", StrList, grpo.levels, "levels sampled uniformly (default all)"),
      F("grpo.steps", I64, grpo.steps, "optimizer steps"),
      F("grpo.prompts", I64, grpo.prompts, "prompts per rollout"),
      F("grpo.group", I64, grpo.group, "outputs per prompt (G)"),
      F("grpo.micro_rows", I64, grpo.micro_rows, "sequences per forward/backward (divides prompts*group)"),
      F("grpo.mu", I64, grpo.mu, "optimizer steps per rollout (mu)"),
      F("grpo.lr", F64, grpo.lr, "peak learning rate"),
      F("grpo.min_lr", F64, grpo.min_lr, "final learning rate (cosine, wsd)"),
      F("grpo.warmup", I64, grpo.warmup, "linear warmup steps"),
      F("grpo.schedule", Str, grpo.schedule, "constant, cosine or wsd"),
      F("grpo.weight_decay", F64, grpo.weight_decay, "AdamW decoupled weight decay"),
      F("grpo.clip", F64, grpo.clip, "global gradient-norm clip (0 = off)"),
      F("grpo.temperature", F64, grpo.temperature, "rollout sampling temperature"),
      F("grpo.top_p", F64, grpo.top_p, "rollout nucleus mass"),
      F("grpo.max_new_tokens", I64, grpo.max_new_tokens, "rollout length budget"),
      F("grpo.beta", F64, grpo.beta, "KL coefficient (0 = no reference model)"),
      F("grpo.eps_low", F64, grpo.eps_low, "clip 1 - eps_low"),
      F("grpo.eps_high", F64, grpo.eps_high, "clip 1 + eps_high"),
      F("grpo.scale_std", Bool, grpo.scale_std, "divide advantages by the group std"),
      F("grpo.agg", Str, grpo.agg, "loss averaging: sequence or token"),
      F("grpo.ref_reset_every", I64, grpo.ref_reset_every, "copy policy into the reference every N steps (0 = never)"),
      F("grpo.algo", Str, grpo.algo, "grpo, or ppo (critic + GAE baseline)"),
      F("grpo.value_lr", F64, grpo.value_lr, "ppo: critic learning rate"),
      F("grpo.value_clip", F64, grpo.value_clip, "ppo: value clip"),
      F("grpo.gae_gamma", F64, grpo.gae_gamma, "ppo: GAE discount"),
      F("grpo.gae_lambda", F64, grpo.gae_lambda, "ppo: GAE lambda"),
      F("grpo.rewards", StrList, grpo.rewards, "reward functions (accuracy, format, language)"),
      F("grpo.reward_weights", F64List, grpo.reward_weights, "weight per reward function (default 1)"),
      F("grpo.gamma", F64, grpo.gamma, "aux-loss-free router bias speed during RL (0 = frozen)"),
      F("grpo.seed", U64, grpo.seed, "prompt and sampling seed"),
      F("grpo.log_every", I64, grpo.log_every, "progress line period (steps)"),
      F("grpo.log_completions_every", I64, grpo.log_completions_every, "sample completions to completions.jsonl every N steps"),
      F("grpo.eval_every", I64, grpo.eval_every, "periodic eval on validation problems (0 = off)"),
      F("grpo.eval_problems", I64, grpo.eval_problems, "periodic eval: problems per level"),
      F("grpo.eval_k", I64, grpo.eval_k, "periodic eval: samples per problem"),
      F("r1.cold_start_n", I64, cold_start_n, "cold-start SFT samples (task suite reasoning renders)"),
      F("r1.cold_start_styles", StrList, cold_start_styles, "cold-start solution styles"),
      F("r1.sft_steps", I64, sft_steps, "SFT steps (0 = sft_epochs)"),
      F("r1.sft_epochs", F64, sft_epochs, "SFT epochs when sft_steps = 0"),
      F("r1.sft_lr", F64, sft_lr, "SFT learning rate"),
      F("r1.sft_batch", I64, sft_batch, "SFT rows per step"),
      F("r1.sft_seq_len", I64, sft_seq_len, "SFT row length"),
      F("r1.rl1_steps", I64, rl1_steps, "reasoning RL steps (0 = grpo.steps)"),
      F("r1.rejection_problems", I64, rejection_problems, "rejection sampling: problems per level"),
      F("r1.rejection_k", I64, rejection_k, "rejection sampling: samples per problem"),
      F("r1.rejection_temperature", F64, rejection_temperature, "rejection sampling: temperature"),
      F("r1.rl2_tasks", StrList, rl2_tasks, "all-round RL tasks (default grpo.tasks)"),
      F("r1.rl2_levels", StrList, rl2_levels,
        "all-round RL levels (default: every level of rl2_tasks when set, else grpo.levels)"),
      F("r1.rl2_rewards", StrList, rl2_rewards, "all-round RL rewards (default grpo.rewards)"),
      F("r1.rl2_steps", I64, rl2_steps, "all-round RL steps (0 = grpo.steps)"),
      F("r1zero.base_recipe", Str, r1_base_recipe, "recipe pretraining the base model (default this file)"),
      F("r1zero.task", Str, r1_task, "task evaluated before and after RL (default grpo.tasks[0])"),
      F("r1zero.levels", StrList, r1_levels, "levels evaluated (default all)"),
      F("r1zero.problems", I64, r1_problems, "held-out test problems per level"),
      F("r1zero.k", I64, r1_k, "samples per problem (pass@1 over k, pass@k, cons@k)"),
      F("r1zero.max_new_tokens", I64, r1_max_new_tokens, "generation budget (0 = grpo.max_new_tokens)"),
  };
  return f;
}
#undef F

// The HF config fields ModelConfig (DeepSeek-V3) and DenseConfig (Qwen2/Llama) read, plus informational ones real
// configs carry.
const std::vector<std::string>& model_keys() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> v = {
      "model_type", "vocab_size", "hidden_size", "intermediate_size", "moe_intermediate_size",
      "num_hidden_layers", "num_attention_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
      "qk_rope_head_dim", "v_head_dim", "rope_theta", "rms_norm_eps", "rope_scaling", "n_routed_experts",
      "n_shared_experts", "num_experts_per_tok", "n_group", "topk_group", "topk_method", "scoring_func",
      "norm_topk_prob", "routed_scaling_factor", "first_k_dense_replace", "moe_layer_freq",
      "num_nextn_predict_layers", "tie_word_embeddings", "max_position_embeddings", "bos_token_id",
      "eos_token_id", "initializer_range", "aux_loss_alpha", "num_key_value_heads", "attention_bias",
      "hidden_act", "architectures", "torch_dtype", "use_cache", "seq_aux", "attention_dropout"};
    for (const auto& d : dense_config_keys())
      if (std::find(v.begin(), v.end(), d) == v.end()) v.push_back(d);
    return v;
  }();
  return k;
}

nlohmann::json to_json(const toml::node& n) {
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  if (auto v = n.as_string()) return v->get();
  if (auto a = n.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : *a) j.push_back(to_json(e));
    return j;
  }
  if (auto t = n.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : *t) j[std::string(k.str())] = to_json(v);
    return j;
  }
  fail("unsupported TOML value type");
}

void set_model_key(Recipe& r, const std::string& key, const toml::node& v, const std::string& where) {
  if (key == "config") {
    auto s = v.value<std::string>();
    check(s.has_value(), "{}: model.config must be a string path", where);
    r.model_config = *s;
    return;
  }
  auto keys = model_keys();
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
    keys.push_back("config");
    fail("{}: unknown key 'model.{}'{}", where, key, did_you_mean(key, keys));
  }
  nlohmann::json j = to_json(v);
  if (key == "q_lora_rank" && j == 0) j = nullptr;  // TOML has no null
  r.model_inline[key] = j;
}

void set_field(Recipe& r, const Field& f, const toml::node& v, const std::string& where) {
  void* p = f.ref(r);
  auto bad = [&]() { fail("{}: '{}' must be {}", where, f.key, kind_name(f.kind)); };
  switch (f.kind) {
    case Kind::I64: {
      auto x = v.value<int64_t>();
      if (!x || !v.is_integer()) bad();
      *static_cast<int64_t*>(p) = *x;
      break;
    }
    case Kind::U64: {
      auto x = v.value<int64_t>();
      if (!x || !v.is_integer() || *x < 0) bad();
      *static_cast<uint64_t*>(p) = uint64_t(*x);
      break;
    }
    case Kind::F64: {
      auto x = v.value<double>();
      if (!x) bad();
      *static_cast<double*>(p) = *x;
      break;
    }
    case Kind::Bool: {
      auto x = v.value<bool>();
      if (!x || !v.is_boolean()) bad();
      *static_cast<bool*>(p) = *x;
      break;
    }
    case Kind::Str: {
      auto x = v.value<std::string>();
      if (!x) bad();
      *static_cast<std::string*>(p) = *x;
      break;
    }
    case Kind::StrList: {
      auto a = v.as_array();
      if (!a) bad();
      std::vector<std::string> out;
      for (const auto& e : *a) {
        auto s = e.value<std::string>();
        if (!s) bad();
        out.push_back(*s);
      }
      *static_cast<std::vector<std::string>*>(p) = out;
      break;
    }
    case Kind::F64List: {
      auto a = v.as_array();
      if (!a) bad();
      std::vector<double> out;
      for (const auto& e : *a) {
        auto s = e.value<double>();
        if (!s) bad();
        out.push_back(*s);
      }
      *static_cast<std::vector<double>*>(p) = out;
      break;
    }
  }
}

void set_key(Recipe& r, const std::string& section, const std::string& key, const toml::node& v,
             const std::string& where) {
  if (section == "model") return set_model_key(r, key, v, where);
  const std::string full = section + "." + key;
  std::vector<std::string> valid;
  for (const auto& f : fields()) {
    if (full == f.key) return set_field(r, f, v, where);
    valid.push_back(f.key);
  }
  fail("{}: unknown key '{}'{}", where, full, did_you_mean(full, valid));
}

const std::vector<std::string> kSections = {"model", "data", "train", "eval", "grpo", "r1zero", "r1"};

}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string did_you_mean(const std::string& key, const std::vector<std::string>& valid) {
  size_t best = SIZE_MAX;
  std::string pick;
  for (const auto& v : valid) {
    const size_t d = edit_distance(key, v);
    if (d < best) best = d, pick = v;
  }
  if (pick.empty() || best > std::max<size_t>(3, key.size() / 2)) return "";
  return fmt::format(" (did you mean '{}'?)", pick);
}

Recipe parse_recipe(const std::string& text, const std::string& label) {
  toml::table t;
  try {
    t = toml::parse(text, label);
  } catch (const toml::parse_error& e) {
    fail("{} line {}: {}", label, e.source().begin.line, e.description());
  }
  Recipe r;
  r.path = label;
  for (const auto& [k, v] : t) {
    const std::string section(k.str());
    const std::string where = fmt::format("{} line {}", label, v.source().begin.line);
    if (std::find(kSections.begin(), kSections.end(), section) == kSections.end())
      fail("{}: unknown section '{}'{} (sections: model, data, train, eval, grpo, r1zero, r1)", where, section,
           did_you_mean(section, kSections));
    const toml::table* tab = v.as_table();
    check(tab != nullptr, "{}: '{}' must be a table ([{}])", where, section, section);
    for (const auto& [kk, vv] : *tab)
      set_key(r, section, std::string(kk.str()), vv,
              fmt::format("{} line {}", label, vv.source().begin.line));
  }
  return r;
}

Recipe load_recipe(const std::string& path) {
  Recipe r = parse_recipe(read_file(path), path);
  // A relative model.config is looked up from the working directory, then beside the recipe.
  if (!r.model_config.empty() && !file_exists(r.model_config)) {
    const std::string beside = (std::filesystem::path(path).parent_path() / r.model_config).string();
    if (file_exists(beside)) r.model_config = beside;
  }
  return r;
}

void apply_override(Recipe& r, const std::string& a) {
  const size_t eq = a.find('=');
  check(eq != std::string::npos, "--set '{}': expected section.key=value", a);
  const std::string key = a.substr(0, eq), value = a.substr(eq + 1);
  const size_t dot = key.find('.');
  check(dot != std::string::npos, "--set '{}': the key must be section.key (e.g. train.lr)", a);
  const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
  check(std::find(kSections.begin(), kSections.end(), section) != kSections.end(),
        "--set '{}': unknown section '{}'{}", a, section, did_you_mean(section, kSections));
  toml::table t;
  try {
    t = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    t = toml::table{{"v", value}};  // a bare word is a string: --set data.format=plain
  }
  set_key(r, section, name, *t.get("v"), "--set " + a);
}

std::string recipe_help() {
  std::string s = "[model]  config = \"path/config.json\" and/or inline HF config fields; model_type deepseek_v3 "
                  "(default) | qwen2 | llama (dense)\n";
  for (const auto& f : fields()) s += fmt::format("  {:<26} {:<16} {}\n", f.key, kind_name(f.kind), f.help);
  return s;
}

PretrainResult pretrain_recipe(const std::string& recipe_path, const std::string& out,
                               const std::vector<std::string>& overrides, bool resume, bool quiet) {
  Recipe r = load_recipe(recipe_path);
  for (const auto& s : overrides) apply_override(r, s);
  return run_pretrain(r, out, resume, quiet);
}

}  // namespace nanoseek
