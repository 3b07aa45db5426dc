// Whole-model forward and backward: embedding, decoder stack, final norm + head, MTP modules, losses.
// MTP (spec §3, semantics in docs/model.md): module k runs on positions i = 0..T−k−1 of each sequence,
// m_i = eh_proj([enorm(Emb(ids[i+k])) ; hnorm(h^{k−1}_i)]) (embedding first, as the released weights use),
// h^k = DecoderLayer(m), logits = head(shared_head.norm(h^k)) predicting targets[i+k]. h^0 is the last main
// layer's output before the final norm. The embedding and head are the main model's (shared).
#include "core/parallel.h"
#include "model/model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "model/blocks.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"

namespace nanoseek {

namespace {
OutputActs main_out(Workspace& ws, int64_t N) {
  return {ws.h_final.data(), ws.xnf.data(), ws.rstd_f.data(), ws.logits.data(), N};
}
OutputActs mtp_out(MtpActs& mt, int64_t Nk) {
  return {mt.h_out.data(), mt.hn.data(), mt.hn_rstd.data(), mt.logits.data(), Nk};
}

// Model-level scratch slots (the layer functions use 0..9).
enum Slot { S_DHEAD = 10, S_DH0 = 11, S_MTP_A = 12, S_MTP_B = 13, S_DMID = 14, S_DXIN = 15, S_DE = 16, S_DHN = 17 };

// Packed-sample ids of MTP module k's shortened sequences (positions 0..T−k−1 of each); empty without packing.
std::vector<int32_t> mtp_segments(const Batch& b, int64_t k) {
  std::vector<int32_t> seg;
  if (!b.seg) return seg;
  const int64_t Tk = b.T - k;
  seg.resize(size_t(b.B * Tk));
  for (int64_t bb = 0; bb < b.B; ++bb)
    for (int64_t i = 0; i < Tk; ++i) seg[bb * Tk + i] = b.seg[bb * b.T + i];
  return seg;
}

}  // namespace

OutputHead Model::main_head() const {
  return {w.norm, w.lm_head, cfg.hidden_size, cfg.vocab_size, float(cfg.rms_norm_eps)};
}
OutputHead Model::mtp_head(int64_t L) const {
  return {w.layers[size_t(L)].head_norm, w.lm_head, cfg.hidden_size, cfg.vocab_size, float(cfg.rms_norm_eps)};
}

Model::Model(const ModelConfig& c)
    : cfg(c), layout(tensor_layout(c)), params(layout.total, 0.f), rc(router_config(c)),
      rope(make_rope_table(c.qk_rope_head_dim, c.rope_theta, c.rope_scaling,
                           std::min<int64_t>(c.max_position_embeddings, 65536))),
      attn_scale(float(attention_softmax_scale(c.qk_head_dim(), c.rope_scaling))) {
  w = bind_weights(cfg, params.data());
}

void Model::enable_grad() {
  if (!grads.empty()) return;
  grads.assign(layout.total, 0.f);
  g = bind_weights(cfg, grads.data());
}

void Model::zero_grad() { std::fill(grads.begin(), grads.end(), 0.f); }

StepStats Model::forward(const Batch& b, Workspace& ws, const LossConfig& lc) const {
  const ModelConfig& c = cfg;
  check(b.B == ws.B && b.T == ws.T, "forward: batch {}x{} does not match the workspace planned for {}x{}", b.B, b.T,
        ws.B, ws.T);
  const int64_t B = b.B, T = b.T, N = B * T, d = c.hidden_size, V = c.vocab_size, nL = c.num_hidden_layers;
  for (int64_t n = 0; n < N; ++n) {
    check(b.ids[n] >= 0 && b.ids[n] < V, "token id {} at position {} is outside the vocabulary [0, {})", b.ids[n], n, V);
    if (b.targets) check(b.targets[n] < V, "target id {} at position {} is outside the vocabulary", b.targets[n], n);
  }
  StepStats st;
  st.expert_load.resize(c.total_layers());
  for (int64_t L = 0; L < c.total_layers(); ++L)
    if (c.is_moe_layer(L)) st.expert_load[L].assign(c.n_routed_experts, 0);

  embed_forward(ws.layers[0].x_in.data(), w.embed, b.ids, N, d);
  for (int64_t L = 0; L < nL; ++L) {
    LayerCtx cx{*this, L, B, T, ws.pos.data(), b.seg};
    LayerActs& a = ws.layers[L];
    mla_forward(cx, a);
    float* out = L + 1 < nL ? ws.layers[L + 1].x_in.data() : ws.h_final.data();
    ffn_forward(cx, a, out, st.expert_load[L].empty() ? nullptr : st.expert_load[L].data());
    st.bal += layer_balance_loss(cx, a, lc.balance_alpha);
  }
  if (b.targets) st.token_logprobs.assign(size_t(N), 0.f);
  const OutputLoss head = output_forward(main_head(), main_out(ws, N), b.targets, b.weights,
                                         b.targets ? st.token_logprobs.data() : nullptr);
  if (!b.targets) return st;
  st.ce_count = head.count;
  st.ce = head.ce;

  // λ = 0 skips the MTP modules altogether (RL, SFT: a quarter of the compute of a 1-module model saved)
  const int64_t D = lc.mtp_lambda > 0 ? c.num_nextn_predict_layers : 0;
  for (int64_t k = 1; k <= D; ++k) {
    MtpActs& mt = ws.mtp[k - 1];
    const int64_t Tk = T - k, Nk = B * Tk, Tprev = T - k + 1, L = nL + k - 1;
    st.mtp_ce.push_back(0);
    st.mtp_count.push_back(0);
    if (Tk <= 0) continue;
    const LayerWeights& lw = w.layers[L];
    const float* prev = k == 1 ? ws.h_final.data() : ws.mtp[k - 2].h_out.data();
    for (int64_t bb = 0; bb < B; ++bb)
      for (int64_t i = 0; i < Tk; ++i) {
        const int64_t r = bb * Tk + i, src = bb * T + i + k;
        mt.ids[r] = b.ids[src];
        // a packed sample must not predict across its boundary
        mt.targets[r] = b.seg && b.seg[src] != b.seg[bb * T + i] ? -1 : b.targets[src];
        mt.pos[r] = ws.pos[bb * T + i];
        std::memcpy(&mt.h_in[r * d], prev + (bb * Tprev + i) * d, sizeof(float) * d);
      }
    embed_forward(mt.emb.data(), w.embed, mt.ids.data(), Nk, d);
    const float eps = float(c.rms_norm_eps);
    rmsnorm_forward(mt.e_n.data(), mt.e_rstd.data(), mt.emb.data(), lw.enorm, Nk, d, eps, d);
    rmsnorm_forward(mt.h_n.data(), mt.h_rstd.data(), mt.h_in.data(), lw.hnorm, Nk, d, eps, d);
    for (int64_t r = 0; r < Nk; ++r) {
      std::memcpy(&mt.cat[r * 2 * d], &mt.e_n[r * d], sizeof(float) * d);
      std::memcpy(&mt.cat[r * 2 * d + d], &mt.h_n[r * d], sizeof(float) * d);
    }
    linear_forward(mt.layer.x_in.data(), mt.cat.data(), lw.eh_proj, Nk, 2 * d, d);
    const std::vector<int32_t> seg_k = mtp_segments(b, k);
    LayerCtx cx{*this, L, B, Tk, mt.pos.data(), b.seg ? seg_k.data() : nullptr};
    mla_forward(cx, mt.layer);
    ffn_forward(cx, mt.layer, mt.h_out.data(), st.expert_load[L].empty() ? nullptr : st.expert_load[L].data());
    st.bal += layer_balance_loss(cx, mt.layer, lc.balance_alpha);
    const OutputLoss hk = output_forward(mtp_head(L), mtp_out(mt, Nk), mt.targets.data(), nullptr, nullptr);
    st.mtp_count.back() = hk.count;
    st.mtp_ce.back() = hk.ce;
    st.mtp += lc.mtp_lambda / double(D) * st.mtp_ce.back();
  }
  st.loss = st.ce + st.mtp + st.bal;
  return st;
}

void Model::backward(const Batch& b, Workspace& ws, const LossConfig& lc, const float* extra_dlogits) {
  check(b.targets != nullptr, "backward: the batch has no targets");
  backward_impl(b, ws, lc, nullptr, extra_dlogits);
}

void Model::backward_from_logits(const Batch& b, Workspace& ws, const float* dlogits) {
  check(dlogits != nullptr, "backward_from_logits: dlogits is null");
  backward_impl(b, ws, LossConfig{0.0, 0.0}, dlogits, nullptr);
}

void Model::backward_impl(const Batch& b, Workspace& ws, const LossConfig& lc, const float* dlogits_given,
                          const float* extra_dlogits) {
  const ModelConfig& c = cfg;
  check(!grads.empty(), "backward: call enable_grad() first");
  check(ws.with_grad, "backward: the workspace was planned without gradients");
  const int64_t B = b.B, T = b.T, N = B * T, d = c.hidden_size, V = c.vocab_size, nL = c.num_hidden_layers;

  // One decoder layer backward: dout [N,d] → dx_in [N,d] (overwrite), residuals included.
  auto layer_backward = [&](const LayerCtx& cx, LayerActs& a, const float* dout, float* dx_in) {
    const int64_t n = cx.B * cx.T;
    float* dmid = ws.scratch(S_DMID, n * d, false);
    std::memcpy(dmid, dout, sizeof(float) * n * d);  // residual path of the FFN half
    ffn_backward(cx, a, dout, dmid, ws, g.layers[cx.L], lc.balance_alpha);
    std::memcpy(dx_in, dmid, sizeof(float) * n * d);  // residual path of the attention half
    mla_backward(cx, a, dmid, dx_in, ws, g.layers[cx.L]);
  };

  // main head: loss = mean CE (or Σ w·CE) → dlogits = (softmax − onehot)·scale, computed in place over the logits
  const OutputActs out = main_out(ws, N);
  output_dlogits(out, V, b.targets, b.weights, 1.f, dlogits_given, extra_dlogits);
  float* dh0 = ws.scratch(S_DH0, N * d);
  output_backward(main_head(), out, g.norm, g.lm_head, ws.scratch(S_DHEAD, N * d, false), dh0);

  // MTP modules, last first: module k's input gradient flows into h^{k−1} (module k−1's output, or h^0)
  const int64_t D = lc.mtp_lambda > 0 ? c.num_nextn_predict_layers : 0;  // as in forward
  float* dh_cur = nullptr;  // gradient w.r.t. h^k of the module being processed
  for (int64_t k = D; k >= 1; --k) {
    MtpActs& mt = ws.mtp[k - 1];
    const int64_t Tk = T - k, Nk = B * Tk, Tprev = T - k + 1, L = nL + k - 1;
    float* dh_prev = k == 1 ? dh0 : ws.scratch((k % 2) ? S_MTP_A : S_MTP_B, B * Tprev * d);
    if (Tk <= 0) {
      dh_cur = dh_prev;
      continue;
    }
    if (k == D) dh_cur = ws.scratch((k % 2) ? S_MTP_B : S_MTP_A, Nk * d);
    const LayerWeights& lw = w.layers[L];
    LayerWeights& lg = g.layers[L];
    const OutputActs out_k = mtp_out(mt, Nk);   // loss λ/D · mean CE_k
    output_dlogits(out_k, V, mt.targets.data(), nullptr, float(lc.mtp_lambda / double(D)), nullptr, nullptr);
    output_backward(mtp_head(L), out_k, lg.head_norm, g.lm_head, ws.scratch(S_DHEAD, Nk * d, false), dh_cur);
    const std::vector<int32_t> seg_k = mtp_segments(b, k);
    LayerCtx cx{*this, L, B, Tk, mt.pos.data(), b.seg ? seg_k.data() : nullptr};
    float* dm = ws.scratch(S_DXIN, Nk * d, false);
    layer_backward(cx, mt.layer, dh_cur, dm);
    // eh_proj and the two input norms
    float* dcat = ws.scratch(S_DHEAD, Nk * 2 * d);
    linear_backward_input(dcat, dm, lw.eh_proj, Nk, 2 * d, d);
    linear_backward_weight(lg.eh_proj, dm, mt.cat.data(), Nk, 2 * d, d);
    float* de_n = ws.scratch(S_DE, Nk * d, false);
    float* dh_n = ws.scratch(S_DHN, Nk * d, false);
    for (int64_t r = 0; r < Nk; ++r) {
      std::memcpy(de_n + r * d, dcat + r * 2 * d, sizeof(float) * d);
      std::memcpy(dh_n + r * d, dcat + r * 2 * d + d, sizeof(float) * d);
    }
    float* demb = ws.scratch(S_DMID, Nk * d);
    rmsnorm_backward(demb, lg.enorm, de_n, mt.emb.data(), lw.enorm, mt.e_rstd.data(), Nk, d, d);
    embed_backward(g.embed, demb, mt.ids.data(), Nk, d);
    float* dhin = ws.scratch(S_DXIN, Nk * d);
    rmsnorm_backward(dhin, lg.hnorm, dh_n, mt.h_in.data(), lw.hnorm, mt.h_rstd.data(), Nk, d, d);
    for (int64_t bb = 0; bb < B; ++bb)
      for (int64_t i = 0; i < Tk; ++i) {
        float* dst = dh_prev + (bb * Tprev + i) * d;
        const float* src = dhin + (bb * Tk + i) * d;
        for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
      }
    dh_cur = dh_prev;
  }

  // main stack, last layer first
  float* dcur = dh0;
  for (int64_t L = nL - 1; L >= 0; --L) {
    LayerCtx cx{*this, L, B, T, ws.pos.data(), b.seg};
    float* dx_in = ws.scratch(L % 2 ? S_MTP_A : S_MTP_B, N * d, false);
    layer_backward(cx, ws.layers[L], dcur, dx_in);
    dcur = dx_in;
  }
  embed_backward(g.embed, dcur, b.ids, N, d);
}

// ---------------------------------------------------------------- LanguageModel

namespace {
Workspace& workspace_of(Activations& a) {
  auto* ws = dynamic_cast<Workspace*>(&a);
  check(ws != nullptr, "DeepSeek-V3 model: the activations were planned by another architecture");
  return *ws;
}
}  // namespace

std::unique_ptr<Activations> Model::plan(int64_t B, int64_t T, bool with_grad) const {
  return std::make_unique<Workspace>(plan_workspace(cfg, B, T, with_grad));
}
StepStats Model::forward(const Batch& b, Activations& acts, const LossConfig& lc) const {
  return forward(b, workspace_of(acts), lc);
}
void Model::backward(const Batch& b, Activations& acts, const LossConfig& lc, const float* extra_dlogits) {
  backward(b, workspace_of(acts), lc, extra_dlogits);
}
void Model::backward_from_logits(const Batch& b, Activations& acts, const float* dlogits) {
  backward_from_logits(b, workspace_of(acts), dlogits);
}
std::vector<TensorAlias> Model::tensor_aliases() const {
  const auto names = mtp_duplicate_names(cfg);
  std::vector<TensorAlias> out;
  for (size_t i = 0; i < names.size(); i += 2) {
    out.push_back({names[i], {cfg.vocab_size, cfg.hidden_size}, w.embed});
    out.push_back({names[i + 1], {cfg.vocab_size, cfg.hidden_size}, w.lm_head});
  }
  return out;
}
nlohmann::json Model::config_json() const { return config_to_json(cfg); }
std::unique_ptr<Model> load_model(const std::string& dir) {
  auto m = std::make_unique<Model>(load_config(dir));
  m->load_weights(dir);
  return m;
}
std::unique_ptr<LanguageModel> Model::clone() const {
  auto m = std::make_unique<Model>(cfg);
  m->params = params;
  return m;
}

}  // namespace nanoseek
