// The tensor registry both architectures share. Each model enumerates its tensors once (HF name, shape, init,
// role — model/weights.cpp for DeepSeek-V3, model/dense.cpp for Qwen2/Llama) and everything that walks
// parameters is written here, once, over that list:
//   layout   — one flat float buffer, every tensor starting 64-byte aligned (16 floats) for SIMD loads;
//   binding  — the model's named pointers set in registry order (the gradient buffer binds the same way);
//   init     — normal(0, std) for matrices and embeddings, ones for norm gains, zeros for biases;
//   optimizer view — trainable tensors once, weight decay on matrices and embeddings only;
//   load     — every registry tensor from an HF directory (F32/BF16/F16/F8 blocks), nothing unexplained;
//   save     — config.json + model.safetensors (or shards), F32 or BF16, atomically per file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace nanoseek {

// A contiguous run of trainable parameters in the flat buffer, and whether AdamW's weight decay applies to it.
struct ParamSpan {
  size_t begin, n;
  bool decay;
};

enum class Init { Normal, Ones, Zeros };
// What a tensor is, for counting active parameters and for optimizer policy (no weight decay on norms or biases).
enum class Role { Embed, Head, Norm, Attn, Bias, DenseFfn, Router, RouterBias, RoutedExpert, SharedExpert, MtpProj };

struct TensorSpec {
  std::string name;             // HF name
  std::vector<int64_t> shape;
  Init init;
  Role role;
  int64_t layer = -1;           // -1 for global tensors
  bool trainable = true;        // false for the router correction bias (a buffer moved by the bias rule)
  int64_t numel() const { int64_t n = 1; for (auto s : shape) n *= s; return n; }
};

// A registry walk: calls visit(spec, slot) for every tensor in a fixed order; `slot` is the named pointer to bind.
using TensorVisitor = std::function<void(const TensorSpec&, float*&)>;

struct TensorLayout {
  std::vector<TensorSpec> specs;
  std::vector<size_t> offsets;  // float offsets into the flat buffer (multiples of 16)
  size_t total = 0;             // floats in the buffer, alignment padding included
  size_t params = 0;            // Σ numel: the parameter count
  void add(const TensorSpec& s);
};

// The layout of a registry walk, and its binding: every slot the walk visits set to base + offset (same order).
TensorLayout layout_of(const std::function<void(const TensorVisitor&)>& walk);
void bind_slots(const std::function<void(const TensorVisitor&)>& walk, float* base);

// normal(0, std) (Init::Normal), 1 or 0, per tensor; tensor i draws from Rng::derive(seed, i), so the result is
// independent of the thread count.
void init_tensors(const TensorLayout& layout, float* params, uint64_t seed, double std);

// Trainable tensors once (a tied head shares embed's offset), weight decay on matrices and embeddings, not on norm
// gains and biases (the router correction bias is not trainable: the aux-loss-free rule moves it).
bool decays(const TensorSpec& s);
std::vector<ParamSpan> trainable_spans(const TensorLayout& layout);

// A name saved with another tensor's data and accepted on load (HF writes the shared embedding and head again
// inside each MTP layer).
struct TensorAlias {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;
};

// Reads every registry tensor of the checkpoint at `dir` into params. Errors name a missing tensor (with its
// shape), a shape mismatch, or the checkpoint tensors nothing explains. A tensor is explained by the registry,
// an alias, FP8 block scales ("<name>_scale_inv") of either, or `ignore(name)` (checkpoint buffers HF skips).
void load_tensors(const std::string& dir, const TensorLayout& layout, float* params,
                  const std::vector<std::string>& aliases, const std::function<bool(const std::string&)>& ignore);

// Writes the registry tensors (then the aliases) in dtype F32 or BF16 — tensors that are not trainable (the router
// correction bias) stay F32, as in the released checkpoints — sharded above max_shard_bytes, then config.json with
// torch_dtype set to what was written. Each file atomically.
void save_tensors(const std::string& dir, const TensorLayout& layout, const float* params,
                  const std::vector<TensorAlias>& aliases, nlohmann::json config, DType dtype,
                  size_t max_shard_bytes);

}  // namespace nanoseek
