#include "model/weights.h"

#include <fmt/format.h>

namespace nanoseek {

namespace {

struct Emitter {
  const ModelConfig& c;
  const TensorVisitor& fn;
  void operator()(std::string name, std::vector<int64_t> shape, Init init, Role role, int64_t layer, float*& slot,
                  bool trainable = true) const {
    fn(TensorSpec{std::move(name), std::move(shape), init, role, layer, trainable}, slot);
  }
  void ffn(const std::string& p, int64_t F, Role role, int64_t L, FfnWeights& f) const {
    int64_t d = c.hidden_size;
    (*this)(p + ".gate_proj.weight", {F, d}, Init::Normal, role, L, f.gate);
    (*this)(p + ".up_proj.weight", {F, d}, Init::Normal, role, L, f.up);
    (*this)(p + ".down_proj.weight", {d, F}, Init::Normal, role, L, f.down);
  }
};

}  // namespace

void for_each_tensor(const ModelConfig& c, ModelWeights& w, const TensorVisitor& fn) {
  Emitter e{c, fn};
  const int64_t d = c.hidden_size;
  e("model.embed_tokens.weight", {c.vocab_size, d}, Init::Normal, Role::Embed, -1, w.embed);
  w.layers.resize(c.total_layers());
  for (int64_t L = 0; L < c.total_layers(); ++L) {
    LayerWeights& l = w.layers[L];
    const std::string p = fmt::format("model.layers.{}", L);
    const bool mtp = L >= c.num_hidden_layers;
    if (mtp) {  // HF order: MTP-specific tensors beside the decoder layer's
      e(p + ".enorm.weight", {d}, Init::Ones, Role::Norm, L, l.enorm);
      e(p + ".hnorm.weight", {d}, Init::Ones, Role::Norm, L, l.hnorm);
      e(p + ".eh_proj.weight", {d, 2 * d}, Init::Normal, Role::MtpProj, L, l.eh_proj);
      e(p + ".shared_head.norm.weight", {d}, Init::Ones, Role::Norm, L, l.head_norm);
    }
    e(p + ".input_layernorm.weight", {d}, Init::Ones, Role::Norm, L, l.in_norm);
    const std::string a = p + ".self_attn";
    AttnWeights& at = l.attn;
    if (c.q_lora_rank > 0) {
      e(a + ".q_a_proj.weight", {c.q_lora_rank, d}, Init::Normal, Role::Attn, L, at.q_a);
      e(a + ".q_a_layernorm.weight", {c.q_lora_rank}, Init::Ones, Role::Norm, L, at.q_a_norm);
      e(a + ".q_b_proj.weight", {c.q_out_dim(), c.q_lora_rank}, Init::Normal, Role::Attn, L, at.q_b);
    } else {
      e(a + ".q_proj.weight", {c.q_out_dim(), d}, Init::Normal, Role::Attn, L, at.q);
    }
    e(a + ".kv_a_proj_with_mqa.weight", {c.kv_a_dim(), d}, Init::Normal, Role::Attn, L, at.kv_a);
    e(a + ".kv_a_layernorm.weight", {c.kv_lora_rank}, Init::Ones, Role::Norm, L, at.kv_a_norm);
    e(a + ".kv_b_proj.weight", {c.kv_b_dim(), c.kv_lora_rank}, Init::Normal, Role::Attn, L, at.kv_b);
    e(a + ".o_proj.weight", {d, c.o_in_dim()}, Init::Normal, Role::Attn, L, at.o);
    e(p + ".post_attention_layernorm.weight", {d}, Init::Ones, Role::Norm, L, l.post_norm);
    l.moe = c.is_moe_layer(L);
    if (!l.moe) {
      e.ffn(p + ".mlp", c.intermediate_size, Role::DenseFfn, L, l.mlp);
      continue;
    }
    e(p + ".mlp.gate.weight", {c.n_routed_experts, d}, Init::Normal, Role::Router, L, l.router);
    if (c.has_correction_bias())
      e(p + ".mlp.gate.e_score_correction_bias", {c.n_routed_experts}, Init::Zeros, Role::RouterBias, L,
        l.router_bias, /*trainable=*/false);
    l.experts.resize(c.n_routed_experts);
    for (int64_t x = 0; x < c.n_routed_experts; ++x)
      e.ffn(fmt::format("{}.mlp.experts.{}", p, x), c.moe_intermediate_size, Role::RoutedExpert, L, l.experts[x]);
    if (c.n_shared_experts > 0) e.ffn(p + ".mlp.shared_experts", c.shared_inter(), Role::SharedExpert, L, l.shared);
  }
  e("model.norm.weight", {d}, Init::Ones, Role::Norm, -1, w.norm);
  if (!c.tie_word_embeddings) e("lm_head.weight", {c.vocab_size, d}, Init::Normal, Role::Head, -1, w.lm_head);
}

TensorLayout tensor_layout(const ModelConfig& c) {
  return layout_of([&](const TensorVisitor& v) {
    ModelWeights scratch;
    for_each_tensor(c, scratch, v);
  });
}

ModelWeights bind_weights(const ModelConfig& c, float* base) {
  ModelWeights w;
  bind_slots([&](const TensorVisitor& v) { for_each_tensor(c, w, v); }, base);
  if (c.tie_word_embeddings) w.lm_head = w.embed;
  return w;
}

std::vector<std::string> mtp_duplicate_names(const ModelConfig& c) {
  std::vector<std::string> out;
  for (int64_t L = c.num_hidden_layers; L < c.total_layers(); ++L) {
    out.push_back(fmt::format("model.layers.{}.embed_tokens.weight", L));
    out.push_back(fmt::format("model.layers.{}.shared_head.head.weight", L));
  }
  return out;
}

}  // namespace nanoseek
