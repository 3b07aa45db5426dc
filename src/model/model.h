// The DeepSeek-V3 model: embedding → [MLA + (dense FFN | DeepSeekMoE)] × L → final norm → head, plus D MTP
// modules (spec §1–§3; exact semantics in tools/reference/README.md and docs/model.md).
// Parameters live in ONE flat buffer laid out by the tensor registry (model/weights.h); gradients in a second
// buffer with the same layout. forward() saves activations in a Workspace planned for (B, T); backward()
// consumes them and ACCUMULATES into the gradient buffer (call zero_grad() between steps).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/language_model.h"
#include "model/weights.h"
#include "model/workspace.h"
#include "ops/moe_router.h"
#include "ops/rope.h"

namespace nanoseek {

class Model final : public LanguageModel {
 public:
  explicit Model(const ModelConfig& c);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig cfg;
  const TensorLayout layout;
  std::vector<float> params;   // flat, layout.total floats
  ModelWeights w;              // named pointers into params
  std::vector<float> grads;    // same layout (empty until enable_grad)
  ModelWeights g;              // named pointers into grads
  RouterConfig rc;
  RopeTable rope;
  float attn_scale;

  size_t param_bytes() const { return params.size() * sizeof(float); }

  // Runs the main model (and the MTP modules when targets are given). ws.logits holds [B·T, V] afterwards.
  StepStats forward(const Batch& b, Workspace& ws, const LossConfig& lc) const;
  // Gradient of stats.loss (+ extra_dlogits on the main head's logits, when given) w.r.t. every trainable
  // parameter, accumulated into grads. Requires the Workspace of the forward() call (planned with_grad) and the
  // same batch. Overwrites ws.logits with its gradient.
  void backward(const Batch& b, Workspace& ws, const LossConfig& lc, const float* extra_dlogits = nullptr);
  // Backward from a caller-given gradient of the main head's logits dlogits [B·T, V] instead of the next-token loss
  // (b.targets may be null; MTP and the balance loss are not part of it). How a critic's value head is trained.
  void backward_from_logits(const Batch& b, Workspace& ws, const float* dlogits);

  // --- LanguageModel
  const std::string& model_type() const override { return cfg.model_type; }
  int64_t vocab_size() const override { return cfg.vocab_size; }
  int64_t hidden_size() const override { return cfg.hidden_size; }
  int64_t max_positions() const override { return rope.max_pos; }
  int64_t bos_id() const override { return cfg.bos_token_id; }
  int64_t eos_id() const override { return cfg.eos_token_id; }
  bool has_mtp() const override { return cfg.num_nextn_predict_layers > 0; }
  nlohmann::json config_json() const override;
  std::span<float> param_buffer() override { return params; }
  std::span<const float> param_buffer() const override { return params; }
  std::span<float> grad_buffer() override { return grads; }
  float* head_weights() override { return w.lm_head; }
  void enable_grad() override;
  void zero_grad() override;
  const TensorLayout& tensors() const override { return layout; }
  int64_t routed_layers() const override { return cfg.total_layers(); }
  float* router_bias(int64_t layer) override { return w.layers[size_t(layer)].router_bias; }
  bool has_router_bias() const override { return cfg.has_correction_bias(); }
  std::unique_ptr<Activations> plan(int64_t B, int64_t T, bool with_grad) const override;
  StepStats forward(const Batch& b, Activations& acts, const LossConfig& lc) const override;
  void backward(const Batch& b, Activations& acts, const LossConfig& lc, const float* extra_dlogits) override;
  void backward_from_logits(const Batch& b, Activations& acts, const float* dlogits) override;
  std::unique_ptr<DecodeCore> decode_core(int64_t slots, int64_t max_len) const override;
  std::unique_ptr<LanguageModel> clone() const override;

 protected:
  double init_std() const override { return cfg.initializer_range; }
  std::vector<TensorAlias> tensor_aliases() const override;   // HF's embed/head copies in each MTP layer

 private:
  OutputHead main_head() const;             // final norm + lm_head
  OutputHead mtp_head(int64_t L) const;     // MTP layer L's shared_head.norm + the shared lm_head
  void backward_impl(const Batch& b, Workspace& ws, const LossConfig& lc, const float* dlogits,
                     const float* extra_dlogits);
};

// config.json + weights of a DeepSeek-V3/V2 directory (load_language_model picks the architecture itself).
std::unique_ptr<Model> load_model(const std::string& dir);

// --- layer-level pieces (model/mla.cpp, model/ffn.cpp), exposed for tests and the inference engine ---
struct LayerCtx {
  const Model& m;
  int64_t L;                 // layer index (MTP layers: num_hidden_layers + k − 1)
  int64_t B, T;
  const int32_t* pos;        // [B·T] RoPE positions
  const int32_t* seg;        // nullable
};
// a.x_mid = a.x_in + MLA(RMSNorm_in(a.x_in))
void mla_forward(const LayerCtx& cx, LayerActs& a);
// dx_in[N,d] += d(x_mid)/d(x_in)^T · dmid (attention branch only; the caller adds the residual path)
void mla_backward(const LayerCtx& cx, LayerActs& a, const float* dmid, float* dx_in, Workspace& ws, LayerWeights& lg);
// out[N,d] = x_mid + FFN(RMSNorm_post(x_mid)) (dense or MoE); load[E] += expert assignments (MoE).
void ffn_forward(const LayerCtx& cx, LayerActs& a, float* out, int64_t* load);
// dmid[N,d] += FFN-branch gradient from dout; balance loss (alpha) gradient included for MoE layers.
void ffn_backward(const LayerCtx& cx, LayerActs& a, const float* dout, float* dmid, Workspace& ws, LayerWeights& lg,
                  double alpha);
// Sequence-wise balance loss of one MoE layer's saved routing (0 for dense layers).
double layer_balance_loss(const LayerCtx& cx, const LayerActs& a, double alpha);

}  // namespace nanoseek
