// The one model interface every layer above src/model/ uses: the DeepSeek-V3 `Model` (model.h: MLA + DeepSeekMoE
// + MTP) and the dense Qwen2/Llama `DenseModel` (dense.h, the R1-Distill students) both implement it, so a stage,
// an evaluation, the engine or a CLI command is written once for both. Architecture-specific code lives only where
// the math differs: the forward/backward of each model and its decode core (absorbed MLA cache vs GQA K/V cache).
//
//   auto m = load_language_model(dir);          // reads config.json's model_type once
//   auto acts = m->plan(B, T, /*with_grad=*/true);
//   StepStats st = m->forward(batch, *acts, lc);  // acts->logits = [B·T, V]
//   m->backward(batch, *acts, lc);              // ACCUMULATES into m->grad_buffer() (zero_grad() between steps)
//
// Legend: B sequences, T tokens, N = B·T, V vocabulary.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "model/decode_core.h"
#include "model/tensors.h"

namespace nanoseek {

struct Batch {
  int64_t B = 0, T = 0;
  const int32_t* ids = nullptr;      // [B,T]
  const int32_t* targets = nullptr;  // [B,T] next-token targets, −1 = ignored; nullptr = logits only
  const int32_t* seg = nullptr;      // [B,T] packed-sample ids (attention stays within a sample); nullptr = none
  // [B,T] per-token weights of the main next-token term: ce = Σ_t w_t·CE_t instead of the mean over valid targets.
  // How SFT masks, GRPO (w_t = −dL/dlogp_t) and distillation put their own objective on the same backward.
  const float* weights = nullptr;
};

struct LossConfig {
  double mtp_lambda = 0.3;      // λ (spec §3.1): L_mtp = λ/D Σ_k CE_k; 0 = the MTP modules are not run at all
  double balance_alpha = 0.0;   // α (spec §2.5): sequence-wise balance loss weight (0 = off)
};

struct StepStats {
  double loss = 0, ce = 0, mtp = 0, bal = 0;
  int64_t ce_count = 0;
  std::vector<double> mtp_ce;                       // per module k (V3 with MTP only)
  std::vector<int64_t> mtp_count;                   // valid targets per module
  std::vector<std::vector<int64_t>> expert_load;    // [total_layers][E]; empty for dense layers and dense models
  std::vector<float> token_logprobs;                // [B·T] log p(target) of the main head (0 where ignored)
};

// Activations of one forward, planned up front for (B, T) and reused by backward; each model derives its own.
struct Activations {
  virtual ~Activations() = default;
  int64_t B = 0, T = 0;
  std::vector<float> logits;    // [N,V] after forward (its gradient after backward)
  size_t bytes = 0;             // everything planned, in bytes (reported in MiB before step 1)
};

// Figures for `nanoseek info` (summarize_config), from the tensor registry, so they never drift from what the model
// allocates.
struct ModelSummary {
  std::string model_type, architecture;  // "deepseek_v3", "MLA + DeepSeekMoE + MTP"
  std::vector<std::string> shape;        // human-readable lines: dimensions, attention, experts
  int64_t total_params = 0;              // main model (V3: without MTP modules, the paper's 671B)
  int64_t active_params_per_token = 0;   // counting K of E routed experts per MoE layer (dense: = total)
  int64_t mtp_params = 0, mtp_active_params = 0;
  int64_t embedding_params = 0;          // embed_tokens (+ lm_head if untied)
  int64_t layers = 0, hidden_size = 0, vocab_size = 0, max_positions = 0;
  std::string cache_kind;                // what a KV-cache row holds
  int64_t cache_values_per_token_layer = 0;   // values cached per token per layer by our engine
  int64_t mha_cache_values_per_token_layer = 0;  // full K and V of every head (the baseline MLA is compared with)
  double matmul_flops_per_token = 0, attention_flops_per_token = 0;  // forward, at the given context
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  // --- what it is
  virtual const std::string& model_type() const = 0;   // "deepseek_v3" | "deepseek_v2" | "qwen2" | "llama"
  virtual int64_t vocab_size() const = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t max_positions() const = 0;           // positions the RoPE table covers
  virtual int64_t bos_id() const = 0;                  // config's bos/eos token ids (−1 when absent)
  virtual int64_t eos_id() const = 0;
  virtual bool has_mtp() const { return false; }
  virtual nlohmann::json config_json() const = 0;      // HF config.json content

