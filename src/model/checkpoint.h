// Model directories in HF layout: config.json + model.safetensors (or shards + index) [+ tokenizer files].
// Load, save and init are all driven by the tensor registry (model/weights.h).
#pragma once
#include <memory>
#include <string>

#include "core/dtype.h"
#include "model/model.h"

namespace nanoseek {

// Normal(0, initializer_range) for matrices and embeddings, ones for norm gains, zeros for router biases.
// Deterministic in `seed`, independent of thread count.
void init_weights(Model& m, uint64_t seed);

// Reads every registry tensor (F32/BF16/F16/F8_E4M3 with block scales) into m.params. Errors name missing tensors,
// shape mismatches and tensors the checkpoint has that the config does not explain.
void load_weights(Model& m, const std::string& path_or_dir);
std::unique_ptr<Model> load_model(const std::string& dir);   // config.json + weights

// Writes config.json and the weights (F32 or BF16; sharded above max_shard_bytes) into dir, atomically per file.
// MTP layers get HF's duplicate embed_tokens / shared_head.head copies.
void save_model(const Model& m, const std::string& dir, DType dtype = DType::F32,
                size_t max_shard_bytes = size_t(5) << 30);

}  // namespace nanoseek
