// AdamW over the flat parameter buffer (DeepSeek-V3 §4.2: β1 0.9, β2 0.95, decoupled weight decay), with the
// policy taken from the tensor registry's roles: no decay on norm gains; the router correction bias is not
// trainable (the aux-loss-free rule moves it), so AdamW never touches it. Moments are fp32, laid out like params.
//   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p − lr·(m̂/(√v̂+ε) + wd·p)
// Element-wise and therefore bit-identical for any thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "model/language_model.h"

namespace nanoseek {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
};

class AdamW {
 public:
  using Span = ParamSpan;
  // A model's trainable tensors (LanguageModel::trainable_spans: the registry's decay policy).
  AdamW(const LanguageModel& model, AdamWConfig c);
  // Any flat buffer of `total` floats.
  AdamW(std::vector<Span> spans, size_t total, AdamWConfig c);
  void step(float* params, const float* grads, double lr);  // increments t first
  AdamWConfig cfg;
  int64_t t = 0;                  // steps taken
  std::vector<float> m, v;        // [layout.total]
  std::vector<Span> spans;        // trainable tensors (tied heads appear once)
};

// Global L2 norm over the trainable spans. Summed in fixed 64K-element blocks in order, so the value does not
// depend on the thread count.
double grad_norm(const AdamW& opt, const float* grads);
void scale_grads(const AdamW& opt, float* grads, float s);

}  // namespace nanoseek
