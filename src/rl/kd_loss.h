// Logit distillation on the teacher's top-k: forward KL(p_teacher || q_student) with the teacher's distribution
// renormalised over the k ids it kept (what fits in a distillation data file), the student's full softmax.
// Per row r with teacher ids j_1..j_k and log-probs ℓ_1..ℓ_k:
//   p̃_i = exp(ℓ_i) / Σ_i' exp(ℓ_i')                q = softmax(z_r)   (student logits row, [V])
//   KL_r = Σ_i p̃_i (log p̃_i − log q_{j_i})
//   dKL_r/dz_v = q_v − p̃_v   (p̃_v = 0 off the top-k; Σ p̃ = 1)
// Legend: N logit rows, V vocab, R rows distilled, K ids per row.
#pragma once
#include <cstdint>

namespace nanoseek {

// The K largest log-probs of log_softmax(logits[V]) in descending order (ties: lower id first).
void topk_logprobs(const float* logits, int64_t V, int64_t K, int32_t* ids /*[K]*/, float* logprobs /*[K]*/);

// Returns scale · Σ_r KL_r over rows[R] of logits[N,V]; when dlogits[N,V] is given, ADDS scale · dKL_r/dz to its
// rows (other rows untouched). ids/logprobs [R,K] hold each row's teacher top-k (unnormalised log-probs are fine).
double topk_kl(const float* logits, int64_t V, const int64_t* rows, int64_t R, int64_t K, const int32_t* ids,
               const float* logprobs, double scale, float* dlogits);

}  // namespace nanoseek
