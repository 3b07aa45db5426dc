// What the generation loop (engine.cpp) needs from a model: one mixed prefill/decode forward over tokens at
// (cache slot, position), and a copy of a slot's cached prefix. One core per architecture: the compressed MLA
// cache for the DeepSeek-V3 Model (engine.cpp), a per-layer K/V cache for dense students (dense_engine.cpp).
// Internal to src/infer.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "infer/engine.h"

namespace nanoseek {

class DenseModel;

struct EngineCore {
  CachePlan plan;
  int64_t vocab = 0;
  virtual ~EngineCore() = default;
  // Runs tokens tok[n] at (slot[n], pos[n]); writes their cache rows; for each k, the logits of token
  // logit_rows[k] (increasing) go to out + k·vocab.
  virtual void forward(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
                       const std::vector<int64_t>& logit_rows, float* out) = 0;
  // Cache rows [0, len) of slot `from` copied to slot `to` (G samples share one prefill).
  virtual void copy_prefix(int64_t from, int64_t to, int64_t len) = 0;
};

std::unique_ptr<EngineCore> make_dense_core(const DenseModel& m, int64_t slots, int64_t max_len);

}  // namespace nanoseek
