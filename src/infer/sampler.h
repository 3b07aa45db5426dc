// Token sampling from one row of logits: temperature, top-k, top-p (nucleus), seeded. Greedy when temperature 0.
// The returned log-probability is of the UNMODIFIED model distribution (log_softmax of the raw logits), which is
// what GRPO's ratios π_θ/π_old need, whatever the sampling temperature.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "infer/engine.h"

namespace nanoseek {

struct Sampled {
  int32_t token;
  float logprob;
};

// logits [V] (not modified); only ids < sp.vocab_limit (if set) can be drawn, but the log-probability is over
// all V ids. scratch is reused between calls (V floats + V ints).
Sampled sample_token(const float* logits, int64_t V, const SamplingParams& sp, Rng& rng, std::vector<float>& prob,
                     std::vector<int32_t>& order);

}  // namespace nanoseek
