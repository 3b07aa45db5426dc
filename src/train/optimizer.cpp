#include "train/optimizer.h"

#include <cmath>

#include "core/error.h"

namespace nanoseek {

AdamW::AdamW(const LanguageModel& model, AdamWConfig c)
    : AdamW(model.trainable_spans(), model.param_buffer().size(), c) {}

AdamW::AdamW(std::vector<Span> sp, size_t total, AdamWConfig c)
    : cfg(c), m(total, 0.f), v(total, 0.f), spans(std::move(sp)) {
  for (const Span& s : spans)
    check(s.begin + s.n <= total, "AdamW: span [{}, {}) outside the {}-float buffer", s.begin, s.begin + s.n, total);
}

void AdamW::step(float* p, const float* g, double lr) {
  ++t;
  const float b1 = float(cfg.beta1), b2 = float(cfg.beta2), eps = float(cfg.eps);
  const float c1 = float(1.0 / (1.0 - std::pow(cfg.beta1, double(t))));
  const float c2 = float(1.0 / (1.0 - std::pow(cfg.beta2, double(t))));
  const float flr = float(lr);
  for (const Span& s : spans) {
    const float wd = s.decay ? float(cfg.weight_decay) : 0.f;
    float* P = p + s.begin;
    const float* G = g + s.begin;
    float* M = m.data() + s.begin;
    float* V = v.data() + s.begin;
#pragma omp parallel for schedule(static) if (s.n > 65536)
    for (int64_t i = 0; i < int64_t(s.n); ++i) {
      M[i] = b1 * M[i] + (1 - b1) * G[i];
      V[i] = b2 * V[i] + (1 - b2) * G[i] * G[i];
      const float upd = (M[i] * c1) / (std::sqrt(V[i] * c2) + eps);
      P[i] -= flr * (upd + wd * P[i]);
    }
  }
}

double grad_norm(const AdamW& opt, const float* g) {
  constexpr size_t kBlock = 65536;
  struct Block {
    size_t begin, n;
  };
  std::vector<Block> blocks;
  for (const auto& s : opt.spans)
    for (size_t o = 0; o < s.n; o += kBlock) blocks.push_back({s.begin + o, std::min(kBlock, s.n - o)});
  std::vector<double> part(blocks.size());
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < int64_t(blocks.size()); ++b) {
    double acc = 0;
    const float* x = g + blocks[b].begin;
    for (size_t i = 0; i < blocks[b].n; ++i) acc += double(x[i]) * x[i];
    part[b] = acc;
  }
  double total = 0;
  for (double x : part) total += x;
  return std::sqrt(total);
}

void scale_grads(const AdamW& opt, float* g, float s) {
  for (const auto& sp : opt.spans) {
    float* x = g + sp.begin;
#pragma omp parallel for schedule(static) if (sp.n > 65536)
    for (int64_t i = 0; i < int64_t(sp.n); ++i) x[i] *= s;
  }
}

}  // namespace nanoseek
