// A tiny random DeepSeek-V3 model directory with the committed trained tokenizer (SFT / rejection-sampling tests).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/fs.h"
#include "model/model.h"
#include "test_util.h"

namespace nanoseek::test {

// dir/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json, eval.json (prompt_format, tasks)}.
inline void make_tiny_model_dir(const std::string& dir, uint64_t seed, const std::string& prompt_format = "plain") {
  std::filesystem::remove_all(dir);
  nlohmann::json cj = nlohmann::json::parse(read_file(source_dir() + "/configs/tiny.json"));
  cj["vocab_size"] = 1024;  // the trained tokenizer has < 1024 ids
  cj["hidden_size"] = 48, cj["num_hidden_layers"] = 2, cj["intermediate_size"] = 96, cj["q_lora_rank"] = 32;
  Model m(parse_config(cj, "tiny"));
  m.init(seed);
  m.save(dir);
  const std::string tk = source_dir() + "/tests/golden/tokenizer/trained/";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(tk + f, dir + "/" + f);
  write_file_atomic(dir + "/eval.json",
                    nlohmann::json{{"prompt_format", prompt_format}, {"tasks", {"add"}}}.dump() + "\n");
}

}  // namespace nanoseek::test
