// A model directory ready to generate text: weights + its tokenizer (a model directory carries its tokenizer
// files; using one without them is an error) + the chat template it was trained with. config.json's model_type
// picks the architecture (model/language_model.h load_language_model): DeepSeek-V3/V2 or a dense Qwen2/Llama.
#pragma once
#include <memory>
#include <string>

#include "infer/engine.h"
#include "model/language_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

struct TextModel {
  std::unique_ptr<LanguageModel> model;
  Tokenizer tok;
  ChatTemplate chat;
  std::vector<int32_t> stop_ids;  // EOS and the template's end-of-turn token, when the vocabulary has them

  int64_t vocab_size() const;     // the model's (>= the tokenizer's)
  int64_t max_positions() const;  // positions the model's RoPE table covers
  // An engine over whichever model is loaded (reads its weights in place).
  std::unique_ptr<Engine> make_engine(int64_t max_batch, int64_t max_len,
                                      DecodeWeights weights = DecodeWeights::F32) const;
};

TextModel load_text_model(const std::string& dir);

// Splits streamed text into reasoning (inside <think>…</think>) and answer, as it arrives.
class ThinkSplitter {
 public:
  explicit ThinkSplitter(bool start_in_think) : in_think_(start_in_think) {}
  // Feeds new text; calls emit(is_reasoning, piece) for each piece (tags themselves are not emitted).
  template <typename F>
  void push(const std::string& text, F&& emit) {
    pending_ += text;
    for (;;) {
      const std::string tag = in_think_ ? "</think>" : "<think>";
      size_t at = pending_.find(tag);
      if (at == std::string::npos) {
        // keep a possible partial tag at the end
        size_t keep = 0;
        for (size_t k = 1; k < tag.size() && k <= pending_.size(); ++k)
          if (pending_.compare(pending_.size() - k, k, tag, 0, k) == 0) keep = k;
        if (pending_.size() > keep) emit(in_think_, pending_.substr(0, pending_.size() - keep));
        pending_ = pending_.substr(pending_.size() - keep);
        return;
      }
      if (at > 0) emit(in_think_, pending_.substr(0, at));
      pending_ = pending_.substr(at + tag.size());
      in_think_ = !in_think_;
    }
  }
  template <typename F>
  void flush(F&& emit) {
    if (!pending_.empty()) emit(in_think_, pending_);
    pending_.clear();
  }

 private:
  bool in_think_;
  std::string pending_;
};

}  // namespace nanoseek
