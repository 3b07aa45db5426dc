#include "data/shard.h"

#include <cstring>

#include "core/error.h"
#include "core/fs.h"

namespace nanoseek {
namespace {

template <typename T>
void put(std::string& out, T v) {  // little-endian hosts only (x86-64, aarch64)
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(const std::string& in, size_t off) {
  T v;
  std::memcpy(&v, in.data() + off, sizeof v);
  return v;
}

}  // namespace

void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t n_docs, int32_t eos_id) {
  int32_t max_id = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    check(tokens[i] >= 0, "write_shard {}: token {} is negative ({})", path, i, tokens[i]);
    max_id = std::max(max_id, tokens[i]);
  }
  const uint32_t tb = max_id < 65536 ? 2 : 4;
  std::string out;
  out.reserve(kShardHeaderBytes + tokens.size() * tb);
  out.append("NSKSHARD", 8);
  put<uint32_t>(out, kShardVersion);
  put<uint32_t>(out, tb);
  put<uint64_t>(out, tokens.size());
  put<uint64_t>(out, uint64_t(n_docs));
  put<int64_t>(out, eos_id);
  if (tb == 2)
    for (int32_t t : tokens) put<uint16_t>(out, uint16_t(t));
  else
    for (int32_t t : tokens) put<uint32_t>(out, uint32_t(t));
  write_file_atomic(path, out);
}

Shard read_shard(const std::string& path, int64_t vocab_size) {
  const std::string in = read_file(path);
  check(in.size() >= kShardHeaderBytes, "shard {}: {} bytes, shorter than the {}-byte header", path, in.size(),
        kShardHeaderBytes);
  check(in.compare(0, 8, "NSKSHARD") == 0, "shard {}: bad magic (bytes 0..7 are not \"NSKSHARD\")", path);
  const auto version = get<uint32_t>(in, 8);
  check(version == kShardVersion, "shard {}: version {} at byte 8, this build reads version {}", path, version,
        kShardVersion);
  Shard s;
  s.token_bytes = get<uint32_t>(in, 12);
  check(s.token_bytes == 2 || s.token_bytes == 4, "shard {}: bytes per token at byte 12 is {}, expected 2 or 4",
        path, s.token_bytes);
  const auto n = get<uint64_t>(in, 16);
  s.n_docs = int64_t(get<uint64_t>(in, 24));
  const auto eos = get<int64_t>(in, 32);
  check(eos >= -1 && eos < (int64_t(1) << 31), "shard {}: EOS id {} at byte 32 out of range", path, eos);
  s.eos_id = int32_t(eos);
  check(n <= (in.size() - kShardHeaderBytes) / s.token_bytes &&
            in.size() == kShardHeaderBytes + n * s.token_bytes,
        "shard {}: header says {} tokens of {} bytes ({} bytes of data) but the file has {} data bytes", path, n,
        s.token_bytes, n * s.token_bytes, in.size() - kShardHeaderBytes);
  s.tokens.resize(n);
  const char* p = in.data() + kShardHeaderBytes;
  for (size_t i = 0; i < n; ++i) {
    uint32_t v;
    if (s.token_bytes == 2) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      v = h;
    } else {
      std::memcpy(&v, p + 4 * i, 4);
    }
    check(v < (1u << 31) && (vocab_size <= 0 || int64_t(v) < vocab_size),
          "shard {}: token {} (byte {}) has id {}, outside the vocabulary of {}", path, i,
          kShardHeaderBytes + i * s.token_bytes, v, vocab_size);
    s.tokens[i] = int32_t(v);
  }
  return s;
}

}  // namespace nanoseek
