// Dense student models of the Qwen2 / Llama architecture (the DeepSeek-R1-Distill-{Qwen,Llama} family), in HF
// layout and tensor names so a real distill checkpoint directory loads as it is:
//   x = embed_tokens[ids]
//   per layer:  h = x + o_proj(Attn(RoPE_half(q_proj(n1)), RoPE_half(k_proj(n1)), v_proj(n1)))   n1 = RMSNorm(x)
//               x = h + down_proj(silu(gate_proj(n2)) ⊙ up_proj(n2))                               n2 = RMSNorm(h)
//   logits = lm_head(RMSNorm(x))  (lm_head = embed_tokens when tied);  loss = mean CE over valid targets.
// Attention: causal softmax, scale D^-1/2, GQA (head h reads kv head h / (H/Hkv), HF repeat_kv), q/k/v biases
// for qwen2 (never an o bias), none for llama unless attention_bias. RoPE: rotate_half (ops/rope_half.h).
// Positions are 0..T−1 in every row (HF default position_ids); packed samples (seg) only mask attention.
// Parameters: ONE flat buffer laid out by dense_for_each_tensor (64-byte aligned tensors, as V3's); gradients in a
// second one, same layout. Embedding, SwiGLU and the head + CE tail are the shared blocks (model/blocks.h).
// backward() ACCUMULATES into grads (zero_grad() between steps).
// Legend: B batch, T tokens, N = B·T, d hidden, H heads, Hkv kv heads, D head dim, F intermediate, V vocab.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "model/language_model.h"
#include "model/blocks.h"
#include "model/tensors.h"
#include "ops/rope_half.h"

namespace nanoseek {

struct DenseConfig {
  std::string model_type;        // "qwen2" | "llama"
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0;
  int64_t num_attention_heads = 0, num_key_value_heads = 0, head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0, rms_norm_eps = 1e-6, initializer_range = 0.02;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;         // qwen2: always; llama: attention_bias (which also adds an o_proj bias → Error)
  nlohmann::json extra;          // unread fields (token ids, torch_dtype, ...) kept for save
};

// Strict: a missing field that changes the math, a value we do not implement (rope_scaling other than null,
// hidden_act other than silu, sliding window in use, llama attention_bias=true, mlp_bias=true) or an inconsistent
// shape is an Error naming the field and `label` (the file).
DenseConfig parse_dense_config(const nlohmann::json& j, const std::string& label);
DenseConfig load_dense_config(const std::string& dir);          // DIR/config.json
nlohmann::json dense_config_json(const DenseConfig& c);         // HF config.json content (extra fields kept)
std::vector<std::string> dense_config_keys();                   // the config.json fields parse_dense_config reads

// Closed-form parameter counts of dense_for_each_tensor's layout, in checked 64-bit arithmetic: an overflow (also of
// the fp32 bytes of the parameter buffer) is an Error naming the fields, prefixed by `label`. parse_dense_config
// calls it, so a parsed config's counts always fit.
struct DenseCounts {
  int64_t total_params = 0;       // every tensor (a tied head once)
  int64_t embedding_params = 0;   // embed_tokens (+ lm_head if untied)
};
DenseCounts count_dense(const DenseConfig& c, const std::string& label = "config");

struct DenseLayerWeights {
  float* in_norm = nullptr;    // [d]          input_layernorm
  float* q = nullptr;          // [H*D, d]     self_attn.q_proj
  float* k = nullptr;          // [Hkv*D, d]
  float* v = nullptr;          // [Hkv*D, d]
  float* o = nullptr;          // [d, H*D]
  float* q_bias = nullptr;     // [H*D]        (qkv_bias)
  float* k_bias = nullptr;     // [Hkv*D]
  float* v_bias = nullptr;     // [Hkv*D]
  float* post_norm = nullptr;  // [d]          post_attention_layernorm
  FfnWeights mlp;              // mlp.{gate,up,down}_proj: [F,d] [F,d] [d,F]
};

struct DenseWeights {
  float* embed = nullptr;      // [V, d]
  std::vector<DenseLayerWeights> layers;
  float* norm = nullptr;       // [d]
  float* lm_head = nullptr;    // [V, d]  (== embed when tied)
};

// The dense tensor registry: fn(spec, slot) for every tensor in a fixed order (lm_head absent when tied); layout,
// binding, init, load and save are the shared registry code's (model/tensors.h).
void dense_for_each_tensor(const DenseConfig& c, DenseWeights& w, const TensorVisitor& fn);
TensorLayout dense_layout(const DenseConfig& c);
DenseWeights bind_dense_weights(const DenseConfig& c, float* base);

// Activations of one forward, planned up front for (B, T); backward reuses them.
struct DenseLayerActs {
  std::vector<float> x_in, n1, rstd1;   // [N,d] [N,d] [N]
  std::vector<float> q, k, v;           // [N,H*D] [N,Hkv*D] [N,Hkv*D]  (q, k after RoPE)
  std::vector<float> P, att;            // [B,H,T,T] [N,H*D]
  std::vector<float> x_mid, n2, rstd2;  // [N,d] [N,d] [N]
  std::vector<float> a, b, hact;        // [N,F] gate out, up out, silu(a)⊙b
};
struct DenseActs final : Activations {  // B, T, logits [N,V] and bytes (the planned total) in Activations
  std::vector<int32_t> pos;             // [N]
  std::vector<DenseLayerActs> layers;
  std::vector<float> x_final, nf, rstdf;  // [N,d] [N,d] [N]
  // scratch shared by all layers in backward / GQA expansion
  std::vector<float> kx, vx, dkx, dvx;  // [N,H*D]
  std::vector<float> dx, dmid, dn, datt, dq, dk, dv, da, db, dh;
};
DenseActs plan_dense_acts(const DenseConfig& c, int64_t B, int64_t T);

struct DenseStats {
  double loss = 0;     // mean CE over valid targets (0 when none), or Σ w_t·CE_t when the batch carries weights
  int64_t count = 0;   // valid targets
  std::vector<float> token_logprobs;   // [N] log p(target) (0 where ignored); filled when targets are given
};

class DenseModel final : public LanguageModel {
 public:
  explicit DenseModel(const DenseConfig& c);
  DenseModel(const DenseModel&) = delete;
  DenseModel& operator=(const DenseModel&) = delete;

