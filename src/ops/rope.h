// Rotary position embedding on the decoupled rope dims (spec §1.3–§1.4): ADJACENT pairs (x[2j], x[2j+1])
// rotated by pos·θ'_j, the "interleaved" convention the released DeepSeek weights were trained with.
// θ'_j are YaRN-blended when rope_scaling is set; the YaRN attention factor is folded into the cos/sin table.
// Legend: R = rope dims (qk_rope_head_dim), P = table positions.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace nanoseek {

struct RopeTable {
  int64_t dim = 0, max_pos = 0;
  std::vector<float> cos, sin;  // [P, R/2], already multiplied by attn_factor
  std::vector<double> inv_freq; // [R/2] θ'_j
  double attn_factor = 1.0;     // mscale(s, mscale) / mscale(s, mscale_all_dim)
};

double yarn_mscale(double scale, double mscale);        // 1 if scale <= 1 else 0.1·mscale·ln(scale) + 1
RopeTable make_rope_table(const ModelConfig& c, int64_t max_pos);
// softmax scale (nope+rope)^-1/2 · mscale(factor, mscale_all_dim)²  (spec §1.3)
double attention_softmax_scale(const ModelConfig& c);

// In place on x: for each row n (N rows, row stride `stride`), for each of `heads` heads at x + n·stride +
// h·head_stride + offset, rotate R dims by position pos[n].
void rope_forward(float* x, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                  int64_t offset, const RopeTable& t);
// The transpose: dx = (f·R)^T dy, in place on the gradient buffer, same addressing.
void rope_backward(float* dx, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                   int64_t offset, const RopeTable& t);

}  // namespace nanoseek
