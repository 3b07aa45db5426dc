// Softmax cross-entropy over the vocabulary, fused with its backward (the logits are consumed once).
// Legend: N rows, V vocabulary. targets[n] < 0 means "ignored" (prompt tokens, padding, sequence end).
#pragma once
#include <cstdint>

namespace nanoseek {

struct CeResult {
  double loss_sum = 0;  // Σ over valid rows of −log p[target]
  int64_t count = 0;    // valid rows
};

// Forward only: per-row loss into `row_loss` (may be null; 0 for ignored rows).
CeResult cross_entropy_forward(const float* logits, const int32_t* targets, int64_t N, int64_t V, float* row_loss);
// dlogits[N,V] OVERWRITE = grad_scale · row_scale[n] · (softmax − onehot) for valid rows, 0 for ignored rows.
// May alias logits. grad_scale is dLoss/d(loss_sum) (e.g. λ / count for a mean); row_scale (nullable) weights
// rows individually (a per-token objective: row_scale = dLoss/dCE_n = −dLoss/dlogp_n).
void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                            float grad_scale, const float* row_scale = nullptr);
// log-softmax probability of one token per row (for GRPO/eval log-probs); targets < 0 give 0.
void token_logprobs(float* out, const float* logits, const int32_t* targets, int64_t N, int64_t V);

}  // namespace nanoseek
