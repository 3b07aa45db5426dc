// DataLoader: windows, targets shifted by one, segments cut at EOS with the EOS target ignored, every window once
// per epoch, and set_pos reproducing the continuation exactly.
#include <gtest/gtest.h>

#include "core/error.h"

#include <set>

#include "data/loader.h"

namespace nanoseek {
namespace {

Shard counting_shard(int64_t n, int32_t eos_every) {  // tokens 2,3,4,... with EOS (1) every eos_every tokens
  Shard s;
  s.eos_id = 1;
  for (int64_t i = 0; i < n; ++i) s.tokens.push_back((i + 1) % eos_every == 0 ? 1 : int32_t(2 + i % 50));
  return s;
}

TEST(DataLoader, TargetsAndSegments_B1_T8) {
  const Shard s = counting_shard(17, 5);  // ... x x x x EOS x x x x EOS ...
  DataLoader dl(s, 1, 8, 0, false, Pack::Stream);
  EXPECT_EQ(dl.windows(), 2);
  const Batch b = dl.next();  // window 0: tokens[0..8]
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(b.ids[t], s.tokens[t]);
    if (s.tokens[t] == 1) EXPECT_EQ(b.targets[t], -1) << t;
    else EXPECT_EQ(b.targets[t], s.tokens[t + 1]) << t;
  }
  // EOS at index 4 ends segment 0; index 5 opens segment 1.
  EXPECT_EQ(b.seg[4], 0);
  EXPECT_EQ(b.seg[5], 1);
  EXPECT_EQ(b.seg[7], 1);
}

TEST(DataLoader, EpochVisitsEveryWindowOnce_B3_T4) {
  Shard s;  // unique tokens, no EOS: a window is identified by its first token
  for (int32_t i = 0; i < 4 * 30 + 1; ++i) s.tokens.push_back(2 + i);
  DataLoader dl(s, 3, 4, 42, true, Pack::Stream);
  ASSERT_EQ(dl.windows(), 30);
  std::multiset<int32_t> firsts;
  for (int i = 0; i < 10; ++i) {
    const Batch b = dl.next();
    for (int r = 0; r < 3; ++r) firsts.insert(b.ids[r * 4]);  // distinct first tokens identify windows here
  }
  EXPECT_EQ(dl.pos().epoch, 0);
  EXPECT_EQ(dl.pos().cursor, 30);
  dl.next();
  EXPECT_EQ(dl.pos().epoch, 1);
  EXPECT_EQ(firsts.size(), 30u);
  EXPECT_EQ(std::set<int32_t>(firsts.begin(), firsts.end()).size(), 30u);
}

TEST(DataLoader, SetPosReproducesContinuation_B2_T4) {
  const Shard s = counting_shard(200, 9);
  DataLoader a(s, 2, 4, 7, true, Pack::Stream);
  for (int i = 0; i < 30; ++i) a.next();  // crosses an epoch boundary (24 windows)
  const LoaderPos p = a.pos();
  std::vector<int32_t> want;
  for (int i = 0; i < 5; ++i) {
    const Batch b = a.next();
    want.insert(want.end(), b.ids, b.ids + 8);
  }
  DataLoader c(s, 2, 4, 7, true, Pack::Stream);
  c.set_pos(p);
  std::vector<int32_t> got;
  for (int i = 0; i < 5; ++i) {
    const Batch b = c.next();
    got.insert(got.end(), b.ids, b.ids + 8);
  }
  EXPECT_EQ(got, want);
  EXPECT_THROW(c.set_pos({0, 1000}), Error);
  EXPECT_THROW(DataLoader(s, 1, 500, 0, true, Pack::Stream), Error);  // shard shorter than one window
}

// Docs packing: every row starts at a document start, holds whole documents (greedy, file order), pads the rest
// with ignored targets in a segment of its own; a document longer than T is truncated and fills a row alone.
TEST(DataLoader, DocsPackingRowsStartAtDocuments_B1_T8) {
  Shard s;  // documents of lengths 3, 4, 2, 10, 5 (EOS included), tokens numbered by position
  s.eos_id = 1;
  int32_t next = 2;
  for (int len : {3, 4, 2, 10, 5}) {
    for (int i = 0; i + 1 < len; ++i) s.tokens.push_back(next++);
    s.tokens.push_back(1);
  }
  DataLoader dl(s, 1, 8, 0, /*shuffle=*/false, Pack::Docs);
  ASSERT_EQ(dl.windows(), 4);  // [3+4] [2] [10→8] [5]
  EXPECT_NEAR(dl.fill(), (7.0 + 2 + 8 + 5) / 32, 1e-12);
  Batch b = dl.next();
  EXPECT_EQ(b.ids[0], s.tokens[0]);
  EXPECT_EQ(b.targets[1], s.tokens[2]);
  EXPECT_EQ(b.targets[2], -1);   // EOS
  EXPECT_EQ(b.seg[3], 1);        // second document
  EXPECT_EQ(b.targets[6], -1);   // its EOS
  EXPECT_EQ(b.targets[7], -1);   // padding
  EXPECT_EQ(b.seg[7], 2);        // padding attends only to itself
  b = dl.next();
  EXPECT_EQ(b.ids[0], s.tokens[7]);
  for (int t = 2; t < 8; ++t) EXPECT_EQ(b.targets[t], -1) << t;
  b = dl.next();                 // the 10-token document, truncated to 8: every target is its next token
  for (int t = 0; t < 8; ++t) EXPECT_EQ(b.targets[t], s.tokens[9 + t + 1]) << t;
  b = dl.next();
  EXPECT_EQ(b.ids[0], s.tokens[19]);
  EXPECT_EQ(b.targets[4], -1);
  EXPECT_EQ(b.targets[5], -1);
}

TEST(DataLoader, ParsePack) {
  EXPECT_EQ(parse_pack("docs"), Pack::Docs);
  EXPECT_EQ(parse_pack("stream"), Pack::Stream);
  EXPECT_THROW(parse_pack("dox"), Error);
}

}  // namespace
}  // namespace nanoseek
