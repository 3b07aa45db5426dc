#include "pipeline/recipe.h"
#include "train/pretrain.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/fs.h"
#include "model/dense.h"

namespace nanoseek {
namespace {

enum class Kind { I64, U64, I32, F64, F32, Bool, Str, StrList, F64List, Enum };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::I64: case Kind::U64: case Kind::I32: return "an integer";
    case Kind::F64: case Kind::F32: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::Str: return "a string";
    case Kind::StrList: return "a list of strings";
    case Kind::F64List: return "a list of numbers";
    case Kind::Enum: return "one of";
  }
  return "?";
}

// One key: its name, type, where it lives, its help and the paper's value where the paper gives one. The default is
// whatever the spec struct initialises the field to. Parsing, --set, command-line flags and the help all walk this.
struct Field {
  const char* key = "";
  Kind kind = Kind::Str;
  std::function<void*(Recipe&)> ref;
  const char* help = "";
  const char* paper = "";      // e.g. "V3: 0.95"
  const char* flag = nullptr;  // command-line flag when not the key's own name with '-' for '_'
  // Kind::Enum: the valid names, a parser into the field (an Error names the valid values) and the field's name
  std::vector<std::string> names;
  std::function<void(void*, const std::string&)> parse;
  std::function<std::string(const void*)> show;
  // Numeric keys: the valid range, checked wherever a value is set (recipe file, --set, flags) so a bad value fails
  // at load, before any work — not as a SIGFPE at the first `step % log_every` or after the last training step.
  // List kinds (F64List) apply it to each element.
  double lo = -HUGE_VAL, hi = HUGE_VAL;
  bool lo_open = false, hi_open = false;   // > lo / < hi instead of >= / <=
  Field at_least(double x) && { lo = x; return std::move(*this); }
  Field above(double x) && { lo = x, lo_open = true; return std::move(*this); }
  Field at_most(double x) && { hi = x; return std::move(*this); }
  Field below(double x) && { hi = x, hi_open = true; return std::move(*this); }
  bool bounded() const { return lo != -HUGE_VAL || hi != HUGE_VAL; }
  bool in_range(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string range_text() const {   // "must be >= 1", "must be in (0, 1]"
    if (hi == HUGE_VAL) return fmt::format("must be {} {}", lo_open ? ">" : ">=", lo);
    if (lo == -HUGE_VAL) return fmt::format("must be {} {}", hi_open ? "<" : "<=", hi);
    return fmt::format("must be in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  }
};

Field field(const char* key, Kind kind, std::function<void*(Recipe&)> ref, const char* help, const char* paper = "",
            const char* flag = nullptr) {
  Field f;
  f.key = key, f.kind = kind, f.ref = std::move(ref), f.help = help, f.paper = paper, f.flag = flag;
  return f;
}

template <class E, class P, class S>
Field enum_field(const char* key, std::function<void*(Recipe&)> ref, std::vector<std::string> names, P parse, S show,
                 const char* help, const char* paper = "") {
  Field f = field(key, Kind::Enum, std::move(ref), help, paper);
  f.names = std::move(names);
  f.parse = [parse](void* p, const std::string& v) { *static_cast<E*>(p) = parse(v); };
  f.show = [show](const void* p) { return std::string(show(*static_cast<const E*>(p))); };
  return f;
}

#define REF(member) [](Recipe& r) -> void* { return &r.member; }
#define F(key, kind, member, ...) field(key, Kind::kind, REF(member), __VA_ARGS__)
#define SCHEDULE(section, member, ...)                                                                         \
  enum_field<LrKind>(section ".schedule", REF(member), {"cosine", "wsd", "constant"}, parse_lr_kind, lr_kind_name, \
                     "LR schedule after warmup", __VA_ARGS__)
// The optimizer keys (train/trainer.h OptimSpec) of one section, bound to `spec`.
#define OPTIM(section, spec, warmup_min)                                                                          \
  F(section ".lr", F64, spec.lr, "peak learning rate").above(0),                                                  \
      F(section ".min_lr", F64, spec.min_lr, "final learning rate").at_least(0),                                  \
      F(section ".warmup", I64, spec.warmup, "linear warmup steps").at_least(warmup_min),                         \
      SCHEDULE(section, spec.schedule, ""),                                                                       \
      F(section ".decay_frac", F64, spec.decay_frac, "wsd: share of steps in the final decay").at_least(0).at_most(1), \
      F(section ".weight_decay", F64, spec.weight_decay, "AdamW decoupled weight decay (not on norms, biases)",  \
        "V3: 0.1").at_least(0),                                                                                   \
      F(section ".beta1", F64, spec.beta1, "AdamW beta1", "V3: 0.9").at_least(0).below(1),                        \
      F(section ".beta2", F64, spec.beta2, "AdamW beta2", "V3: 0.95").at_least(0).below(1),                       \
      F(section ".eps", F64, spec.eps, "AdamW epsilon").above(0),                                                 \
      F(section ".clip", F64, spec.clip, "global gradient-norm clip (0 = off)", "V3: 1.0").at_least(0),           \
      enum_field<Precision>(section ".precision", REF(spec.precision), {"fp32", "bf16"}, parse_precision,          \
                            precision_name, "matmul compute: fp32, or bf16 on AMX / AVX512-BF16 (fp32 masters)",  \
                            "V3: fp8, bf16 baseline")
const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      F("data.tasks", StrList, data.tasks, "tasks to render (add, add-zh, mul, countdown)"),
      F("data.task_weights", F64List, data.task_weights, "sampling weight per task (default uniform)").at_least(0),
      F("data.levels", StrList, data.levels, "difficulty levels to include (default all)"),
      F("data.bare", F64, data.bare, "share of bare-answer solutions").at_least(0),
      F("data.short", F64, data.short_, "share of short-reasoning solutions").at_least(0),
      F("data.long", F64, data.long_, "share of long step-by-step solutions").at_least(0),
      F("data.selfcheck", F64, data.selfcheck, "share of solutions that catch and fix a slip").at_least(0),
      F("data.wrong", F64, data.wrong, "share of wrong solutions").at_least(0),
      F("data.train_docs", I64, data.train_docs, "training documents").at_least(1),
      F("data.val_docs", I64, data.val_docs, "validation documents (val split: disjoint problems)").at_least(1),
      F("data.seed", U64, data.seed, "corpus seed"),
      F("data.tokenizer", Str, data.tokenizer, "existing tokenizer dir (default: train one)"),
      F("data.vocab_size", I64, data.vocab_size, "vocabulary of the trained tokenizer").at_least(1),
      F("data.tokenizer_docs", I64, data.tokenizer_docs, "documents the BPE trainer sees").at_least(1),
      F("data.corpus", Str, corpus, "prebuilt corpus dir (default: build into OUT/corpus)"),
      enum_field<PromptFormat>("data.format", REF(format), {"r1-zero", "plain"},
                               [](const std::string& v) { return parse_prompt_format(v); }, prompt_format_name,
                               "document/prompt format"),
      enum_field<Pack>("data.pack", REF(pack), {"docs", "stream"}, parse_pack, pack_name,
                       "rows of whole documents (docs) or a cut stream (stream)"),
      F("train.steps", I64, steps, "optimizer steps").at_least(1),
      F("train.batch_size", I64, batch_size, "sequences per micro-batch (B)").at_least(1),
      F("train.seq_len", I64, seq_len, "tokens per sequence (T)").at_least(2),
      F("train.grad_accum", I64, grad_accum, "micro-batches per optimizer step").at_least(1),
      OPTIM("train", optim, 0),
      F("train.gamma", F64, gamma, "aux-loss-free router bias speed (0 = off)", "V3: 0.001").at_least(0),
      F("train.gamma_until", F64, gamma_until, "share of steps with gamma on", "V3: 14.3T of 14.8T tokens").at_least(0).at_most(1),
      F("train.alpha", F64, alpha, "sequence-wise balance loss weight (0 = off)", "V3: 0.0001").at_least(0),
      F("train.mtp_lambda", F64, mtp_lambda, "MTP loss weight (0 = off)", "V3: 0.3, then 0.1").at_least(0),
      F("train.seed", U64, seed, "init + data order seed"),
      F("train.log_every", I64, log_every, "progress line period (steps)").at_least(1),
      F("train.ckpt_every", I64, ckpt_every, "checkpoint period (0 = end / Ctrl-C only)").at_least(0),
      F("train.keep_ckpts", I64, keep_ckpts, "checkpoints kept").at_least(1),
      F("train.threads", I64, threads, "OpenMP threads (0 = OMP_NUM_THREADS / all)").at_least(0),
      F("eval.every", I64, eval_every, "evaluation period (0 = end only)").at_least(0),
      F("eval.val_batches", I64, val_batches, "validation batches (B x T tokens each)").at_least(1),
      F("eval.problems_per_level", I64, problems_per_level, "held-out problems per task and level (0 = skip)").at_least(0),
      F("eval.max_new_tokens", I64, max_new_tokens, "greedy generation budget").at_least(1),
      F("eval.tasks", StrList, eval_tasks, "tasks to evaluate (default data.tasks)"),
      F("eval.levels", StrList, eval_levels, "levels to evaluate (default all)"),
      F("grpo.init", Str, grpo.init, "model dir to start from (r1zero: default OUT/base/final)"),
      F("grpo.tasks", StrList, grpo.tasks, "tasks the prompts come from"),
      F("grpo.task_weights", F64List, grpo.task_weights, "sampling weight per task (default uniform)").at_least(0),
      F("grpo.levels", StrList, grpo.levels, "levels sampled uniformly (default all)"),
      F("grpo.steps", I64, grpo.steps, "optimizer steps").at_least(1),
      F("grpo.prompts", I64, grpo.prompts, "prompts per rollout", "R1: 32").at_least(1),
      F("grpo.group", I64, grpo.group, "outputs per prompt (G)", "R1: 16").at_least(1),
      F("grpo.micro_rows", I64, grpo.micro_rows, "sequences per forward/backward (divides prompts*group)").at_least(1),
      F("grpo.mu", I64, grpo.mu, "optimizer steps per rollout (mu)", "R1: 1").at_least(1),
      OPTIM("grpo", grpo.optim, 0),
      F("grpo.temperature", F64, grpo.temperature, "rollout sampling temperature", "R1: 1.0").above(0),
      F("grpo.top_p", F64, grpo.top_p, "rollout nucleus mass").above(0).at_most(1),
      F("grpo.max_new_tokens", I64, grpo.max_new_tokens, "rollout length budget", "R1: 32768").at_least(1),
      F("grpo.beta", F64, grpo.beta, "KL coefficient (0 = no reference model)", "R1: 0.001").at_least(0),
      F("grpo.eps_low", F64, grpo.eps_low, "clip 1 - eps_low", "R1: 10").at_least(0),
      F("grpo.eps_high", F64, grpo.eps_high, "clip 1 + eps_high", "R1: 10").at_least(0),
      F("grpo.scale_std", Bool, grpo.scale_std, "divide advantages by the group std", "R1: true"),
      enum_field<GrpoConfig::Agg>("grpo.agg", REF(grpo.agg), {"sequence", "token"}, parse_agg, agg_name,
                                  "loss averaging: per sequence then mean (sequence) or over all tokens (token)",
                                  "R1: sequence"),
      F("grpo.ref_reset_every", I64, grpo.ref_reset_every, "copy policy into the reference every N steps (0 = never)",
        "R1: 400").at_least(0),
      enum_field<RlAlgo>("grpo.algo", REF(grpo.algo), {"grpo", "ppo"}, parse_rl_algo, rl_algo_name,
                         "grpo, or ppo (critic + GAE baseline)"),
      F("grpo.value_lr", F64, grpo.value_lr, "ppo: critic learning rate").above(0),
      F("grpo.value_clip", F64, grpo.value_clip, "ppo: value clip").at_least(0),
      F("grpo.gae_gamma", F64, grpo.gae_gamma, "ppo: GAE discount").at_least(0).at_most(1),
      F("grpo.gae_lambda", F64, grpo.gae_lambda, "ppo: GAE lambda").at_least(0).at_most(1),
      F("grpo.rewards", StrList, grpo.rewards, "reward functions (accuracy, format, language)"),
      F("grpo.reward_weights", F64List, grpo.reward_weights, "weight per reward function (default 1)"),
      F("grpo.gamma", F64, grpo.gamma, "aux-loss-free router bias speed during RL (0 = frozen)").at_least(0),
      F("grpo.seed", U64, grpo.seed, "prompt and sampling seed"),
      F("grpo.log_every", I64, grpo.log_every, "progress line period (steps)").at_least(1),
      F("grpo.log_completions_every", I64, grpo.log_completions_every, "sample completions to completions.jsonl every N steps").at_least(0),
      F("grpo.eval_every", I64, grpo.eval_every, "periodic eval on validation problems (0 = off)").at_least(0),
      F("grpo.eval_problems", I64, grpo.eval_problems, "periodic eval: problems per level").at_least(0),
      F("grpo.eval_k", I64, grpo.eval_k, "periodic eval: samples per problem").at_least(1),
      F("sft.steps", I64, sft.steps, "optimizer steps (0 = from sft.epochs)").at_least(0),
      F("sft.epochs", F64, sft.epochs, "epochs over the training samples when steps is 0", "R1: 2 (800K samples)").at_least(0),
      F("sft.batch_size", I64, sft.batch_size, "rows per micro-batch").at_least(1),
      F("sft.seq_len", I64, sft.seq_len, "tokens per row (longer samples are truncated)").at_least(2),
      F("sft.grad_accum", I64, sft.grad_accum, "micro-batches per optimizer step").at_least(1),
      OPTIM("sft", sft.optim, 0),
      F("sft.mtp_lambda", F64, sft.mtp_lambda, "MTP loss weight (0 = main head only)").at_least(0),
      F("sft.gamma", F64, sft.gamma, "aux-loss-free router bias speed (0 = keep the pretrained biases)").at_least(0),
      F("sft.rendering", Str, sft.rendering, "auto | plain | r1-zero | template | template:NAME"),
      F("sft.val_fraction", F64, sft.val_fraction, "share of samples held out for val_loss").at_least(0).below(1),
      F("sft.threads", I64, sft.threads, "OpenMP threads (0 = default)").at_least(0),
      F("sft.seed", U64, sft.seed, "held-out split and shuffling seed"),
      F("sft.log_every", I64, sft.log_every, "progress line period (steps)").at_least(1),
      F("sft.eval_every", I64, sft.eval_every, "val_loss period (0 = at the end)").at_least(0),
      F("sft.ckpt_every", I64, sft.ckpt_every, "checkpoint period (0 = at the end / Ctrl-C)").at_least(0),
      F("sft.keep_ckpts", I64, sft.keep_ckpts, "checkpoints kept").at_least(1),
      F("distill.task", Str, distill.task, "task the training problems come from (add, add-zh, mul, countdown)"),
      F("distill.levels", StrList, distill.levels, "levels (default all)"),
      F("distill.problems", I64, distill.problems, "training problems per level").at_least(1),
      F("distill.k", I32, distill.k, "teacher samples per problem").at_least(1),
      F("distill.temperature", F32, distill.temperature, "teacher sampling temperature", "R1: 0.6").at_least(0),
      F("distill.top_p", F32, distill.top_p, "teacher nucleus mass", "R1: 0.95").above(0).at_most(1),
      F("distill.max_new_tokens", I32, distill.max_new_tokens, "maximum completion tokens", "", "max-tokens").at_least(1),
      F("distill.format", Str, distill.format, "prompt format r1-zero | plain (default: the teacher's eval.json)"),
      F("distill.filter", Str, distill.filter, "correct (accuracy and format) | all"),
      F("distill.kd_topk", I32, distill.kd_topk, "teacher top-k log-probs per position for KD (0 = SFT only)",
        "R1: 0 (SFT only)").at_least(0),
      F("distill.kd_weight", F64, distill.kd_weight, "weight of the KD term").at_least(0),
      F("distill.steps", I64, distill.steps, "optimizer steps").at_least(1),
      F("distill.batch_size", I64, distill.batch_size, "samples per micro-batch", "", "batch").at_least(1),
      F("distill.grad_accum", I64, distill.grad_accum, "micro-batches per step", "", "accum").at_least(1),
      OPTIM("distill", distill.optim, -1), // -1 = steps / 10
      F("distill.eval_problems", I64, distill.eval_problems, "test problems per level for student/teacher pass@1").at_least(0),
      F("distill.max_batch", I64, distill.max_batch, "teacher engine slots", "", "engine-batch").at_least(1),
      F("distill.seed", U64, distill.seed, "problem, sampling and init seed"),
      F("r1.cold_start_n", I64, cold_start_n, "cold-start SFT samples (task suite reasoning renders)").at_least(1),
      F("r1.cold_start_styles", StrList, cold_start_styles, "cold-start solution styles"),
      F("r1.sft_steps", I64, sft_steps, "SFT steps (0 = sft_epochs)").at_least(0),
      F("r1.sft_epochs", F64, sft_epochs, "SFT epochs when sft_steps = 0").at_least(0),
      F("r1.sft_lr", F64, sft_lr, "SFT learning rate").above(0),
      F("r1.sft_batch", I64, sft_batch, "SFT rows per step").at_least(1),
      F("r1.sft_seq_len", I64, sft_seq_len, "SFT row length").at_least(2),
      F("r1.rl1_steps", I64, rl1_steps, "reasoning RL steps (0 = grpo.steps)").at_least(0),
      F("r1.rejection_problems", I64, rejection_problems, "rejection sampling: problems per level").at_least(1),
      F("r1.rejection_k", I64, rejection_k, "rejection sampling: samples per problem").at_least(1),
      F("r1.rejection_temperature", F64, rejection_temperature, "rejection sampling: temperature").at_least(0),
      F("r1.rl2_tasks", StrList, rl2_tasks, "all-round RL tasks (default grpo.tasks)"),
      F("r1.rl2_levels", StrList, rl2_levels,
        "all-round RL levels (default: every level of rl2_tasks when set, else grpo.levels)"),
      F("r1.rl2_rewards", StrList, rl2_rewards, "all-round RL rewards (default grpo.rewards)"),
      F("r1.rl2_steps", I64, rl2_steps, "all-round RL steps (0 = grpo.steps)").at_least(0),
      F("r1zero.base_recipe", Str, r1_base_recipe, "recipe pretraining the base model (default this file)"),
      F("r1zero.task", Str, r1_task, "task evaluated before and after RL (default grpo.tasks[0])"),
      F("r1zero.levels", StrList, r1_levels, "levels evaluated (default all)"),
      F("r1zero.problems", I64, r1_problems, "held-out test problems per level").at_least(1),
      F("r1zero.k", I64, r1_k, "samples per problem (pass@1 over k, pass@k, cons@k)").at_least(1),
      F("r1zero.max_new_tokens", I64, r1_max_new_tokens, "generation budget (0 = grpo.max_new_tokens)").at_least(0),
  };
  return f;
}
#undef F
#undef OPTIM
#undef SCHEDULE
#undef REF

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
  auto in_range = [&](double x) {
    if (std::isnan(x)) fail("{}: '{}' is nan, must be a number", where, f.key);
    if (!f.in_range(x)) fail("{}: '{}' = {} {}", where, f.key, x, f.range_text());
  };
  switch (f.kind) {
    case Kind::I64: {
      auto x = v.value<int64_t>();
      if (!x || !v.is_integer()) bad();
      in_range(double(*x));
      *static_cast<int64_t*>(p) = *x;
      break;
    }
    case Kind::U64: {
      auto x = v.value<int64_t>();
      if (!x || !v.is_integer() || *x < 0) bad();
      in_range(double(*x));
      *static_cast<uint64_t*>(p) = uint64_t(*x);
      break;
    }
    case Kind::I32: {
      auto x = v.value<int64_t>();
      if (!x || !v.is_integer() || *x < INT32_MIN || *x > INT32_MAX) bad();
      in_range(double(*x));
      *static_cast<int*>(p) = int(*x);
      break;
    }
    case Kind::F32: {
      auto x = v.value<double>();
      if (!x) bad();
      in_range(*x);
      *static_cast<float*>(p) = float(*x);
      break;
    }
    case Kind::Enum: {
      auto x = v.value<std::string>();
      if (!x || !v.is_string()) fail("{}: '{}' must be one of: {}", where, f.key, fmt::join(f.names, ", "));
      if (std::find(f.names.begin(), f.names.end(), *x) == f.names.end())
        fail("{}: '{}' = '{}' is not one of: {}{}", where, f.key, *x, fmt::join(f.names, ", "), did_you_mean(*x, f.names));
      f.parse(p, *x);
      break;
    }
    case Kind::F64: {
      auto x = v.value<double>();
      if (!x) bad();
      in_range(*x);
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
        in_range(*s);
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

const std::vector<std::string> kSections = {"model", "data", "train", "eval", "grpo", "sft", "distill", "r1zero",
                                            "r1"};

// The field's current value as a recipe would write it (defaults in the help and on the command line).
std::string value_string(const Field& f, Recipe& r) {
  const void* p = f.ref(r);
  switch (f.kind) {
    case Kind::I64: return fmt::format("{}", *static_cast<const int64_t*>(p));
    case Kind::U64: return fmt::format("{}", *static_cast<const uint64_t*>(p));
    case Kind::I32: return fmt::format("{}", *static_cast<const int*>(p));
    case Kind::F64: return fmt::format("{}", *static_cast<const double*>(p));
    case Kind::F32: return fmt::format("{}", *static_cast<const float*>(p));
    case Kind::Bool: return *static_cast<const bool*>(p) ? "true" : "false";
    case Kind::Str: return *static_cast<const std::string*>(p);
    case Kind::StrList: return fmt::format("{}", fmt::join(*static_cast<const std::vector<std::string>*>(p), ","));
    case Kind::F64List: return fmt::format("{}", fmt::join(*static_cast<const std::vector<double>*>(p), ","));
    case Kind::Enum: return f.show(p);
  }
  return "";
}

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
  const size_t limit = std::max<size_t>(3, key.size() / 2);
  for (const auto& v : valid) {
    // the distance is at least the length difference: a candidate that far off cannot be suggested (and a long
    // key would cost |key| x |v| per candidate)
    const size_t gap = key.size() > v.size() ? key.size() - v.size() : v.size() - key.size();
    if (gap > limit) continue;
    const size_t d = edit_distance(key, v);
    if (d < best) best = d, pick = v;
  }
  if (pick.empty() || best > limit) return "";
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
      fail("{}: unknown section '{}'{} (sections: {})", where, section, did_you_mean(section, kSections),
           fmt::join(kSections, ", "));
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

namespace {
// A command-line value as TOML (`v = VALUE`); a bare word is a string: --set data.format=plain.
toml::table parse_value(const std::string& value) {
  try {
    return toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    return toml::table{{"v", value}};
  }
}
}  // namespace

void apply_override(Recipe& r, const std::string& a) {
  const size_t eq = a.find('=');
  check(eq != std::string::npos, "--set '{}': expected section.key=value", a);
  const std::string key = a.substr(0, eq), value = a.substr(eq + 1);
  const size_t dot = key.find('.');
  check(dot != std::string::npos, "--set '{}': the key must be section.key (e.g. train.lr)", a);
  const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
  check(std::find(kSections.begin(), kSections.end(), section) != kSections.end(),
        "--set '{}': unknown section '{}'{}", a, section, did_you_mean(section, kSections));
  set_key(r, section, name, *parse_value(value).get("v"), "--set " + a);
}

std::string recipe_help() {
  std::string s = "[model]  config = \"path/config.json\" and/or inline HF config fields; model_type deepseek_v3 "
                  "(default) | qwen2 | llama (dense)\n";
  Recipe defaults;
  for (const auto& f : fields()) {
    const std::string type = f.kind == Kind::Enum ? fmt::format("{}", fmt::join(f.names, "|")) : kind_name(f.kind);
    s += fmt::format("  {:<26} {:<18} {} (default {}{}{}{}{})\n", f.key, type, f.help, value_string(f, defaults),
                     f.bounded() ? "; " : "", f.bounded() ? f.range_text() : "", *f.paper ? "; " : "", f.paper);
  }
  return s;
}

std::vector<SectionFlag> section_flags(const std::string& section) {
  std::vector<SectionFlag> out;
  Recipe defaults;
  const std::string prefix = section + ".";
  for (const auto& f : fields()) {
    const std::string key = f.key;
    if (key.rfind(prefix, 0) != 0) continue;
    SectionFlag sf;
    sf.key = key;
    sf.flag = f.flag ? f.flag : key.substr(prefix.size());
    for (char& c : sf.flag)
      if (c == '_') c = '-';
    sf.help = f.help;
    if (f.kind == Kind::Enum) sf.help += fmt::format(" ({})", fmt::join(f.names, " | "));
    if (f.kind == Kind::StrList || f.kind == Kind::F64List) sf.help += " (comma-separated)";
    if (f.bounded()) sf.help += " (" + f.range_text() + ")";
    if (*f.paper) sf.help += fmt::format(" [{}]", f.paper);
    sf.default_value = value_string(f, defaults);
    switch (f.kind) {
      case Kind::I64: case Kind::U64: case Kind::I32: sf.type = "INT"; break;
      case Kind::F64: case Kind::F32: sf.type = "NUMBER"; break;
      case Kind::Bool: sf.type = "BOOL"; break;
      case Kind::Str: sf.type = "TEXT"; break;
      case Kind::StrList: case Kind::F64List: sf.type = "LIST"; break;
      case Kind::Enum: sf.type = fmt::format("{}", fmt::join(f.names, "|")); break;
    }
    sf.list = f.kind == Kind::StrList || f.kind == Kind::F64List;
    out.push_back(std::move(sf));
  }
  return out;
}

void apply_flag(Recipe& r, const SectionFlag& f, const std::string& value) {
  const size_t dot = f.key.find('.');
  if (!f.list)
    return set_key(r, f.key.substr(0, dot), f.key.substr(dot + 1), *parse_value(value).get("v"), "--" + f.flag);
  const auto it = std::find_if(fields().begin(), fields().end(), [&](const Field& x) { return f.key == x.key; });
  check(it != fields().end(), "--{}: no recipe key {}", f.flag, f.key);
  toml::array a;   // "d1,d2" → ["d1", "d2"]; "0.5,1" → [0.5, 1.0] for a list of numbers
  for (size_t i = 0; i < value.size();) {
    size_t j = value.find(',', i);
    if (j == std::string::npos) j = value.size();
    const std::string piece = value.substr(i, j - i);
    if (!piece.empty() && it->kind == Kind::StrList) {
      a.push_back(piece);
    } else if (!piece.empty()) {
      char* end = nullptr;
      const double x = std::strtod(piece.c_str(), &end);
      check(end && *end == '\0', "--{}: '{}' is not a number", f.flag, piece);
      a.push_back(x);
    }
    i = j + 1;
  }
  set_key(r, f.key.substr(0, dot), f.key.substr(dot + 1), a, "--" + f.flag);
}

PretrainResult pretrain_recipe(const std::string& recipe_path, const std::string& out,
                               const std::vector<std::string>& overrides, bool resume, bool quiet) {
  Recipe r = load_recipe(recipe_path);
  for (const auto& s : overrides) apply_override(r, s);
  return run_pretrain(r, out, resume, quiet);
}

}  // namespace nanoseek
