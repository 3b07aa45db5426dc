// libFuzzer target for recipes: the first byte picks the mode. Odd: the rest is a TOML recipe for parse_recipe.
// Even: the rest is a `--set key=value` assignment applied to recipes/ci-tiny.toml's recipe (embedded below so the
// target needs no files). Every input must succeed or throw nanoseek::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "pipeline/recipe.h"

namespace {

const char* const kBase = R"([model]
model_type = "deepseek_v3"
hidden_size = 32
intermediate_size = 64
moe_intermediate_size = 16
num_hidden_layers = 2
num_attention_heads = 2
q_lora_rank = 16
kv_lora_rank = 16
qk_nope_head_dim = 8
qk_rope_head_dim = 8
v_head_dim = 8
n_routed_experts = 4
n_shared_experts = 1
num_experts_per_tok = 2
topk_method = "noaux_tc"
scoring_func = "sigmoid"
norm_topk_prob = true
routed_scaling_factor = 1.0
first_k_dense_replace = 1
num_nextn_predict_layers = 1
max_position_embeddings = 256
rope_theta = 10000.0
rms_norm_eps = 1e-6

[data]
tasks = ["add", "mul"]
train_docs = 400
vocab_size = 300

[train]
steps = 12
batch_size = 4
seq_len = 64
lr = 3e-3

[grpo]
tasks = ["add"]
levels = ["d1"]
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  if (size == 0) return 0;
  static const Recipe base = parse_recipe(kBase, "base.toml");
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] & 1) {
      parse_recipe(text, "recipe.toml");
    } else {
      Recipe r = base;
      apply_override(r, text);
    }
  } catch (const Error&) {
  }
  return 0;
}
