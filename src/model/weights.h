// The DeepSeek-V3 tensor registry: ONE enumeration of every model tensor (HF name, shape, init, role) —
// for_each_tensor — from which the shared registry code (model/tensors.h) derives the flat-buffer layout, the
// binding of named pointers, load, save, init, the optimizer view and parameter counting. A second buffer with the
// same layout holds gradients; the same binding gives named gradient pointers (ModelWeights bound to grads).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/blocks.h"
#include "model/config.h"
#include "model/tensors.h"

namespace nanoseek {

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

// Calls fn(spec, slot) for every tensor in a fixed order; `slot` is the pointer field in `w` to bind.
void for_each_tensor(const ModelConfig& c, ModelWeights& w, const TensorVisitor& fn);

TensorLayout tensor_layout(const ModelConfig& c);
// Binds every pointer of a ModelWeights into `base` (a buffer of layout.total floats). Tied heads alias embed.
ModelWeights bind_weights(const ModelConfig& c, float* base);

// HF duplicates the shared embedding and head inside each MTP layer; we write them on save and accept them on load.
std::vector<std::string> mtp_duplicate_names(const ModelConfig& c);

}  // namespace nanoseek
