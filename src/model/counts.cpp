#include "model/counts.h"

#include "model/weights.h"

namespace nanoseek {

ModelCounts count_model(const ModelConfig& c, int64_t ctx) {
  ModelCounts m;
  const double routed_share = c.n_routed_experts > 0 ? double(c.num_experts_per_tok) / double(c.n_routed_experts) : 0;
  double active = 0, mtp_active = 0;
  for (const TensorSpec& s : tensor_layout(c).specs) {
    const int64_t n = s.numel();
    const bool mtp = s.layer >= c.num_hidden_layers;
    const double a = s.role == Role::RoutedExpert ? n * routed_share : double(n);
    if (mtp) {
      m.mtp_params += n;
      mtp_active += a;
      continue;
    }
    m.total_params += n;
    active += a;
    if (s.role == Role::Embed || s.role == Role::Head) m.embedding_params += n;
  }
  m.active_params_per_token = int64_t(active + 0.5);
  m.mtp_active_params = int64_t(mtp_active + 0.5);
  m.mla_cache_values_per_layer = c.kv_lora_rank + c.qk_rope_head_dim;
  m.mha_cache_values_per_layer = c.num_attention_heads * (c.qk_head_dim() + c.v_head_dim);
  m.mla_cache_bytes_per_token = 2 * m.mla_cache_values_per_layer * c.num_hidden_layers;
  m.mha_cache_bytes_per_token = 2 * m.mha_cache_values_per_layer * c.num_hidden_layers;
  // Every active weight except the embedding table takes part in one multiply-add per token; a tied head is
  // counted once as the embedding but still does a matmul.
  double matmul_params = active - double(c.vocab_size * c.hidden_size);
  if (c.tie_word_embeddings) matmul_params += double(c.vocab_size * c.hidden_size);
  m.matmul_flops_per_token = 2.0 * matmul_params;
  // Decompressed attention per layer: q.k over (nope+rope) and p.v over v, for ctx/2 keys on average.
  m.attention_flops_per_token = 2.0 * c.num_hidden_layers * c.num_attention_heads *
                                double(c.qk_head_dim() + c.v_head_dim) * (double(ctx) / 2.0);
  return m;
}

}  // namespace nanoseek
