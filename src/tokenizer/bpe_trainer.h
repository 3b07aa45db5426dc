// Byte-level BPE trainer for small vocabularies. Words come from the same pre-tokenizer the trained
// tokenizer will use (a Qwen/GPT-style split with single-digit pre-tokens, so numbers are always read digit
// by digit: helpful for arithmetic tasks); special tokens are cut out of the corpus first and get ids 0..S-1,
// the 256 byte tokens follow, then one token per merge. The output is a standard HF tokenizer.json (+
// tokenizer_config.json) that HF `tokenizers` loads and encodes exactly as nanoseek does.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

// <｜begin▁of▁sentence｜> <｜end▁of▁sentence｜> <｜User｜> <｜Assistant｜> <think> </think> <answer> </answer>
// <|im_start|> <|im_end|> <pad>: DeepSeek-R1 chat markers, R1-Zero answer tags, ChatML markers, padding.
std::vector<std::string> default_special_tokens();

// Qwen2/Qwen3's split regex: contractions, letters with one leading non-letter, single digits, punctuation
// runs, newlines, whitespace.
extern const char* const kTrainerSplitRegex;

struct BpeTrainerOptions {
  int32_t vocab_size = 4096;  // total, including special and byte tokens
  std::vector<std::string> special_tokens = default_special_tokens();
  int64_t min_frequency = 2;  // stop early when the best pair occurs fewer times than this
  // Called every ~5% of the merges and at the end (progress lines for the CLI); may be empty.
  std::function<void(int32_t merges_done, int32_t merges_target, int64_t best_count)> progress;
};

struct TrainedTokenizer {
  std::string tokenizer_json;
  std::string config_json;
  int32_t vocab_size = 0;  // actual (smaller than asked when pairs ran out)
  int32_t n_merges = 0;
  int64_t n_words = 0, n_unique_words = 0;
};

// corpus: UTF-8 text (Error with the byte offset if not valid).
TrainedTokenizer train_bpe(std::string_view corpus, const BpeTrainerOptions& opt);

// Writes dir/tokenizer.json and dir/tokenizer_config.json atomically (creating dir).
void save_trained_tokenizer(const TrainedTokenizer& t, const std::string& dir);

}  // namespace nanoseek
