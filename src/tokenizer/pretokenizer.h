// Normalizer and pre-tokenizer pipelines from tokenizer.json. Supported (anything else is an Error naming
// the JSON path): normalizers null / NFC / NFD / NFKC / NFKD / Sequence; pre-tokenizers Sequence of Split
// (Regex or String pattern, all five behaviours, invert) ending in one ByteLevel (add_prefix_space,
// use_regex). Splits apply piece by piece, so regex look-arounds only see their own piece, as in HF.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace nanoseek {

class Normalizer {
 public:
  static Normalizer from_json(const nlohmann::json& j, const std::string& where);  // j may be null
  bool identity() const { return forms_.empty(); }
  std::string apply(std::string_view s) const;

 private:
  std::vector<unicode::NormForm> forms_;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& where);

  // Appends the words of `piece` to `words`; views point into `piece` or into `scratch` (which must
  // outlive them; a deque so earlier entries never move).
  void split(std::string_view piece, std::vector<std::string_view>& words, std::deque<std::string>& scratch) const;

 private:
  struct Step {
    Regex re;
    SplitBehavior behavior;
    bool invert;
  };
  static void apply_step(const Step& step, std::string_view piece, std::vector<std::string_view>& out);

  std::vector<Step> steps_;
  bool add_prefix_space_ = false;
  size_t byte_level_step_ = 0;  // index of the first step that belongs to ByteLevel
};

}  // namespace nanoseek
