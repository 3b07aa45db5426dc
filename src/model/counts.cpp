#include "model/counts.h"

#include "core/checked_math.h"

namespace nanoseek {

// Closed-form counts of what for_each_tensor (model/weights.cpp) emits, so `info` on a 1e9-expert config answers
// at once instead of building a billion tensor specs. tests/model/counts_test.cpp checks every figure against the
// registry layout for configs of both MoE kinds, MTP, q_lora null, tied heads and the real 671B file.
ModelCounts count_model(const ModelConfig& c, int64_t ctx, const std::string& label) {
  auto mul = [&](int64_t a, int64_t b, std::string_view what) { return checked_mul(a, b, label, what); };
  auto add = [&](int64_t a, int64_t b, std::string_view what) { return checked_add(a, b, label, what); };
  const int64_t d = c.hidden_size, H = c.num_attention_heads, E = c.n_routed_experts;

  // One decoder layer's attention (+ its two norms), the same in every layer.
  const int64_t qk = add(c.qk_nope_head_dim, c.qk_rope_head_dim, "qk_nope_head_dim + qk_rope_head_dim");
  const int64_t q_out = mul(H, qk, "num_attention_heads x qk_head_dim");
  int64_t attn = 0;
  if (c.q_lora_rank > 0) {
    attn = add(mul(c.q_lora_rank, d, "q_lora_rank x hidden_size"), c.q_lora_rank, "q_a_proj + q_a_layernorm");
    attn = add(attn, mul(q_out, c.q_lora_rank, "num_attention_heads x qk_head_dim x q_lora_rank"), "attention");
  } else {
    attn = mul(q_out, d, "num_attention_heads x qk_head_dim x hidden_size");
  }
  const int64_t kv_a = add(c.kv_lora_rank, c.qk_rope_head_dim, "kv_lora_rank + qk_rope_head_dim");
  attn = add(attn, mul(kv_a, d, "(kv_lora_rank + qk_rope_head_dim) x hidden_size"), "attention");
  attn = add(attn, c.kv_lora_rank, "attention");
  const int64_t kv_b = mul(H, add(c.qk_nope_head_dim, c.v_head_dim, "qk_nope_head_dim + v_head_dim"),
                           "num_attention_heads x (qk_nope_head_dim + v_head_dim)");
  attn = add(attn, mul(kv_b, c.kv_lora_rank, "kv_b_proj (num_attention_heads x ... x kv_lora_rank)"), "attention");
  const int64_t o_in = mul(H, c.v_head_dim, "num_attention_heads x v_head_dim");
  attn = add(attn, mul(d, o_in, "hidden_size x num_attention_heads x v_head_dim"), "attention");
  const int64_t common = add(attn, mul(2, d, "hidden_size"), "attention + norms");

  // FFNs: SwiGLU gate/up/down of width F is 3 x F x d.
  auto ffn = [&](int64_t F, std::string_view what) { return mul(3, mul(F, d, what), what); };
  const int64_t dense_ffn = ffn(c.intermediate_size, "intermediate_size x hidden_size");
  int64_t moe_rest = 0, routed = 0, routed_active = 0;   // per MoE layer: router (+bias) + shared; routed experts
  if (E > 0) {
    moe_rest = add(mul(E, d, "n_routed_experts x hidden_size"), c.has_correction_bias() ? E : 0, "router");
    if (c.n_shared_experts > 0)
      moe_rest = add(moe_rest, ffn(mul(c.n_shared_experts, c.moe_intermediate_size,
                                       "n_shared_experts x moe_intermediate_size"),
                                   "n_shared_experts x moe_intermediate_size x hidden_size"), "shared experts");
    const int64_t one = ffn(c.moe_intermediate_size, "moe_intermediate_size x hidden_size");
    routed = mul(E, one, "n_routed_experts x 3 x moe_intermediate_size x hidden_size");
    routed_active = mul(c.num_experts_per_tok, one, "num_experts_per_tok x 3 x moe_intermediate_size x hidden_size");
  }
  // MoE layers among [lo, hi): L >= first_k_dense_replace and L % moe_layer_freq == 0 (ModelConfig::is_moe_layer).
  auto moe_layers = [&](int64_t lo, int64_t hi) -> int64_t {
    if (E == 0) return 0;
    lo = std::max(lo, c.first_k_dense_replace);
    if (lo >= hi) return 0;
    const int64_t f = c.moe_layer_freq;
    auto ceil_div = [f](int64_t x) { return x / f + (x % f != 0); };   // x >= 0
    return ceil_div(hi) - ceil_div(lo);   // multiples of f in [lo, hi)
  };
  const int64_t nh = c.num_hidden_layers, D = c.num_nextn_predict_layers;
  const int64_t all_layers = add(nh, D, "num_hidden_layers + num_nextn_predict_layers");
  auto layers_params = [&](int64_t lo, int64_t hi, bool active) {
    const int64_t n = hi - lo, moe = moe_layers(lo, hi);
    int64_t p = mul(n, common, "layers x attention");
    p = add(p, mul(n - moe, dense_ffn, "dense layers x dense FFN"), "layers");
    p = add(p, mul(moe, moe_rest, "MoE layers x (router + shared experts)"), "layers");
    return add(p, mul(moe, active ? routed_active : routed, "MoE layers x routed experts"), "layers");
  };

  ModelCounts m;
  const int64_t embed = mul(c.vocab_size, d, "vocab_size x hidden_size");
  m.embedding_params = c.tie_word_embeddings ? embed : mul(2, embed, "2 x vocab_size x hidden_size");
  const int64_t outside = add(m.embedding_params, d, "embedding + final norm");
  m.total_params = add(outside, layers_params(0, nh, false), "total parameters");
  m.active_params_per_token = add(outside, layers_params(0, nh, true), "active parameters");
  const int64_t mtp_own = add(mul(3, d, "hidden_size"), mul(2, mul(d, d, "hidden_size x hidden_size"), "eh_proj"),
                              "MTP norms + eh_proj");
  m.mtp_params = add(mul(D, mtp_own, "num_nextn_predict_layers x MTP"), layers_params(nh, all_layers, false), "MTP");
  m.mtp_active_params =
      add(mul(D, mtp_own, "num_nextn_predict_layers x MTP"), layers_params(nh, all_layers, true), "MTP active");

  // The fp32 buffer the model would allocate (every tensor padded to 16 floats) must be addressable in bytes.
  const int64_t moe_all = moe_layers(0, all_layers);
  int64_t tensors = add(3, mul(all_layers, 16, "layers x tensors"), "tensors");
  tensors = add(tensors, mul(moe_all, add(mul(3, E, "n_routed_experts"), 5, "tensors"), "MoE tensors"), "tensors");
  const int64_t floats = add(add(m.total_params, m.mtp_params, "parameters"), mul(16, tensors, "padding"), "floats");
  mul(floats, 4, "the fp32 parameter bytes");

  m.mla_cache_values_per_layer = kv_a;
  m.mha_cache_values_per_layer = mul(H, add(qk, c.v_head_dim, "qk_head_dim + v_head_dim"), "MHA cache values");
  m.mla_cache_bytes_per_token = mul(2, mul(kv_a, nh, "MLA cache x num_hidden_layers"), "MLA cache bytes");
  m.mha_cache_bytes_per_token = mul(2, mul(m.mha_cache_values_per_layer, nh, "MHA cache x layers"), "MHA cache bytes");
  // Every active weight except the embedding table takes part in one multiply-add per token; a tied head is
  // counted once as the embedding but still does a matmul.
  double matmul_params = double(m.active_params_per_token) - double(embed);
  if (c.tie_word_embeddings) matmul_params += double(embed);
  m.matmul_flops_per_token = 2.0 * matmul_params;
  // Decompressed attention per layer: q.k over (nope+rope) and p.v over v, for ctx/2 keys on average.
  m.attention_flops_per_token = 2.0 * double(nh) * double(H) * double(qk + c.v_head_dim) * (double(ctx) / 2.0);
  return m;
}

}  // namespace nanoseek
