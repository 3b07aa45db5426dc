#include "infer/session.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "model/checkpoint.h"

namespace nanoseek {

std::string model_type_of(const std::string& dir) {
  const std::string path = dir + "/config.json";
  check(file_exists(path), "{}: no config.json (not a model directory)", dir);
  const auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  check(!j.is_discarded() && j.is_object(), "{}: not a valid JSON object", path);
  check(j.contains("model_type") && j["model_type"].is_string(), "{}: field 'model_type' is missing or not a string",
        path);
  return j["model_type"].get<std::string>();
}

int64_t TextModel::vocab_size() const { return model ? model->cfg.vocab_size : dense->cfg.vocab_size; }
int64_t TextModel::max_positions() const { return model ? model->rope.max_pos : dense->rope.max_pos; }

std::unique_ptr<Engine> TextModel::make_engine(int64_t max_batch, int64_t max_len) const {
  if (model) return std::make_unique<Engine>(*model, max_batch, max_len);
  check(dense != nullptr, "text model: no model loaded");
  return std::make_unique<Engine>(*dense, max_batch, max_len);
}

TextModel load_text_model(const std::string& dir) {
  check(file_exists(dir + "/tokenizer.json"),
        "{}: no tokenizer.json in the model directory (a model directory must carry its tokenizer; copy "
        "tokenizer.json and tokenizer_config.json next to config.json)", dir);
  const bool is_dense = is_dense_model_type(model_type_of(dir));
  TextModel t{is_dense ? nullptr : load_model(dir), is_dense ? load_dense_model(dir) : nullptr, Tokenizer::load(dir),
              ChatTemplate::ChatML, {}};
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
