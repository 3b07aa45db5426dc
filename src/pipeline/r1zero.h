// The R1-Zero pipeline (R1 §2.2): a base model (the recipe's pretraining, run first unless grpo.init names one) →
// evaluation by the R1 protocol → GRPO with rule rewards → the same evaluation, plus a report.
//   OUT/base/...            pretraining run (skipped when grpo.init is set; reused when OUT/base/final exists)
//   OUT/grpo/...            GRPO run (metrics.jsonl, completions.jsonl, final/)
//   OUT/eval_before.json/.md, OUT/eval_after.json/.md
//   OUT/summary.json        {before, after, hardest_level, wall_seconds, ...}
//   OUT/report.md + OUT/plots/*.svg   reward, accuracy and response length over steps; before/after tables
//
// Departures from R1-Zero (R1 §2.2), beyond those of the GRPO stage (rl/grpo_stage.h, rl/rl_stage.h):
//  1. The base is a tiny model pretrained on our synthetic task corpus (data/corpus.h), whose solutions are mostly
//     rendered in the <think>…</think><answer>…</answer> shape already: the base has seen the output format in
//     pretraining, where DeepSeek-V3-Base met it only in the RL prompt. RL here sharpens an existing habit more than
//     it discovers one.
//  2. Tasks are generated arithmetic and countdown problems at named difficulty levels, not math/code datasets;
//     before and after are evaluated on the held-out test split of the same generators (not AIME / MATH-500).
//  3. The prompt is the model's own format (eval.json: the R1-Zero template of R1 Table 1, or "plain"
//     "User: …\nAssistant:").
//  4. Before and after use the same evaluation seed (12345): the same problems and sampling streams, so the
//     difference is the policy's; R1 reports the training curve of pass@1 over 16 samples per question.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/eval.h"
#include "pipeline/recipe.h"

namespace nanoseek {

struct R1ZeroResult {
  bool completed = false;
  nlohmann::json summary;
  std::string table;  // before/after Markdown table
};

R1ZeroResult run_r1zero(const std::string& recipe_path, const std::string& out_dir,
                        const std::vector<std::string>& overrides, bool quiet = false);

// Pieces shared with the four-stage R1 pipeline (pipeline/r1.h).
// The common start: the recipe with its overrides, OUT created, the base model directory — grpo.init, or
// OUT/base/final (pretrained with r1zero.base_recipe first if missing; base is "" when that pretraining was
// interrupted) — and the evaluated task and levels ([r1zero] task/levels, defaulting to grpo.tasks[0] and all its
// levels). stages["base_seconds"] is set when the base trains.
struct PipelineStart {
  Recipe r;
  std::string base, task;
  std::vector<std::string> levels;
  nlohmann::json stages = nlohmann::json::object();
};
PipelineStart start_pipeline(const std::string& recipe_path, const std::string& out,
                             const std::vector<std::string>& overrides, bool quiet);
// The R1-protocol evaluation of a model dir on the [r1zero] task/levels/problems/k (held-out test split, fixed seed).
EvalReport pipeline_eval(const std::string& dir, const Recipe& r, const std::string& task,
                                const std::vector<std::string>& levels, bool quiet, const std::string& label);
// Markdown: one column per (name, eval JSON), pass@1 per level, overall pass@1/cons@k/pass@k, mean tokens.
std::string eval_table(const std::vector<std::pair<std::string, nlohmann::json>>& evals);

// Report of a GRPO run directory (its metrics.jsonl): SVG plots into plots_dir and a Markdown section referencing
// them by `plots_rel` (their path relative to the report). Returns the Markdown.
std::string grpo_report_section(const std::string& grpo_dir, const std::string& plots_dir, const std::string& plots_rel,
                                const std::string& hardest_level);

}  // namespace nanoseek
