// What the generation loop (infer/engine.cpp) needs from a model: one mixed prefill/decode forward over tokens at
// (cache slot, position), and a copy of a slot's cached prefix. Each architecture has its own core, because only
// the attention over the cache differs: the compressed MLA cache with absorbed attention for the DeepSeek-V3 Model
// (model/mla_decode.cpp), a per-layer GQA K/V cache for dense students (model/dense_decode.cpp). Scheduling,
// sampling, stop rules and slots are the engine's, once for both.
// A core reads the model's weights in place: a trainer updating them is seen by the next forward.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace nanoseek {

struct CachePlan {
  int64_t slots = 0, max_len = 0, layers = 0, values_per_token = 0;  // values per token per layer
  size_t bytes = 0;
  std::string kind;  // what a cached row holds
  std::string describe() const;
};

struct DecodeCore {
  CachePlan plan;
  int64_t vocab = 0;
  virtual ~DecodeCore() = default;
  // Runs tokens tok[n] at (slot[n], pos[n]); writes their cache rows; for each k, the logits of token
  // logit_rows[k] (increasing) go to out + k·vocab. Every token id, slot and position is checked (Error).
  virtual void forward(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
                       const std::vector<int64_t>& logit_rows, float* out) = 0;
  // Cache rows [0, len) of slot `from` copied to slot `to` (G samples share one prefill).
  void copy_prefix(int64_t from, int64_t to, int64_t len);

 protected:
  // The cache every core keeps: [layers][slots][max_len][W] floats, W values per token per layer (what they hold is
  // the core's: `kind`). Sets `plan` and zeroes the cache; check_shape first.
  void reserve_cache(int64_t slots, int64_t max_len, int64_t layers, int64_t values_per_token, const char* kind);
  float* row(int64_t layer, int64_t slot, int64_t pos) {
    return cache_.data() + ((layer * plan.slots + slot) * plan.max_len + pos) * plan.values_per_token;
  }
  // The final norm and head on the chosen rows: out[k·V..] = lm_head · RMSNorm(x[rows[k]]) (x [n,d]; xn [≥ rows,d] and
  // rstd [≥ rows] scratch), the last step of every core's forward.
  void head_logits(const float* x, const std::vector<int64_t>& rows, const float* norm, const float* lm_head,
                   int64_t d, float eps, float* xn, float* rstd, float* out) const;

  // The checks every core makes before a forward, and its chunking: run(tok, slot, pos, cn, rows, out) for
  // consecutive chunks of at most max_step tokens, rows relative to the chunk.
  template <class Run>
  void forward_chunks(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
                      const std::vector<int64_t>& logit_rows, float* out, int64_t max_step, Run&& run) {
    check_inputs(tok, slot, pos, n);
    size_t next_row = 0;
    for (int64_t c0 = 0; c0 < n; c0 += max_step) {
      const int64_t cn = std::min(max_step, n - c0);
      std::vector<int64_t> rows;
      while (next_row < logit_rows.size() && logit_rows[next_row] < c0 + cn) rows.push_back(logit_rows[next_row++] - c0);
      run(tok + c0, slot + c0, pos + c0, cn, rows, out);
      out += int64_t(rows.size()) * vocab;
    }
  }
  void check_inputs(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n) const;

  // Attention pieces both cores use. A chunk's tokens split into prefill runs — kPrefillRun or more consecutive
  // positions of one slot, whose attention the core computes as GEMMs over the run — and single tokens (returned),
  // attended one by one: run(i0, i1) for each run [i0, i1).
  static constexpr int64_t kPrefillRun = 16;
  template <class Run>
  static std::vector<int64_t> split_prefill_runs(const int32_t* slot, const int32_t* pos, int64_t n, Run&& run) {
    std::vector<int64_t> single;
    for (int64_t i0 = 0; i0 < n;) {
      int64_t i1 = i0 + 1;
      while (i1 < n && slot[i1] == slot[i0] && pos[i1] == pos[i1 - 1] + 1) ++i1;
      if (i1 - i0 >= kPrefillRun) run(i0, i1);
      else for (int64_t i = i0; i < i1; ++i) single.push_back(i);
      i0 = i1;
    }
    return single;
  }
  // s[0, len) ← exp(scale·s − max) in place; returns their sum (the softmax's normaliser, ops/vmath.h).
  static double exp_scores(float* s, int64_t len, float scale);
  // A run of `rows` new positions after p0 cached ones, scores S [rows, p0 + rows]: row t keeps its causal prefix
  // of p0 + t + 1 scores, exponentiated by exp_scores (sum into z[t]), and the rest is zeroed, so S·V is the
  // unnormalised attention of every row at once.
  static void causal_exp_rows(float* S, int64_t rows, int64_t p0, float scale, double* z);
  // Row t of y (rows `ld` apart, `width` values) divided by z[t]: the softmax's normalisation applied to its output.
  static void divide_rows(float* y, int64_t rows, int64_t ld, int64_t width, const double* z);

  // Setup checks shared by the cores (slots ≥ 1, max_len ≥ 2 and within the position table).
  static void check_shape(int64_t slots, int64_t max_len, int64_t max_pos);

 private:
  std::vector<float> cache_;
};

}  // namespace nanoseek
