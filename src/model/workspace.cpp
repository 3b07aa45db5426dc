#include "model/workspace.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"

#include <algorithm>

namespace nanoseek {

namespace {

// Counts (allocate = false) or allocates every buffer; the planner runs once each way, so the memory preflight
// sees exactly the bytes about to be allocated.
struct Sizer {
  bool allocate = true;
  size_t bytes = 0;
  template <typename T>
  void operator()(std::vector<T>& b, int64_t n) {
    if (allocate) b.assign(size_t(n), T{});
    bytes += size_t(n) * sizeof(T);
  }
};

void size_layer(Sizer& z, const ModelConfig& c, int64_t L, int64_t B, int64_t T, LayerActs& a, bool probs = true) {
  const int64_t N = B * T, d = c.hidden_size, H = c.num_attention_heads;
  z(a.x_in, N * d);
  AttnActs& t = a.attn;
  z(t.xn, N * d);
  z(t.rstd_in, N);
  if (c.q_lora_rank > 0) {
    z(t.qa, N * c.q_lora_rank);
    z(t.qa_rstd, N);
    z(t.qa_n, N * c.q_lora_rank);
  }
  z(t.q, N * c.q_out_dim());
  z(t.kva, N * c.kv_a_dim());
  z(t.c_rstd, N);
  z(t.c_n, N * c.kv_lora_rank);
  z(t.kv, N * c.kv_b_dim());
  z(t.k, N * c.q_out_dim());
  z(t.v, N * c.o_in_dim());
  if (probs) z(t.P, B * H * T * T);
  z(t.o, N * c.o_in_dim());
  z(a.x_mid, N * d);
  z(a.xn2, N * d);
  z(a.rstd2, N);
  if (!c.is_moe_layer(L)) {
    z(a.dense.a, N * c.intermediate_size);
    z(a.dense.b, N * c.intermediate_size);
    z(a.dense.h, N * c.intermediate_size);
    return;
  }
  const int64_t E = c.n_routed_experts, K = c.num_experts_per_tok, F = c.moe_intermediate_size;
  MoeActs& m = a.moe;
  z(m.scores, N * E);
  z(m.w, N * K);
  z(m.idx, N * K);
  z(m.slot_row, N * K);
  z(m.row_token, N * K);
  z(m.offsets, E + 1);
  z(m.xg, N * K * d);
  z(m.routed.a, N * K * F);
  z(m.routed.b, N * K * F);
  z(m.routed.h, N * K * F);
  z(m.y, N * K * d);
  if (c.n_shared_experts > 0) {
    z(m.shared.a, N * c.shared_inter());
    z(m.shared.b, N * c.shared_inter());
    z(m.shared.h, N * c.shared_inter());
  }
}

}  // namespace

size_t plan_layer_acts(const ModelConfig& c, int64_t L, int64_t N, LayerActs& a) {
  Sizer z;
  size_layer(z, c, L, 1, N, a, /*probs=*/false);
  return z.bytes;
}

namespace {

Workspace size_workspace(const ModelConfig& c, int64_t B, int64_t T, bool with_grad, bool allocate) {
  Workspace ws;
  ws.B = B;
  ws.T = T;
  ws.with_grad = with_grad;
  Sizer z;
  z.allocate = allocate;
  const int64_t N = B * T, d = c.hidden_size, V = c.vocab_size;
  z(ws.pos, N);
  if (allocate)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) ws.pos[b * T + t] = int32_t(t);
  ws.layers.resize(c.num_hidden_layers);
  for (int64_t L = 0; L < c.num_hidden_layers; ++L) size_layer(z, c, L, B, T, ws.layers[L]);
  z(ws.h_final, N * d);
  z(ws.xnf, N * d);
  z(ws.rstd_f, N);
  z(ws.logits, N * V);
  ws.mtp.resize(c.num_nextn_predict_layers);
  for (int64_t k = 1; k <= c.num_nextn_predict_layers; ++k) {
    MtpActs& m = ws.mtp[k - 1];
    const int64_t Tk = T - k, Nk = B * std::max<int64_t>(Tk, 0);
    z(m.ids, Nk);
    z(m.targets, Nk);
    z(m.pos, Nk);
    z(m.emb, Nk * d);
    z(m.e_n, Nk * d);
    z(m.e_rstd, Nk);
    z(m.h_in, Nk * d);
    z(m.h_n, Nk * d);
    z(m.h_rstd, Nk);
    z(m.cat, Nk * 2 * d);
    z(m.m, Nk * d);
    if (Tk > 0) size_layer(z, c, c.num_hidden_layers + k - 1, B, Tk, m.layer);
    z(m.h_out, Nk * d);
    z(m.hn, Nk * d);
    z(m.hn_rstd, Nk);
    z(m.logits, Nk * V);
  }
  if (with_grad) {
    // Every backward temporary is a slot of the largest size any layer asks for (MLA, dense FFN, MoE, heads).
    const int64_t E = std::max<int64_t>(c.n_routed_experts, 1), K = std::max<int64_t>(c.num_experts_per_tok, 1);
    const int64_t F = std::max({c.intermediate_size, K * c.moe_intermediate_size, c.shared_inter()});
    const int64_t wide = std::max({c.q_out_dim(), c.kv_b_dim(), c.kv_a_dim(), c.o_in_dim(), c.q_lora_rank, 2 * d,
                                   K * d, E, F});
    ws.tmp.resize(kScratchSlots);
    for (int i = 0; i < kScratchSlots; ++i) z(ws.tmp[i], N * wide);
  }
  ws.bytes = z.bytes;
  return ws;
}

}  // namespace

Workspace plan_workspace(const ModelConfig& c, int64_t B, int64_t T, bool with_grad) {
  check(B >= 1 && T >= 1, "workspace: batch {} x seq {} must be positive", B, T);
  check(T <= c.max_position_embeddings, "sequence length {} exceeds max_position_embeddings {}", T,
        c.max_position_embeddings);
  const Workspace plan = size_workspace(c, B, T, with_grad, /*allocate=*/false);
  check_memory(fmt::format("activations for batch {} x seq {}", B, T), describe_workspace(plan), double(plan.bytes));
  return size_workspace(c, B, T, with_grad, /*allocate=*/true);
}

float* Workspace::scratch(int slot, size_t n, bool zero) {
  Buf& b = tmp.at(size_t(slot));
  if (b.size() < n) b.resize(n);  // cannot happen for the shapes planned above; kept as a guard
  if (zero) std::fill(b.begin(), b.begin() + n, 0.f);
  return b.data();
}

std::string describe_workspace(const Workspace& ws) {
  return fmt::format("activations {:.1f} MiB for batch {} x seq {}{}", double(ws.bytes) / (1 << 20), ws.B, ws.T,
                     ws.with_grad ? " (with backward scratch)" : "");
}

}  // namespace nanoseek
