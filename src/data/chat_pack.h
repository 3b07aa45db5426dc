// Batches of tokenized chat samples (data/chat_data.h) for SFT: whole samples packed greedily into rows of T tokens.
//
// Every epoch draws a permutation of the samples from Rng::derive(seed, epoch) (file order when shuffle=false) and
// packs them in that order: a sample goes into the current row if it fits, else it opens the next row; the rest of
// a row is padding. A sample longer than T is truncated to its first T tokens and fills a row alone. Rows are
// served B at a time; a batch may take its last rows from the next epoch. The position (epoch, row cursor) is the
// whole state, so checkpoints resume bit-exactly (as data/loader.h).
// Row layout: seg = the sample's index within the row (padding: its own segment), so attention stays inside a
// sample; targets[t] = tokens[t+1] when token t+1 of the same sample has loss, else −1 (always −1 on padding and
// on a sample's last token).
#pragma once
#include <cstdint>
#include <vector>

#include "data/chat_data.h"
#include "data/loader.h"
#include "model/model.h"

namespace nanoseek {

class ChatPacker {
 public:
  // pad_id: the token id written into padding positions (never a target).
  ChatPacker(std::vector<TokenizedSample> samples, int64_t B, int64_t T, uint64_t seed, bool shuffle, int32_t pad_id);
  Batch next();                              // valid until the next call
  // Rows [first, first + B) of the current epoch's plan; rows past its end are all padding (evaluation passes).
  Batch rows_at(int64_t first);
  int64_t rows() const { return int64_t(rows_.size()); }      // rows in the current epoch
  int64_t samples() const { return int64_t(samples_.size()); }
  int64_t truncated() const { return truncated_; }             // samples longer than T
  int64_t loss_tokens() const { return loss_tokens_; }         // targets per epoch (after truncation)
  double fill() const;                                         // share of row positions holding sample tokens
  LoaderPos pos() const { return pos_; }
  void set_pos(LoaderPos p);                                   // Error if out of range
  int64_t B, T;

 private:
  void plan_epoch();
  void fill_row(int64_t row, const std::vector<int64_t>* plan);
  std::vector<TokenizedSample> samples_;
  uint64_t seed_;
  bool shuffle_;
  int32_t pad_;
  int64_t truncated_ = 0, loss_tokens_ = 0, used_ = 0;
  LoaderPos pos_;
  std::vector<std::vector<int64_t>> rows_;   // sample indices of each row of the current epoch
  std::vector<int32_t> ids_, targets_, seg_;
};

}  // namespace nanoseek
