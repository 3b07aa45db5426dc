// Added tokens (specials such as <|im_end|> and user-added words) are cut out of the text before anything
// else, as HF's AddedVocabulary does: leftmost-longest match over all contents, with the single_word /
// lstrip / rstrip options, in two passes — tokens with normalized=false against the raw text, the others
// against each normalized remaining piece.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `patterns[i]` is the text to find for `tokens[i]` (its content, normalized for the second pass).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);

  bool empty() const { return tokens_.empty(); }

  // Splits `s` into pieces, in order: on_token(id) for a match, on_text(piece) for non-empty text between.
  void split(std::string_view s, const std::function<void(int32_t)>& on_token,
             const std::function<void(std::string_view)>& on_text) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> kids;
    int32_t token = -1;  // index into tokens_ when a pattern ends here
  };
  int32_t child(int32_t node, uint8_t b) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;
  bool first_byte_[256] = {};
};

}  // namespace nanoseek
