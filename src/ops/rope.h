// Rotary position embedding on the decoupled rope dims (spec §1.3–§1.4): ADJACENT pairs (x[2j], x[2j+1])
// rotated by pos·θ'_j, the "interleaved" convention the released DeepSeek weights were trained with.
// θ'_j are YaRN-blended when rope_scaling is set; the YaRN attention factor is folded into the cos/sin table.
// Legend: R = rope dims (qk_rope_head_dim), P = table positions.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace nanoseek {

struct YarnScaling {   // rope_scaling of type "yarn" (spec §1.4)
  double factor = 1, beta_fast = 32, beta_slow = 1, mscale = 1, mscale_all_dim = 0;
  int64_t original_max_position_embeddings = 4096;
};

struct RopeTable {
  int64_t dim = 0, max_pos = 0;
  std::vector<float> cos, sin;  // [P, R/2], already multiplied by attn_factor
  std::vector<double> inv_freq; // [R/2] θ'_j
  double attn_factor = 1.0;     // mscale(s, mscale) / mscale(s, mscale_all_dim)
};

double yarn_mscale(double scale, double mscale);        // 1 if scale <= 1 else 0.1·mscale·ln(scale) + 1
// Table for R rope dims at base θ (rope_theta), YaRN-blended when `yarn` is set, for positions [0, max_pos).
RopeTable make_rope_table(int64_t R, double theta, const std::optional<YarnScaling>& yarn, int64_t max_pos);
// softmax scale qk_head_dim^-1/2 · mscale(factor, mscale_all_dim)²  (spec §1.3; qk_head_dim = nope + rope)
double attention_softmax_scale(int64_t qk_head_dim, const std::optional<YarnScaling>& yarn);

// In place on x: for each row n (N rows, row stride `stride`), for each of `heads` heads at x + n·stride +
// h·head_stride + offset, rotate R dims by position pos[n].
void rope_forward(float* x, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                  int64_t offset, const RopeTable& t);
// The transpose: dx = (f·R)^T dy, in place on the gradient buffer, same addressing.
void rope_backward(float* dx, const int32_t* pos, int64_t N, int64_t heads, int64_t stride, int64_t head_stride,
                   int64_t offset, const RopeTable& t);

}  // namespace nanoseek
