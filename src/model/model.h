// The DeepSeek-V3 model: embedding → [MLA + (dense FFN | DeepSeekMoE)] × L → final norm → head, plus D MTP
// modules (spec §1–§3; exact semantics in tools/reference/README.md and docs/model.md).
// Parameters live in ONE flat buffer laid out by the tensor registry (model/weights.h); gradients in a second
// buffer with the same layout. forward() saves activations in a Workspace planned for (B, T); backward()
// consumes them and ACCUMULATES into the gradient buffer (call zero_grad() between steps).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "model/workspace.h"
#include "ops/moe_router.h"
#include "ops/rope.h"

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
  std::vector<double> mtp_ce;                       // per module k
  std::vector<int64_t> mtp_count;                   // valid targets per module
  std::vector<std::vector<int64_t>> expert_load;    // [total_layers][E]; empty for dense layers
  std::vector<float> token_logprobs;                // [B·T] log p(target) of the main head (0 where ignored)
};

class Model {
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

  void enable_grad();
  void zero_grad();
  size_t param_bytes() const { return params.size() * sizeof(float); }

  // Runs the main model (and the MTP modules when targets are given). ws.logits holds [B·T, V] afterwards.
  StepStats forward(const Batch& b, Workspace& ws, const LossConfig& lc) const;
  // Gradient of stats.loss w.r.t. every trainable parameter, accumulated into grads. Requires the Workspace of
  // the forward() call (planned with_grad) and the same batch. Overwrites ws.logits with its gradient.
  void backward(const Batch& b, Workspace& ws, const LossConfig& lc);
  // Backward from a caller-given gradient of the main head's logits dlogits [B·T, V] instead of the next-token loss
  // (b.targets may be null; MTP and the balance loss are not part of it). How a critic's value head is trained.
  void backward_from_logits(const Batch& b, Workspace& ws, const float* dlogits);

 private:
  void backward_impl(const Batch& b, Workspace& ws, const LossConfig& lc, const float* dlogits);
};

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
