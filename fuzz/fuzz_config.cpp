// libFuzzer target for config.json (both architectures): the bounded JSON reader, then the strict config readers
// and the closed-form summary `nanoseek info` prints — parse and summarize only, nothing is allocated per model.
// A V3 or dense config that parses must also write back (config_to_json / dense_config_json) and re-parse to the
// same config. Every input must succeed or throw nanoseek::Error (build: see docs/benchmarks.md "Fuzzing").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/json_io.h"
#include "model/config.h"
#include "model/dense.h"
#include "model/language_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  try {
    const nlohmann::json j = parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
    const ModelSummary s = summarize_config(j, "config.json", 4096);
    if (s.total_params < 0 || s.active_params_per_token > s.total_params) __builtin_trap();
    if (is_dense_model_type(s.model_type)) {
      const DenseConfig c = parse_dense_config(j, "config.json");
      const nlohmann::json back = dense_config_json(c);
      if (parse_dense_config(parse_json(back.dump(2), "back"), "back").vocab_size != c.vocab_size) __builtin_trap();
    } else {
      const ModelConfig c = parse_config(j, "config.json");
      const nlohmann::json back = config_to_json(c);
      if (config_to_json(parse_config(parse_json(back.dump(2), "back"), "back")) != back) __builtin_trap();
    }
  } catch (const Error&) {
  }
  return 0;
}
