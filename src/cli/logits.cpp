// nanoseek logits --model DIR --ids 3,17,5 --out FILE.npy — float32 logits [T, vocab] of the main head for one
// token sequence, as a NumPy .npy file (the parity hook: compare against any other implementation). Either
// architecture (config.json's model_type).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/fs.h"
#include "core/error.h"
#include "core/npy.h"
#include "model/language_model.h"
#include "model/memory_preflight.h"

namespace nanoseek {
namespace {

struct LogitsOpts {
  std::string model, ids, out;
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string tok = s.substr(i, j - i);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(!tok.empty() && used == tok.size() && v >= 0 && v <= INT32_MAX,
          "--ids: '{}' (item {}) is not a non-negative integer token id", tok, ids.size() + 1);
    ids.push_back(int32_t(v));
    i = j + 1;
  }
  check(!ids.empty(), "--ids: expected a comma-separated list of token ids, e.g. 3,17,5");
  return ids;
}

int run_logits(const LogitsOpts& o) {
  std::vector<int32_t> ids = parse_ids(o.ids);
  check_output_path(o.out, "logits --out");
  preflight_model_dir(o.model, MemUse::Load);
  const auto m = load_language_model(o.model);
  const int64_t T = int64_t(ids.size());
  const auto acts = m->plan(1, T, false);
  Batch b{1, T, ids.data(), nullptr, nullptr};
  m->forward(b, *acts, {});
  const int64_t shape[2] = {T, m->vocab_size()};
  write_npy(o.out, acts->logits.data(), shape);
  fmt::print("wrote {} [{}, {}]\n", o.out, T, m->vocab_size());
  return 0;
}

const bool registered = cli::add_command({"logits", "Main-head logits of a token sequence to .npy", 30,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<LogitsOpts>();
      app.add_option("--model", o->model, "Model directory (config.json + safetensors)")->required();
      app.add_option("--ids", o->ids, "Comma-separated token ids, e.g. 3,17,5")->required();
      app.add_option("--out", o->out, "Output .npy file (float32 [T, vocab])")->required();
      return [o] { return run_logits(*o); };
    }});

}  // namespace
}  // namespace nanoseek
