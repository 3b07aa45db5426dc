#include "model/memory_preflight.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "model/language_model.h"

namespace nanoseek {

void preflight_model_memory(const nlohmann::json& config, const std::string& label, MemUse use) {
  const ModelSummary ms = summarize_config(config, label, 1);
  const double params = double(ms.total_params + ms.mtp_params) * sizeof(float), mib = double(1 << 20);
  if (use == MemUse::Load) {
    check_memory(label + ": loading the model", fmt::format("fp32 parameters {:.1f} MiB", params / mib), params);
    return;
  }
  check_memory(label + ": training",
               fmt::format("params {:.1f} MiB + grads {:.1f} MiB + AdamW moments {:.1f} MiB (activations are checked when planned)",
                           params / mib, params / mib, 2 * params / mib),
               4 * params);
}

void preflight_model_dir(const std::string& dir, MemUse use) {
  const std::string path = dir + "/config.json";
  const auto j = read_json_file(path);
  check(j.is_object(), "{}: not a JSON object", path);
  preflight_model_memory(j, path, use);
}

}  // namespace nanoseek
