#include "infer/session.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "model/memory_preflight.h"

namespace nanoseek {

int64_t TextModel::vocab_size() const { return model->vocab_size(); }
int64_t TextModel::max_positions() const { return model->max_positions(); }

std::unique_ptr<Engine> TextModel::make_engine(int64_t max_batch, int64_t max_len, DecodeWeights weights) const {
  return std::make_unique<Engine>(*model, max_batch, max_len, weights);
}

TextModel load_text_model(const std::string& dir) {
  check(file_exists(dir + "/tokenizer.json"),
        "{}: no tokenizer.json in the model directory (a model directory must carry its tokenizer; copy "
        "tokenizer.json and tokenizer_config.json next to config.json)", dir);
  preflight_model_dir(dir, MemUse::Load);   // before the weights are allocated
  TextModel t{load_language_model(dir), Tokenizer::load(dir), ChatTemplate::ChatML, {}};
  check(t.tok.vocab_size() <= t.vocab_size(), "{}: the tokenizer has {} ids but the model's vocab_size is {}", dir,
        t.tok.vocab_size(), t.vocab_size());
  t.chat = detect_chat_template(t.tok);
  if (t.tok.eos_id() >= 0) t.stop_ids.push_back(t.tok.eos_id());
  for (const char* end : {"<｜end▁of▁sentence｜>", "<|im_end|>", "<|endoftext|>"})
    if (auto id = t.tok.token_id(end); id && std::find(t.stop_ids.begin(), t.stop_ids.end(), *id) == t.stop_ids.end())
      t.stop_ids.push_back(*id);
  return t;
}

}  // namespace nanoseek
