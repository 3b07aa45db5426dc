// The R1-Zero pipeline (R1 §2.2): a base model (the recipe's pretraining, run first unless grpo.init names one) →
// evaluation by the R1 protocol → GRPO with rule rewards → the same evaluation, plus a report.
//   OUT/base/...            pretraining run (skipped when grpo.init is set; reused when OUT/base/final exists)
//   OUT/grpo/...            GRPO run (metrics.jsonl, completions.jsonl, final/)
//   OUT/eval_before.json/.md, OUT/eval_after.json/.md
//   OUT/summary.json        {before, after, hardest_level, wall_seconds, ...}
//   OUT/report.md + OUT/plots/*.svg   reward, accuracy and response length over steps; before/after tables
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nanoseek {

struct R1ZeroResult {
  bool completed = false;
  nlohmann::json summary;
  std::string table;  // before/after Markdown table
};

R1ZeroResult run_r1zero(const std::string& recipe_path, const std::string& out_dir,
                        const std::vector<std::string>& overrides, bool quiet = false);

// Report of a GRPO run directory (its metrics.jsonl): SVG plots into plots_dir and a Markdown section referencing
// them by `plots_rel` (their path relative to the report). Returns the Markdown.
std::string grpo_report_section(const std::string& grpo_dir, const std::string& plots_dir, const std::string& plots_rel,
                                const std::string& hardest_level);

}  // namespace nanoseek
