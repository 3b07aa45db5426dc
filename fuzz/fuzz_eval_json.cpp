// libFuzzer target for a model directory's eval.json, through the readers that consume it: GRPO's prompt format
// (model_prompt_format) and SFT's rendering choice (rendering_for_model with the committed trained tokenizer).
// The input is written to a scratch directory each run. Every input must succeed or throw nanoseek::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "data/chat_data.h"
#include "rl/grpo_stage.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  static const std::string dir = [] {
    std::string d = "/tmp/nanoseek-fuzz-eval-" + std::to_string(getpid());
    make_dirs(d);
    return d;
  }();
  static const Tokenizer tok = Tokenizer::load(std::string(NANOSEEK_SOURCE_DIR) + "/tests/golden/tokenizer/trained");
  std::ofstream(dir + "/eval.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    model_prompt_format(dir);
  } catch (const Error&) {
  }
  try {
    rendering_for_model(dir, tok, "auto");
  } catch (const Error&) {
  }
  return 0;
}
