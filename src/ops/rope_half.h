// Rotary position embedding, Llama/Qwen2 "rotate_half" convention (HF LlamaRotaryEmbedding): dimension i of a
// head is paired with i + D/2 (NOT adjacent pairs as in ops/rope.h), both rotated by angle pos·θ_i with
// θ_i = base^(−2i/D), i < D/2. In HF terms cos/sin = cat(freqs, freqs) and y = x·cos + rotate_half(x)·sin:
//   y[i]       = x[i]·cos − x[i+D/2]·sin
//   y[i+D/2]   = x[i+D/2]·cos + x[i]·sin
// Legend: N rows (tokens), nh heads per row, D head dim (even), P table positions.
#pragma once
#include <cstdint>
#include <vector>

namespace nanoseek {

struct RopeHalfTable {
  int64_t dim = 0, max_pos = 0;
  std::vector<float> cos, sin;  // [P, D/2]
};

// Angles computed in double (pos·θ_i up to ~1e5 rad loses digits in float), stored as float.
RopeHalfTable make_rope_half_table(int64_t head_dim, int64_t max_pos, double base);

// In place on x[N, nh, D] (contiguous): row n rotated by position pos[n] (0 <= pos[n] < t.max_pos).
void rope_half_forward(float* x, const int32_t* pos, int64_t N, int64_t nh, const RopeHalfTable& t);
// The transpose (rotation by −angle), in place on the gradient dx[N, nh, D]: dx = R^T dy.
void rope_half_backward(float* dx, const int32_t* pos, int64_t N, int64_t nh, const RopeHalfTable& t);

}  // namespace nanoseek
