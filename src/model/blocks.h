// The blocks both architectures are built from, forward and backward side by side: the token embedding, the
// SwiGLU FFN (V3's dense layers, shared and routed experts; the dense students' MLP) and the output tail
// logits = head(RMSNorm(h)) with its cross-entropy and per-token log-probabilities (V3's main head and MTP heads;
// the dense students' head). RMSNorm itself is ops/rmsnorm.h. Legend: N rows, d hidden, F intermediate, V vocab.
#pragma once
#include <cstdint>

namespace nanoseek {

// ---------------------------------------------------------------- embedding
// out[N,d] = table[ids[n]]
void embed_forward(float* out, const float* table, const int32_t* ids, int64_t N, int64_t d);
// dtable[ids[n]] += drows[n]   (serial: ids repeat)
void embed_backward(float* dtable, const float* drows, const int32_t* ids, int64_t N, int64_t d);

// ---------------------------------------------------------------- SwiGLU FFN: down(silu(gate x) ⊙ up x)
struct FfnWeights {
  float* gate = nullptr;   // [F, d]
  float* up = nullptr;     // [F, d]
  float* down = nullptr;   // [d, F]
};
// out[M,d] = beta·out + down(h), h = silu(a) ⊙ b, a = gate x, b = up x; a, b, h [M,F] saved for backward.
void swiglu_ffn_forward(const FfnWeights& f, const float* x, float* a, float* b, float* h, float* out, int64_t M,
                        int64_t d, int64_t F, float beta);
// dx[M,d] += input gradient; fg's weight gradients += weight gradients; dh, da, db [M,F] scratch.
void swiglu_ffn_backward(const FfnWeights& f, FfnWeights& fg, const float* x, const float* a, const float* b,
                         const float* h, const float* dout, float* dx, float* dh, float* da, float* db, int64_t M,
                         int64_t d, int64_t F);

// ---------------------------------------------------------------- output tail: logits = head(RMSNorm(h))
struct OutputHead {
  const float* norm;       // [d]    final norm gain (V3 MTP: shared_head.norm)
  const float* head;       // [V,d]  lm_head (== embed when tied)
  int64_t d, V;
  float eps;
};
struct OutputActs {        // caller-owned buffers over N rows
  const float* h;          // [N,d]  input
  float* xn;               // [N,d]  RMSNorm(h)
  float* rstd;             // [N]
  float* logits;           // [N,V]  logits after forward; their gradient after output_dlogits
  int64_t N;
};
struct OutputLoss {
  double ce = 0;           // mean CE over valid targets (0 when none), or Σ_n w_n·CE_n with weights
  int64_t count = 0;       // valid targets (>= 0)
};
// logits; with targets (−1 = ignored) the loss, and with logprobs [N] log p(target) per row (0 where ignored).
OutputLoss output_forward(const OutputHead& o, const OutputActs& a, const int32_t* targets, const float* weights,
                          float* logprobs);
// acts.logits ← d(loss)/d(logits) in place: `given` copied when set, else the CE gradient of output_forward's loss
// times `scale` (rows scaled by weights when set) — then `extra` [N,V] added when set.
void output_dlogits(const OutputActs& a, int64_t V, const int32_t* targets, const float* weights, float scale,
                    const float* given, const float* extra);
// From acts.logits holding their gradient: dh[N,d] += input gradient; g_norm, g_head += weight gradients;
// dxn [N,d] scratch (overwritten).
void output_backward(const OutputHead& o, const OutputActs& a, float* g_norm, float* g_head, float* dxn, float* dh);

}  // namespace nanoseek
