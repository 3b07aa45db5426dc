#include "data/loader.h"

#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace nanoseek {

DataLoader::DataLoader(const Shard& shard, int64_t B_, int64_t T_, uint64_t seed, bool shuffle)
    : B(B_), T(T_), shard_(shard), seed_(seed), shuffle_(shuffle) {
  check(B > 0 && T > 0, "data loader: batch {}×{} must be positive", B, T);
  W_ = shard.tokens.size() > 1 ? int64_t(shard.tokens.size() - 1) / T : 0;
  check(W_ >= 1, "data loader: the shard has {} tokens, fewer than one window of seq_len+1 = {}",
        shard.tokens.size(), T + 1);
  ids_.resize(B * T);
  targets_.resize(B * T);
  seg_.resize(B * T);
  shuffle_epoch();
}

void DataLoader::shuffle_epoch() {
  order_.resize(W_);
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  Rng r = Rng::derive(seed_, uint64_t(pos_.epoch));
  for (int64_t i = W_ - 1; i > 0; --i) std::swap(order_[i], order_[r.below(uint64_t(i + 1))]);
}

void DataLoader::set_pos(LoaderPos p) {
  check(p.epoch >= 0 && p.cursor >= 0 && p.cursor <= W_, "data loader: position epoch {} cursor {} out of range "
        "(the shard has {} windows of {} tokens)", p.epoch, p.cursor, W_, T);
  pos_ = p;
  shuffle_epoch();
}

void DataLoader::fill_row(int64_t row, int64_t window) {
  const int32_t* tok = shard_.tokens.data() + window * T;
  const int32_t eos = shard_.eos_id;
  int32_t s = 0;
  for (int64_t t = 0; t < T; ++t) {
    ids_[row * T + t] = tok[t];
    seg_[row * T + t] = s;
    const bool end = tok[t] == eos;
    targets_[row * T + t] = end ? -1 : tok[t + 1];
    if (end) ++s;
  }
}

Batch DataLoader::next() {
  for (int64_t b = 0; b < B; ++b) {
    if (pos_.cursor == W_) {
      ++pos_.epoch;
      pos_.cursor = 0;
      shuffle_epoch();
    }
    fill_row(b, order_[pos_.cursor++]);
  }
  return Batch{B, T, ids_.data(), targets_.data(), seg_.data()};
}

}  // namespace nanoseek
