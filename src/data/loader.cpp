#include "data/loader.h"

#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace nanoseek {

const char* pack_name(Pack p) { return p == Pack::Docs ? "docs" : "stream"; }

Pack parse_pack(const std::string& name) {
  if (name == "docs") return Pack::Docs;
  if (name == "stream") return Pack::Stream;
  fail("data.pack: unknown packing '{}' (expected docs or stream)", name);
}

DataLoader::DataLoader(const Shard& shard, int64_t B_, int64_t T_, uint64_t seed, bool shuffle, Pack pack)
    : B(B_), T(T_), shard_(shard), seed_(seed), shuffle_(shuffle) {
  check(B > 0 && T > 0, "data loader: batch {}×{} must be positive", B, T);
  const int64_t N = int64_t(shard.tokens.size());
  if (pack == Pack::Stream) {
    for (int64_t w = 0; N > 1 && w < (N - 1) / T; ++w) win_.push_back({w * T, T});
  } else {
    // Greedy packing of whole documents [doc start, EOS inclusive] in file order.
    int64_t used = 0;
    Window cur{0, 0};
    for (int64_t s = 0; s < N;) {
      int64_t e = s;
      while (e < N && shard.tokens[size_t(e)] != shard.eos_id) ++e;
      const int64_t len = std::min<int64_t>(e + 1, N) - s;  // the document with its EOS
      if (cur.len > 0 && cur.len + len > T) {
        win_.push_back(cur);
        cur = {s, 0};
      }
      if (cur.len == 0) cur.start = s;
      cur.len += std::min(len, T);  // a document longer than T is truncated to T and fills its row alone
      used += std::min(len, T);
      if (len >= T) {
        win_.push_back(cur);
        cur = {e + 1, 0};
      }
      s = e + 1;
    }
    if (cur.len > 0) win_.push_back(cur);
    fill_ = win_.empty() ? 0 : double(used) / double(int64_t(win_.size()) * T);
  }
  check(!win_.empty(), "data loader: the shard has {} tokens, too few for one window of seq_len {}", N, T);
  ids_.resize(B * T);
  targets_.resize(B * T);
  seg_.resize(B * T);
  shuffle_epoch();
}

void DataLoader::shuffle_epoch() {
  order_.resize(win_.size());
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  Rng r = Rng::derive(seed_, uint64_t(pos_.epoch));
  for (int64_t i = windows() - 1; i > 0; --i) std::swap(order_[i], order_[r.below(uint64_t(i + 1))]);
}

void DataLoader::set_pos(LoaderPos p) {
  check(p.epoch >= 0 && p.cursor >= 0 && p.cursor <= windows(), "data loader: position epoch {} cursor {} out of "
        "range (the shard has {} windows of {} tokens)", p.epoch, p.cursor, windows(), T);
  pos_ = p;
  shuffle_epoch();
}

// targets: the next token of the stream, except after an EOS (−1) and past the window's real tokens (−1). The
// last real token of a window is followed by a token of the stream (Stream mode, or a truncated document) or is
// an EOS (Docs mode), so reading tok[t + 1] stays inside the shard.
void DataLoader::fill_row(int64_t row, const Window& w) {
  const int32_t* tok = shard_.tokens.data() + w.start;
  const int64_t N = int64_t(shard_.tokens.size());
  const int32_t eos = shard_.eos_id;
  int32_t s = 0;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t i = row * T + t;
    if (t >= w.len) {  // padding: its own segment, no loss
      if (t == w.len && t > 0 && tok[t - 1] != eos) ++s;  // (after an EOS, s already names a fresh segment)
      ids_[i] = eos;
      seg_[i] = s;
      targets_[i] = -1;
      continue;
    }
    ids_[i] = tok[t];
    seg_[i] = s;
    const bool end = tok[t] == eos;
    targets_[i] = end || w.start + t + 1 >= N ? -1 : tok[t + 1];
    if (end) ++s;
  }
}

Batch DataLoader::next() {
  for (int64_t b = 0; b < B; ++b) {
    if (pos_.cursor == windows()) {
      ++pos_.epoch;
      pos_.cursor = 0;
      shuffle_epoch();
    }
    fill_row(b, win_[size_t(order_[size_t(pos_.cursor++)])]);
  }
  return Batch{B, T, ids_.data(), targets_.data(), seg_.data()};
}

}  // namespace nanoseek
