#include "data/chat_pack.h"

#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace nanoseek {

ChatPacker::ChatPacker(std::vector<TokenizedSample> samples, int64_t B_, int64_t T_, uint64_t seed, bool shuffle,
                       int32_t pad_id)
    : B(B_), T(T_), samples_(std::move(samples)), seed_(seed), shuffle_(shuffle), pad_(pad_id) {
  check(B > 0 && T > 1, "chat packer: batch {}x{} must have B > 0 and T > 1", B, T);
  check(!samples_.empty(), "chat packer: no samples");
  for (auto& s : samples_) {
    check(s.tokens.size() == s.loss.size() && !s.tokens.empty(), "chat packer: a sample has {} tokens and {} mask "
          "entries", s.tokens.size(), s.loss.size());
    if (int64_t(s.tokens.size()) > T) {
      ++truncated_;
      s.tokens.resize(size_t(T));
      s.loss.resize(size_t(T));
    }
    for (size_t i = 1; i < s.loss.size(); ++i) loss_tokens_ += s.loss[i];
    used_ += int64_t(s.tokens.size());
  }
  ids_.resize(size_t(B * T));
  targets_.resize(size_t(B * T));
  seg_.resize(size_t(B * T));
  plan_epoch();
}

double ChatPacker::fill() const { return double(used_) / double(rows() * T); }

void ChatPacker::plan_epoch() {
  std::vector<int64_t> order(samples_.size());
  std::iota(order.begin(), order.end(), 0);
  if (shuffle_) {
    Rng r = Rng::derive(seed_, uint64_t(pos_.epoch));
    for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) std::swap(order[size_t(i)], order[r.below(uint64_t(i + 1))]);
  }
  rows_.clear();
  int64_t len = T;  // tokens in the open row (T: none open yet)
  for (int64_t s : order) {
    const int64_t n = int64_t(samples_[size_t(s)].tokens.size());
    if (len + n > T) {
      rows_.emplace_back();
      len = 0;
    }
    rows_.back().push_back(s);
    len += n;
  }
}

void ChatPacker::set_pos(LoaderPos p) {
  check(p.epoch >= 0 && p.cursor >= 0, "chat packer: position epoch {} cursor {} is negative", p.epoch, p.cursor);
  pos_ = p;
  plan_epoch();
  check(p.cursor <= rows(), "chat packer: position cursor {} is past the {} rows of epoch {}", p.cursor, rows(), p.epoch);
}

void ChatPacker::fill_row(int64_t row, const std::vector<int64_t>* plan) {
  int32_t* ids = &ids_[size_t(row * T)];
  int32_t* tg = &targets_[size_t(row * T)];
  int32_t* sg = &seg_[size_t(row * T)];
  int64_t t = 0;
  int32_t seg = 0;
  if (plan)
    for (int64_t si : *plan) {
      const TokenizedSample& s = samples_[size_t(si)];
      const int64_t n = int64_t(s.tokens.size());
      for (int64_t i = 0; i < n; ++i, ++t) {
        ids[t] = s.tokens[size_t(i)];
        tg[t] = i + 1 < n && s.loss[size_t(i + 1)] ? s.tokens[size_t(i + 1)] : -1;
        sg[t] = seg;
      }
      ++seg;
    }
  for (; t < T; ++t) ids[t] = pad_, tg[t] = -1, sg[t] = seg;
}

Batch ChatPacker::next() {
  for (int64_t b = 0; b < B; ++b) {
    if (pos_.cursor == rows()) {
      ++pos_.epoch;
      pos_.cursor = 0;
      plan_epoch();
    }
    fill_row(b, &rows_[size_t(pos_.cursor++)]);
  }
  return Batch{B, T, ids_.data(), targets_.data(), seg_.data()};
}

Batch ChatPacker::rows_at(int64_t first) {
  for (int64_t b = 0; b < B; ++b) fill_row(b, first + b < rows() ? &rows_[size_t(first + b)] : nullptr);
  return Batch{B, T, ids_.data(), targets_.data(), seg_.data()};
}

}  // namespace nanoseek