  const DenseConfig cfg;
  const TensorLayout layout;
  std::vector<float> params;   // flat, layout.total floats
  DenseWeights w;
  std::vector<float> grads;    // same layout (empty until enable_grad)
  DenseWeights g;
  RopeHalfTable rope;


  // acts.logits = [N,V] logits; loss when b.targets is set. Per-token weights (Batch::weights, when that field
  // exists and is set) replace the mean as in Model: loss = Σ_t w_t·CE_t — how SFT, GRPO and KD drive the student.
  DenseStats forward(const Batch& b, DenseActs& acts) const;
  // d(stats.loss)/d(params) ACCUMULATED into grads; needs the acts of forward() on the same batch.
  // extra_dlogits [N,V] (optional) is added to d(loss)/d(logits) first: the hook for a loss the caller computes on
  // acts.logits after forward (the distillation KL, rl/kd_loss.h), so the gradient is that of stats.loss + extra.
  void backward(const Batch& b, DenseActs& acts, const float* extra_dlogits = nullptr);
  // Backward from a caller-given gradient of the logits [N,V] alone (b.targets may be null).
  void backward_from_logits(const Batch& b, DenseActs& acts, const float* dlogits);

  // --- LanguageModel
  const std::string& model_type() const override { return cfg.model_type; }
  int64_t vocab_size() const override { return cfg.vocab_size; }
  int64_t hidden_size() const override { return cfg.hidden_size; }
  int64_t max_positions() const override { return rope.max_pos; }
  int64_t bos_id() const override;
  int64_t eos_id() const override;
  nlohmann::json config_json() const override;
  std::span<float> param_buffer() override { return params; }
  std::span<const float> param_buffer() const override { return params; }
  std::span<float> grad_buffer() override { return grads; }
  float* head_weights() override { return w.lm_head; }
  void enable_grad() override;
  void zero_grad() override;
  const TensorLayout& tensors() const override { return layout; }   // every tensor trainable
  std::unique_ptr<Activations> plan(int64_t B, int64_t T, bool with_grad) const override;
  StepStats forward(const Batch& b, Activations& acts, const LossConfig& lc) const override;
  void backward(const Batch& b, Activations& acts, const LossConfig& lc, const float* extra_dlogits) override;
  void backward_from_logits(const Batch& b, Activations& acts, const float* dlogits) override;
  std::unique_ptr<DecodeCore> decode_core(int64_t slots, int64_t max_len) const override;
  std::unique_ptr<LanguageModel> clone() const override;

 protected:
  double init_std() const override { return cfg.initializer_range; }
  // rotary inv_freq buffers (older checkpoints) and a tied model's redundant lm_head.weight (HF ignores it too)
  bool ignores_tensor(const std::string& name) const override;

 private:
  OutputHead head() const;
  void backward_impl(const Batch& b, DenseActs& acts, const float* dlogits_given, const float* extra_dlogits);
};

// config.json + weights of a Qwen2/Llama directory (LanguageModel::load_weights: every registry tensor present
// with its shape, unknown tensors an Error). load_language_model picks the architecture itself.
std::unique_ptr<DenseModel> load_dense_model(const std::string& dir);

}  // namespace nanoseek
