// Analytic model figures for `nanoseek info`: parameter counts, KV-cache sizes and FLOPs, in closed form from the
// config with checked 64-bit arithmetic (tests/model/counts_test.cpp holds them equal to the tensor registry's).
#pragma once
#include <cstdint>
#include <string>

#include "model/config.h"

namespace nanoseek {

struct ModelCounts {
  int64_t total_params = 0;             // main model, without MTP modules (the paper's 671B)
  int64_t active_params_per_token = 0;  // main model, counting only K of E routed experts per MoE layer (37B)
  int64_t mtp_params = 0;               // MTP modules, excluding the shared embedding and head (11.5B)
  int64_t mtp_active_params = 0;        // MTP modules, activated per token (2.4B)
  int64_t embedding_params = 0;         // embed_tokens (+ lm_head if untied)
  // Values cached per token per layer, and bytes per token over all main layers at 2 bytes/value (bf16).
  int64_t mla_cache_values_per_layer = 0;  // kv_lora + rope
  int64_t mha_cache_values_per_layer = 0;  // H * (nope + rope + v): K and V of the same shape after up-projection
  int64_t mla_cache_bytes_per_token = 0;
  int64_t mha_cache_bytes_per_token = 0;
  // Forward FLOPs per token: 2 x active matmul params (the head included, the embedding lookup not),
  // plus attention scores and weighted sum at context length `ctx` (average over a causal sequence: ctx/2 keys).
  double matmul_flops_per_token = 0;
  double attention_flops_per_token = 0;
};

// An overflow anywhere (counts, the fp32 bytes of the parameter buffer, cache bytes) is an Error naming the fields,
// prefixed by `label` (the config file). parse_config calls it, so a parsed config's counts always fit.
ModelCounts count_model(const ModelConfig& c, int64_t ctx, const std::string& label = "config");

}  // namespace nanoseek
