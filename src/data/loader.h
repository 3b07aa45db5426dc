// Batches of B sequences × T tokens from a token shard, for next-token training.
//
// Two ways to cut the stream into windows (each window is one row of a batch):
//   Pack::Docs (default)  rows start at a document start and hold whole documents, packed greedily in file order
//                         while they fit in T tokens; the rest of the row is padding (target −1, its own segment).
//                         A document longer than T fills a row alone, truncated. No document is ever seen
//                         without its beginning — what a model that must copy numbers out of the question needs.
//   Pack::Stream          W = ⌊(N−1)/T⌋ windows of T+1 tokens (window w covers tokens [wT, wT+T]), the classic
//                         nanoGPT cut: no padding, but most windows begin in the middle of a document.
// Every epoch visits each window once in a permutation drawn from Rng::derive(seed, epoch). The position
// (epoch, cursor) is the loader's whole state, so a checkpoint restores it exactly (bit-identical resume).
// seg ids restart attention at every document: the token after an EOS opens a new segment; the target of an
// EOS is ignored (−1).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.h"
#include "model/model.h"

namespace nanoseek {

struct LoaderPos {
  int64_t epoch = 0, cursor = 0;
};

enum class Pack { Docs, Stream };
Pack parse_pack(const std::string& name);  // "docs" | "stream"; Error otherwise
const char* pack_name(Pack p);

class DataLoader {
 public:
  // shuffle=false visits windows in file order (validation).
  DataLoader(const Shard& shard, int64_t B, int64_t T, uint64_t seed, bool shuffle = true, Pack pack = Pack::Docs);
  Batch next();                   // valid until the next call
  int64_t windows() const { return int64_t(win_.size()); }
  double fill() const { return fill_; }  // share of row positions holding real tokens (1 for Stream)
  LoaderPos pos() const { return pos_; }
  void set_pos(LoaderPos p);      // Error if out of range
  int64_t B, T;

 private:
  struct Window {
    int64_t start, len;  // tokens [start, start+len) are the row's inputs; len ≤ T
  };
  void fill_row(int64_t row, const Window& w);
  void shuffle_epoch();
  const Shard& shard_;
  uint64_t seed_;
  bool shuffle_;
  std::vector<Window> win_;
  double fill_ = 1;
  LoaderPos pos_;
  std::vector<int64_t> order_;
  std::vector<int32_t> ids_, targets_, seg_;
};

}  // namespace nanoseek
