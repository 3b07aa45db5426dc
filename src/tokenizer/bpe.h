// Byte-level BPE model: vocabulary, ranked merges, and the merge loop. A word arrives as raw bytes (the
// ByteLevel pre-tokenizer's byte->character mapping is folded into the initial symbol table), so no
// byte-level string is ever built on the hot path.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nanoseek {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  BpeModel() = default;
  // `model` is tokenizer.json's "model" object; `where` names the file for errors.
  static BpeModel from_json(const nlohmann::json& model, const std::string& where);

  // Appends the ids of one pre-tokenized word (raw bytes).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  const TokenMap& vocab() const { return vocab_; }
  int32_t max_id() const { return max_id_; }

 private:
  struct Merge {
    int32_t rank, new_id;
  };
  const Merge* find_merge(int32_t a, int32_t b) const {
    auto it = merges_.find((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  TokenMap vocab_;                                  // byte-level token string -> id
  std::unordered_map<uint64_t, Merge> merges_;      // (left id, right id) -> rank and merged id
  std::vector<std::vector<int32_t>> byte_symbols_;  // [256] initial symbols of one input byte
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int32_t max_id_ = -1;
};

}  // namespace nanoseek
