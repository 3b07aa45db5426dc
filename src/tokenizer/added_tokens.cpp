#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include "tokenizer/unicode.h"

namespace nanoseek {
namespace {

// Unicode White_Space, the set Rust's regex `\s` uses for lstrip/rstrip.
bool is_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Rust regex `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Start of the code point that ends at byte `end` (s valid UTF-8, end > 0).
size_t prev_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : tokens_(std::move(tokens)) {
  trie_.emplace_back();
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& p = patterns[t];
    if (p.empty()) continue;
    first_byte_[static_cast<uint8_t>(p[0])] = true;
    int32_t node = 0;
    for (unsigned char b : p) {
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(trie_.size());
        trie_[node].kids.emplace_back(b, next);
        trie_.emplace_back();
      }
      node = next;
    }
    if (trie_[node].token < 0) trie_[node].token = static_cast<int32_t>(t);  // first listed wins on duplicates
  }
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t b) const {
  for (auto& [c, n] : trie_[node].kids)
    if (c == b) return n;
  return -1;
}

void AddedTokenMatcher::split(std::string_view s, const std::function<void(int32_t)>& on_token,
                              const std::function<void(std::string_view)>& on_text) const {
  size_t emitted = 0;  // end of the last piece handed out
  size_t i = 0;
  while (i < s.size()) {
    if (!first_byte_[static_cast<uint8_t>(s[i])]) {
      ++i;
      continue;
    }
    // Longest pattern starting at i.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < s.size(); ++j) {
      node = child(node, static_cast<uint8_t>(s[j]));
      if (node < 0) break;
      if (trie_[node].token >= 0) best = trie_[node].token, best_end = j + 1;
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[best];
    size_t start = i, stop = best_end;
    if (tok.single_word) {
      size_t k = start;
      bool left_ok = start == 0 || [&] { size_t p = prev_start(s, start); return !is_word(unicode::next_codepoint(s, p)); }();
      k = stop;
      bool right_ok = stop == s.size() || !is_word(unicode::next_codepoint(s, k));
      if (!left_ok || !right_ok) {  // HF skips the whole match and resumes after it
        i = best_end;
        continue;
      }
    }
    if (tok.lstrip) {
      while (start > emitted) {
        size_t p = prev_start(s, start), q = p;
        if (!is_space(unicode::next_codepoint(s, q))) break;
        start = p;
      }
    }
    if (tok.rstrip) {
      while (stop < s.size()) {
        size_t q = stop;
        if (!is_space(unicode::next_codepoint(s, q))) break;
        stop = q;
      }
    }
    if (start > emitted) on_text(s.substr(emitted, start - emitted));
    on_token(tok.id);
    emitted = i = stop;
  }
  if (emitted < s.size()) on_text(s.substr(emitted));
}

}  // namespace nanoseek
