// PCRE2 (UTF + UCP, JIT) regex used by Split pre-tokenizers. HF `tokenizers` runs these patterns with
// Oniguruma; `translate_onig` rewrites the few constructs whose meaning differs (see regex.cpp).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nanoseek {

class Regex {
 public:
  // `where` names the pattern's origin (e.g. "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex")
  // for the error raised when it does not compile.
  Regex(const std::string& pattern, const std::string& where);

  // Appends the [start, end) byte ranges of all non-overlapping matches in `subject` (valid UTF-8), left to
  // right, as Oniguruma's find_iter would: an empty match advances by one character.
  void find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<void> code_;  // pcre2_code*, freed by pcre2_code_free
  bool jit_ = false;
};

// Oniguruma -> PCRE2 pattern rewrite: `\s`/`\S` become explicit White_Space classes (PCRE2's UCP \s omits
// U+0085 NEL, which Oniguruma's includes) and `\x{...}`-free Unicode escapes are kept as they are.
std::string translate_onig(std::string_view pattern);

// PCRE2 pattern that matches `literal` exactly (for Split patterns given as {"String": ...}).
std::string quote_regex(std::string_view literal);

}  // namespace nanoseek
