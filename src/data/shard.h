// Token shards: one file per split holding a stream of documents, each ended by EOS.
//
//   offset  size  field
//   0       8     magic "NSKSHARD"
//   8       4     version (u32 LE) = 1
//   12      4     bytes per token (u32 LE): 2 (uint16) or 4 (uint32)
//   16      8     token count N (u64 LE)
//   24      8     document count (u64 LE)
//   32      8     EOS id (i64 LE) that ends every document (the loader cuts attention segments at it)
//   40      N·bytes tokens, little endian
// The file size must be exactly 40 + N·bytes; anything else is an Error naming the file and the field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nanoseek {

constexpr uint32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 40;

struct Shard {
  std::vector<int32_t> tokens;
  int64_t n_docs = 0;
  int32_t eos_id = -1;
  uint32_t token_bytes = 2;
};

// uint16 when every id fits (vocab ≤ 65536), else uint32. Atomic write.
void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t n_docs, int32_t eos_id);
// vocab_size > 0 also checks every token id is below it (Error naming the first bad token's index).
Shard read_shard(const std::string& path, int64_t vocab_size = 0);

}  // namespace nanoseek
