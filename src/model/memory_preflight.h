// Memory preflight for a model about to be allocated: its fp32 parameter count (from the config alone, nothing
// allocated) times the copies the command keeps — 1 to load (generate, eval, logits...), 4 to train (params, grads,
// two AdamW moments) — against MemAvailable (core/fs.h check_memory: an Error printing the plan in MiB and what is
// available; NANOSEEK_NO_MEM_CHECK=1 skips it). Activations are checked the same way when they are planned
// (plan_workspace, plan_dense_acts), before they are allocated.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace nanoseek {

enum class MemUse { Load, Train };
void preflight_model_memory(const nlohmann::json& config, const std::string& label, MemUse use);
void preflight_model_dir(const std::string& dir, MemUse use);   // dir/config.json

}  // namespace nanoseek
