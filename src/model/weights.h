// The tensor registry: ONE enumeration of every model tensor (HF name, shape, init, role) — for_each_tensor —
// drives the flat-buffer layout, binding of named pointers, load, save, init, zeroing, the optimizer and
// parameter counting. A second buffer with the same layout holds gradients; the same binding gives named
// gradient pointers (ModelWeights bound to the grad buffer).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/language_model.h"

namespace nanoseek {

enum class Init { Normal, Ones, Zeros };
// What a tensor is, for counting active parameters and for optimizer policy (e.g. no weight decay on norms).
enum class Role { Embed, Head, Norm, Attn, DenseFfn, Router, RouterBias, RoutedExpert, SharedExpert, MtpProj };

struct FfnWeights {        // SwiGLU: down(silu(gate x) * up x)
  float* gate = nullptr;   // [F, d]
  float* up = nullptr;     // [F, d]
  float* down = nullptr;   // [d, F]
};

struct AttnWeights {
  float* q_a = nullptr;       // [q_lora, d]        (q_lora_rank > 0)
  float* q_a_norm = nullptr;  // [q_lora]
  float* q_b = nullptr;       // [H*(nope+rope), q_lora]
  float* q = nullptr;         // [H*(nope+rope), d] (q_lora_rank == 0)
  float* kv_a = nullptr;      // [kv_lora+rope, d]
  float* kv_a_norm = nullptr; // [kv_lora]
  float* kv_b = nullptr;      // [H*(nope+v), kv_lora]
  float* o = nullptr;         // [d, H*v]
};

struct LayerWeights {
  float* in_norm = nullptr;    // [d]  input_layernorm
  AttnWeights attn;
  float* post_norm = nullptr;  // [d]  post_attention_layernorm
  bool moe = false;
  FfnWeights mlp;              // dense FFN (moe == false)
  float* router = nullptr;     // [E, d]  mlp.gate.weight
  float* router_bias = nullptr;// [E]     mlp.gate.e_score_correction_bias (noaux_tc only; no gradient)
  std::vector<FfnWeights> experts;  // E routed experts
  FfnWeights shared;           // shared experts fused, F = n_shared * moe_inter (absent if n_shared == 0)
  // MTP module extras (layers >= num_hidden_layers)
  float* enorm = nullptr;      // [d]
  float* hnorm = nullptr;      // [d]
  float* eh_proj = nullptr;    // [d, 2d]  input = [enorm(emb) ; hnorm(h)], embedding first (spec §3.2)
  float* head_norm = nullptr;  // [d]      shared_head.norm
};

struct ModelWeights {
  float* embed = nullptr;      // [V, d]
  std::vector<LayerWeights> layers;  // num_hidden_layers main layers, then D MTP layers
  float* norm = nullptr;       // [d]
  float* lm_head = nullptr;    // [V, d] (== embed when tie_word_embeddings)
};

struct TensorSpec {
  std::string name;             // HF name
  std::vector<int64_t> shape;
  Init init;
  Role role;
  int64_t layer;                // -1 for global tensors
  bool trainable;               // false for the router correction bias (a buffer updated by the bias rule)
  int64_t numel() const { int64_t n = 1; for (auto s : shape) n *= s; return n; }
};

// Calls fn(spec, slot) for every tensor in a fixed order; `slot` is the pointer field in `w` to bind.
void for_each_tensor(const ModelConfig& c, ModelWeights& w, const std::function<void(const TensorSpec&, float*&)>& fn);

struct TensorLayout {
  std::vector<TensorSpec> specs;
  std::vector<size_t> offsets;  // float offsets into the flat buffer
  size_t total = 0;             // floats
};
TensorLayout tensor_layout(const ModelConfig& c);
// Binds every pointer of a ModelWeights into `base` (a buffer of layout.total floats). Tied heads alias embed.
ModelWeights bind_weights(const ModelConfig& c, float* base);

// Trainable tensors once (a tied head shares embed's offset), weight decay on matrices and embeddings, not on norm
// gains (the router correction bias is not trainable: the aux-loss-free rule moves it).
bool decays(const TensorSpec& s);
std::vector<ParamSpan> trainable_spans(const TensorLayout& layout);

// HF duplicates the shared embedding and head inside each MTP layer; we write them on save and accept them on load.
std::vector<std::string> mtp_duplicate_names(const ModelConfig& c);

}  // namespace nanoseek
