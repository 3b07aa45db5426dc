// DeepSeekMoE routing (spec §2.2–§2.5), forward and backward side by side.
// Legend: N tokens, E routed experts, K experts per token (num_experts_per_tok).
//   logits [N,E] = u · gate.weight^T (computed by ops/linear)
//   scores [N,E]  s = sigmoid(logits) or softmax(logits) — the UNBIASED affinities (saved)
//   idx    [N,K]  chosen experts (selection may use s + bias and group limits; the bias never weights outputs)
//   w      [N,K]  combine weights: s of the chosen, renormalised if norm_topk_prob, × routed_scaling_factor
// Ties in any top-k break toward the lower index (deterministic).
#pragma once
#include <cstdint>

namespace nanoseek {

enum class ScoringFunc { Sigmoid, Softmax };
enum class TopkMethod { NoauxTc, Greedy, GroupLimitedGreedy };
const char* to_string(ScoringFunc s);   // HF config names: "sigmoid", "noaux_tc", ...
const char* to_string(TopkMethod m);

struct RouterConfig {
  int64_t E = 0, K = 0, n_group = 1, topk_group = 1;
  ScoringFunc scoring = ScoringFunc::Softmax;
  TopkMethod method = TopkMethod::Greedy;
  bool norm_topk_prob = false;
  float routed_scaling = 1.f;
};

// scores, idx, w OVERWRITE. bias [E] is used only when method == NoauxTc (nullable otherwise).
void router_forward(float* scores, int32_t* idx, float* w, const float* logits, const float* bias, int64_t N,
                    const RouterConfig& rc);
// dlogits [N,E] OVERWRITE, from dw [N,K] and an optional extra gradient on the scores dscores [N,E]
// (the balance loss). The selection itself is not differentiable.
void router_backward(float* dlogits, const float* dw, const float* dscores, const float* scores, const int32_t* idx,
                     int64_t N, const RouterConfig& rc);

// Sequence-wise balance loss for B sequences of T tokens (spec §2.5):
//   f_e = E/(K·T)·count_e,  P_e = (1/T)·Σ_t s_{e,t}/Σ_e' s_{e',t},  L = alpha · mean_b Σ_e f_e P_e.
// Returns L; if dscores is non-null ACCUMULATES dL/dscores into it (f is treated as a constant).
double balance_loss(float* dscores, const float* scores, const int32_t* idx, int64_t B, int64_t T,
                    const RouterConfig& rc, double alpha);

// load[E] += number of (token, slot) assignments per expert.
void count_expert_load(int64_t* load, const int32_t* idx, int64_t N, const RouterConfig& rc);
// Auxiliary-loss-free balancing (spec §2.4): b_e += γ·sign(mean load − load_e), after each step.
void update_router_bias(float* bias, const int64_t* load, int64_t E, float gamma);

}  // namespace nanoseek
