// SwiGLU activation: h = silu(a) ⊙ b, silu(a) = a·σ(a). (The gate/up/down linears live in ops/linear.)
// Legend: n = number of elements (rows × F).
#pragma once
#include <cstddef>

namespace nanoseek {

void swiglu_forward(float* h, const float* a, const float* b, size_t n);                       // h overwrite
// da, db OVERWRITE (they are fresh per-layer scratch), from dh.
void swiglu_backward(float* da, float* db, const float* dh, const float* a, const float* b, size_t n);

}  // namespace nanoseek
