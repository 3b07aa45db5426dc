// Token shards: round trips in both widths, and every malformed header is an Error naming the file and field.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "data/shard.h"

namespace nanoseek {
namespace {

std::string tmp(const std::string& name) { return ::testing::TempDir() + "nanoseek_shard_" + name; }

std::string error_of(const std::string& path, int64_t vocab = 0) {
  try {
    read_shard(path, vocab);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Shard, RoundTripUint16_5tokens) {
  const std::vector<int32_t> t{3, 0, 65535, 7, 1};
  write_shard(tmp("u16"), t, 2, 1);
  const Shard s = read_shard(tmp("u16"), 65536);
  EXPECT_EQ(s.tokens, t);
  EXPECT_EQ(s.token_bytes, 2u);
  EXPECT_EQ(s.n_docs, 2);
  EXPECT_EQ(s.eos_id, 1);
  EXPECT_EQ(read_file(tmp("u16")).size(), kShardHeaderBytes + 10);
  EXPECT_EQ(read_file(tmp("u16")).substr(0, 8), "NSKSHARD");
}

TEST(Shard, RoundTripUint32_3tokens) {
  const std::vector<int32_t> t{70000, 2, 129279};
  write_shard(tmp("u32"), t, 1, 2);
  const Shard s = read_shard(tmp("u32"));
  EXPECT_EQ(s.tokens, t);
  EXPECT_EQ(s.token_bytes, 4u);
}

TEST(Shard, MalformedFilesAreErrors) {
  write_shard(tmp("ok"), {1, 2, 3}, 1, 1);
  const std::string good = read_file(tmp("ok"));
  auto mutate = [&](const std::string& name, std::string bytes) {
    write_file_atomic(tmp(name), bytes);
    return error_of(tmp(name));
  };
  EXPECT_NE(mutate("short", good.substr(0, 20)).find("shorter than the 40-byte header"), std::string::npos);
  std::string b = good;
  b[0] = 'X';
  EXPECT_NE(mutate("magic", b).find("bad magic"), std::string::npos);
  b = good;
  b[8] = 9;
  EXPECT_NE(mutate("version", b).find("version 9 at byte 8"), std::string::npos);
  b = good;
  b[12] = 3;
  EXPECT_NE(mutate("width", b).find("bytes per token at byte 12 is 3"), std::string::npos);
  EXPECT_NE(mutate("trunc", good.substr(0, good.size() - 1)).find("header says 3 tokens"), std::string::npos);
  b = good;
  b[16] = char(0xff);
  b[23] = char(0x7f);  // an absurd token count must not allocate or overflow
  EXPECT_NE(mutate("count", b).find("header says"), std::string::npos);
  EXPECT_NE(error_of(tmp("ok"), 3).find("token 2 (byte 44) has id 3"), std::string::npos);
  EXPECT_NE(error_of(tmp("absent")).find("absent"), std::string::npos);
}

}  // namespace
}  // namespace nanoseek
