// Batches of B sequences × T tokens from a token shard, for next-token training.
// The stream is cut into W = ⌊(N−1)/T⌋ windows of T+1 tokens (window w covers tokens [wT, wT+T]); every epoch
// visits each window once in a permutation drawn from Rng::derive(seed, epoch). The position (epoch, cursor) is
// the loader's whole state, so a checkpoint restores it exactly (resume gives bit-identical batches).
// seg ids restart attention at every document: the token after an EOS opens a new segment; the target of an
// EOS (the next document's first token) is ignored (−1).
#pragma once
#include <cstdint>
#include <vector>

#include "data/shard.h"
#include "model/model.h"

namespace nanoseek {

struct LoaderPos {
  int64_t epoch = 0, cursor = 0;
};

class DataLoader {
 public:
  // shuffle=false visits windows in file order (validation).
  DataLoader(const Shard& shard, int64_t B, int64_t T, uint64_t seed, bool shuffle = true);
  Batch next();                   // valid until the next call
  int64_t windows() const { return W_; }
  LoaderPos pos() const { return pos_; }
  void set_pos(LoaderPos p);      // Error if out of range
  int64_t B, T;

 private:
  void fill_row(int64_t row, int64_t window);
  void shuffle_epoch();
  const Shard& shard_;
  uint64_t seed_;
  bool shuffle_;
  int64_t W_;
  LoaderPos pos_;
  std::vector<int64_t> order_;
  std::vector<int32_t> ids_, targets_, seg_;
};

}  // namespace nanoseek