  // --- parameters: one flat buffer, gradients in a second one of the same layout
  virtual std::span<float> param_buffer() = 0;
  virtual std::span<const float> param_buffer() const = 0;
  virtual std::span<float> grad_buffer() = 0;           // empty until enable_grad()
  virtual float* head_weights() = 0;                    // [V, d] lm_head inside param_buffer (== embed when tied)
  virtual void enable_grad() = 0;
  virtual void zero_grad() = 0;
  // The tensor registry's layout of param_buffer() (and grad_buffer()): names, shapes, roles, offsets.
  virtual const TensorLayout& tensors() const = 0;
  // What an optimizer updates: trainable tensors once (a tied head appears once), with their decay policy.
  std::vector<ParamSpan> trainable_spans() const { return nanoseek::trainable_spans(tensors()); }
  // Layers that may report expert load, and the router correction bias of one (the aux-loss-free rule moves it;
  // nullptr: none there). Dense models: 0 layers.
  virtual int64_t routed_layers() const { return 0; }
  virtual float* router_bias(int64_t layer) { return nullptr; }
  virtual bool has_router_bias() const { return false; }
  // normal(0, initializer_range) for matrices, ones for norm gains, zeros for biases; deterministic per (seed,
  // tensor), independent of the thread count.
  void init(uint64_t seed);

  // --- compute
  virtual std::unique_ptr<Activations> plan(int64_t B, int64_t T, bool with_grad) const = 0;
  // acts.logits = [N,V]; losses and token log-probs when b.targets is set. lc applies to the V3 model only.
  virtual StepStats forward(const Batch& b, Activations& acts, const LossConfig& lc) const = 0;
  // d(stats.loss)/d(params) ACCUMULATED into grad_buffer(); needs forward's acts for the same batch. extra_dlogits [N,V]
  // (optional) is added to d(loss)/d(logits): a loss the caller computed on acts.logits (the distillation KL).
  virtual void backward(const Batch& b, Activations& acts, const LossConfig& lc,
                        const float* extra_dlogits = nullptr) = 0;
  // Backward from a caller-given gradient of the main head's logits [N,V] alone (b.targets may be null; no MTP,
  // no balance loss): how a critic's value head is trained.
  virtual void backward_from_logits(const Batch& b, Activations& acts, const float* dlogits) = 0;

  // --- inference: the KV-cache core the generation engine (infer/engine.h) drives
  virtual std::unique_ptr<DecodeCore> decode_core(int64_t slots, int64_t max_len) const = 0;

  // --- copies and files
  // Same architecture and weights, no gradients (a reference policy, a critic, a teacher snapshot).
  virtual std::unique_ptr<LanguageModel> clone() const = 0;
  // Both written once over the registry (model/tensors.h) for every architecture.
  // config.json + weights (F32 or BF16; sharded above max_shard_bytes), atomically per file.
  void save(const std::string& dir, DType dtype = DType::F32, size_t max_shard_bytes = size_t(5) << 30) const;
  // Every registry tensor from an HF directory (F32/BF16/F16/FP8 blocks; single file or sharded) for a model of
  // this config; errors name a missing or mis-shaped tensor and tensors the config does not explain.
  void load_weights(const std::string& dir);

 protected:
  virtual double init_std() const = 0;                       // config's initializer_range
  // Names saved with another tensor's data and accepted on load (V3: HF's per-MTP-layer embed/head copies).
  virtual std::vector<TensorAlias> tensor_aliases() const { return {}; }
  // Checkpoint tensors accepted and ignored on load (dense: rotary inv_freq buffers, a tied model's lm_head).
  virtual bool ignores_tensor(const std::string&) const { return false; }
};

// Copies every parameter of `from` into `to` (same architecture and config; an Error otherwise).
void copy_params(LanguageModel& to, const LanguageModel& from);

// config.json's model_type at DIR (Error naming the file when unreadable or absent).
std::string model_type_of(const std::string& dir);
bool is_dense_model_type(const std::string& model_type);   // "qwen2", "llama"

// The model of an HF config (parsed strictly by its architecture's parser), weights zero; `label` names it in
// errors. model_type picks the architecture: deepseek_v3/deepseek_v2 → Model, qwen2/llama → DenseModel.
std::unique_ptr<LanguageModel> make_language_model(const nlohmann::json& config, const std::string& label);
// Parameter counts, cache sizes and FLOPs of an HF config of either architecture, without allocating the model
// (DeepSeek-V3 at 671B); ctx is the context length of the attention FLOPs term.
ModelSummary summarize_config(const nlohmann::json& config, const std::string& label, int64_t ctx);
// config.json + weights of an HF model directory (single file or sharded; F32/BF16/F16/FP8 blocks).
std::unique_ptr<LanguageModel> load_language_model(const std::string& dir);

}  // namespace nanoseek
