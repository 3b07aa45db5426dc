// nanoseek::Tokenizer — byte-level BPE loaded from a Hugging Face tokenizer.json (+ tokenizer_config.json),
// encoding and decoding exactly as HF `tokenizers` does for the DeepSeek-V3 and Qwen3 files (see
// docs/tokenizer.md for the supported component types; anything else is an Error naming the JSON path).
//
//   auto tok = nanoseek::Tokenizer::load("/path/to/model_dir");
//   std::vector<int32_t> ids = tok.encode("Hello<|im_end|>");   // specials recognised, no BOS/EOS added
//   std::string text = tok.decode(ids);
//
// A Tokenizer is cheap to copy (shared immutable state) and safe to use from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

class Tokenizer {
 public:
  static Tokenizer load(const std::string& dir);  // dir with tokenizer.json (+ optional tokenizer_config.json)
  // config_json may be empty (no tokenizer_config.json); label names the source in error messages.
  static Tokenizer from_json(const std::string& tokenizer_json, const std::string& config_json, std::string label);

  // Text must be valid UTF-8 (Error with the byte offset otherwise). No BOS/EOS are added.
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids outside [0, vocab_size) are an Error. Invalid UTF-8 produced by the tokens becomes U+FFFD, as in HF.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t vocab_size() const;  // max id + 1 over vocab and added tokens
  std::optional<int32_t> token_id(std::string_view token) const;  // exact token string (byte-level form)
  // Token string as HF's id_to_token gives it: the vocab entry, or an added token's content (normalized
  // when the token has normalized=true).
  std::string_view token_text(int32_t id) const;
  std::string_view token_bytes(int32_t id) const;                 // raw bytes the token decodes to
  int32_t bos_id() const;  // from tokenizer_config.json bos_token; -1 if none
  int32_t eos_id() const;  // from tokenizer_config.json eos_token; -1 if none
  int32_t pad_id() const;  // from tokenizer_config.json pad_token; -1 if none
  bool is_special(int32_t id) const;
  const std::string& label() const;

  struct Impl;

 private:
  static Tokenizer from_json_checked(const std::string& tokenizer_json, const std::string& config_json,
                                     const std::string& label);
  std::shared_ptr<const Impl> impl_;
};

// Incremental UTF-8-safe decoding for streaming generation: push ids one at a time and get the newly
// completed text; bytes of a character split across tokens are held back until it completes. The
// concatenation of all push() results and flush() equals decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  Tokenizer tok_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace nanoseek
