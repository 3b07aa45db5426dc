// Causal multi-head softmax attention, the core of MLA's decompressed (training / prefill) path.
// Legend: B sequences of T tokens, H heads, Dq = q/k head dim (nope+rope), Dv = v head dim.
// Layouts are token-major with heads interleaved, as the projections produce them:
//   q, k [B*T, H, Dq]   v [B*T, H, Dv]   o [B*T, H, Dv]   P [B, H, T, T] (softmax probabilities, saved)
// seg (nullable) [B*T]: packed samples; token i attends to j only if j <= i and seg[j] == seg[i].
#pragma once
#include <cstdint>

namespace nanoseek {

struct AttnShape {
  int64_t B, T, H, Dq, Dv;
};

// o (overwrite), P (overwrite).
void attention_forward(float* o, float* P, const float* q, const float* k, const float* v, const int32_t* seg,
                       const AttnShape& s, float scale);
// dq, dk, dv ACCUMULATE.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* P, const float* q,
                        const float* k, const float* v, const AttnShape& s, float scale);

}  // namespace nanoseek
