#include "pipeline/r1zero.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/stop.h"
#include "infer/session.h"
#include "model/model.h"
#include "report/svg.h"
#include "train/eval.h"
#include "rl/grpo_stage.h"
#include "train/pretrain.h"
#include "pipeline/recipe.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> rows;
  if (!file_exists(path)) return rows;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j;
    try {
      j = parse_json_line(line, path);
    } catch (const Error&) {
      continue;   // a line cut short by an interrupted run: skipped, like the trainer does
    }
    if (j.is_object() && j.contains("step")) rows.push_back(std::move(j));
  }
  return rows;
}

// Trailing moving average over `w` steps: per-step rollout metrics are noisy (16 prompts a step).
Series smoothed(const std::vector<nlohmann::json>& rows, const std::string& key, const std::string& name, int w) {
  Series s{name, {}};
  std::vector<double> win;
  for (const auto& r : rows) {
    if (!r.contains(key) || !r[key].is_number()) continue;
    win.push_back(r[key].get<double>());
    if (int(win.size()) > w) win.erase(win.begin());
    double m = 0;
    for (double v : win) m += v;
    s.points.push_back({r["step"].get<double>(), m / double(win.size())});
  }
  return s;
}

std::vector<std::string> level_keys(const std::vector<nlohmann::json>& rows, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& r : rows)
    for (auto& [k, v] : r.items())
      if (k.rfind(prefix, 0) == 0 && std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

EvalReport pipeline_eval(const std::string& dir, const Recipe& r, const std::string& task,
                         const std::vector<std::string>& levels, bool quiet, const std::string& label) {
  EvalOptions o;
  o.task = task;
  o.levels = levels;
  o.problems_per_level = r.r1_problems;
  o.k = int(r.r1_k);
  o.max_new_tokens = int(r.r1_max_new_tokens > 0 ? r.r1_max_new_tokens : r.grpo.max_new_tokens);
  o.split = Split::Test;
  o.format = model_prompt_format(dir);
  o.seed = 12345;  // before and after see the same problems and sampling streams
  const double t0 = now_s();
  auto progress = [&](int64_t done, int64_t total) {
    // in the pipeline's StopOnSignals scope: nothing of this evaluation is kept, --resume redoes it
    throw_if_stop_requested(fmt::format("stopped while evaluating {} ({}/{} problems); continue with: {}", label,
                                        done, total, resume_hint()));
    if (quiet) return;
    const double el = now_s() - t0;
    std::fprintf(stderr, "\reval %s: %lld/%lld problems  %.0fs  ETA %.0fs   ", label.c_str(), (long long)done,
                 (long long)total, el, done ? el * double(total - done) / double(done) : 0.0);
    if (done == total) std::fprintf(stderr, "\n");
  };
  // the base may be a dense Qwen2/Llama model (a dense base recipe, or grpo.init naming one)
  return evaluate(load_text_model(dir), o, progress);
}

namespace {

std::string before_after_table(const nlohmann::json& before, const nlohmann::json& after) {
  std::string t = "| level | pass@1 before | pass@1 after | cons@k before | cons@k after | pass@k before | pass@k after "
                  "| tokens before | tokens after |\n|---|---|---|---|---|---|---|---|---|\n";
  auto row = [&](const std::string& name, const nlohmann::json& b, const nlohmann::json& a) {
    t += fmt::format("| {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% | {:.0f} | {:.0f} |\n", name,
                     100 * b["pass@1"].get<double>(), 100 * a["pass@1"].get<double>(), 100 * b["cons@k"].get<double>(),
                     100 * a["cons@k"].get<double>(), 100 * b["pass@k"].get<double>(),
                     100 * a["pass@k"].get<double>(), b["mean_response_tokens"].get<double>(),
                     a["mean_response_tokens"].get<double>());
  };
  for (auto& [lv, b] : before["by_difficulty"].items()) row(lv, b, after["by_difficulty"][lv]);
  row("all", before, after);
  return t + fmt::format("\nk = {} samples per problem at temperature 0.6, top-p 0.95; {} held-out test problems.\n",
                         before["k"].get<int>(), before["n_problems"].get<int64_t>());
}

}  // namespace

std::string grpo_report_section(const std::string& grpo_dir, const std::string& plots_dir, const std::string& rel,
                                const std::string& hardest) {
  const auto rows = read_metrics(grpo_dir + "/metrics.jsonl");
  if (rows.empty()) return "(no metrics)\n";
  make_dirs(plots_dir);
  const int w = std::max<int>(1, int(rows.size()) / 15);
  std::string md;
  auto add = [&](const std::string& file, Chart c) {
    write_file_atomic(plots_dir + "/" + file, render_svg(c));
    md += fmt::format("![{}]({}/{})\n\n", c.title, rel, file);
  };
  Chart reward{"Reward per rollout", "step", "mean reward", {}};
  reward.series.push_back(smoothed(rows, "reward", "reward", w));
  for (const auto& k : level_keys(rows, "rewards/") )
    if (k.ends_with("/mean")) reward.series.push_back(smoothed(rows, k, k.substr(8, k.size() - 13), w));
  add("reward.svg", reward);
  Chart acc{"Rollout accuracy by level", "step", "share correct", {}};
  for (const auto& k : level_keys(rows, "rewards/accuracy/"))
    if (!k.ends_with("/mean")) acc.series.push_back(smoothed(rows, k, k.substr(17), w));
  for (const auto& k : level_keys(rows, "eval/"))
    if (k.find("/pass@1/") != std::string::npos) acc.series.push_back(smoothed(rows, k, "val " + k.substr(k.rfind('/') + 1), 1));
  if (!acc.series.empty()) add("accuracy.svg", acc);
  Chart len{"Response length (tokens)", "step", "mean completion tokens", {}};
  for (const auto& k : level_keys(rows, "completions/mean_length/")) len.series.push_back(smoothed(rows, k, k.substr(24), w));
  len.series.push_back(smoothed(rows, "completions/mean_length", "all", w));
  add("length.svg", len);
  md += fmt::format("Curves are trailing means over {} steps (rollout metrics of {} steps; hardest level {}).\n", w,
                    rows.size(), hardest);
  return md;
}

namespace {

std::string pipeline_base(const Recipe& r, const std::string& recipe_path, const std::string& out,
                          const std::vector<std::string>& sets, bool quiet, nlohmann::json& stages) {
  std::string base = r.grpo.init;
  if (!base.empty()) return base;
  base = out + "/base/final";
  if (file_exists(base + "/config.json")) {
    if (!quiet) fmt::print("== base: reusing {}\n", base);
    return base;
  }
  // the base recipe: r1zero.base_recipe (looked up beside this recipe too), or this very file
  std::string br = r.r1_base_recipe.empty() ? recipe_path : r.r1_base_recipe;
  const std::string beside = (std::filesystem::path(recipe_path).parent_path() / br).string();
  if (!file_exists(br) && file_exists(beside)) br = beside;
  check(file_exists(br), "{}: r1zero.base_recipe '{}' not found", recipe_path, br);
  std::vector<std::string> base_sets;  // overrides of the pretraining sections go to the base run
  for (const auto& x : sets)
    if (x.rfind("grpo.", 0) != 0 && x.rfind("r1zero.", 0) != 0 && x.rfind("r1.", 0) != 0) base_sets.push_back(x);
  if (!quiet) fmt::print("== base: pretraining {} into {}/base\n", br, out);
  const double tb = now_s();
  const PretrainResult pr = pretrain_recipe(br, out + "/base", base_sets, /*resume=*/true, quiet);
  if (!pr.completed) return "";
  stages["base_seconds"] = now_s() - tb;
  return base;
}

}  // namespace

PipelineStart start_pipeline(const std::string& recipe_path, const std::string& out,
                             const std::vector<std::string>& sets, bool quiet) {
  PipelineStart p;
  p.r = load_recipe(recipe_path);
  for (const auto& s : sets) apply_override(p.r, s);
  make_dirs(out);
  p.base = pipeline_base(p.r, recipe_path, out, sets, quiet, p.stages);
  p.task = p.r.r1_task.empty() ? p.r.grpo.tasks.at(0) : p.r.r1_task;
  p.levels = p.r.r1_levels.empty() ? make_task(p.task)->levels() : p.r.r1_levels;
  return p;
}

std::string eval_table(const std::vector<std::pair<std::string, nlohmann::json>>& evals) {
  std::string t = "| level |";
  for (auto& [name, e] : evals) t += " " + name + " |";
  t += "\n|---|";
  for (size_t i = 0; i < evals.size(); ++i) t += "---|";
  t += "\n";
  for (auto& [lv, x] : evals.front().second["by_difficulty"].items()) {
    t += "| " + lv + " pass@1 |";
    for (auto& [name, e] : evals) t += fmt::format(" {:.1f}% |", 100 * e["by_difficulty"][lv]["pass@1"].get<double>());
    t += "\n";
  }
  for (const char* k : {"pass@1", "cons@k", "pass@k"}) {
    t += fmt::format("| all {} |", k);
    for (auto& [name, e] : evals) t += fmt::format(" {:.1f}% |", 100 * e[k].get<double>());
    t += "\n";
  }
  t += "| mean tokens |";
  for (auto& [name, e] : evals) t += fmt::format(" {:.0f} |", e["mean_response_tokens"].get<double>());
  return t + "\n";
}

R1ZeroResult run_r1zero(const std::string& recipe_path, const std::string& out, const std::vector<std::string>& sets,
                        bool quiet) {
  const double t0 = now_s();
  // 1. base model
  PipelineStart ps = start_pipeline(recipe_path, out, sets, quiet);
  R1ZeroResult res;
  if (ps.base.empty()) return res;
  const Recipe& r = ps.r;
  const std::string &base = ps.base, &task = ps.task;
  const std::vector<std::string>& levels = ps.levels;
  nlohmann::json& stages = ps.stages;
  const std::string hardest = levels.back();

  // 2. before
  double te = now_s();
  const nlohmann::json before = pipeline_eval(base, r, task, levels, quiet, "before").to_json();
  write_file_atomic(out + "/eval_before.json", before.dump(2) + "\n");
  double eval_s = now_s() - te;

  // 3. GRPO
  if (!quiet) fmt::print("== grpo: {} steps from {}\n", r.grpo.steps, base);
  const double tg = now_s();
  const GrpoRunResult gr = run_grpo(r.grpo, r, base, out + "/grpo", /*resume=*/true, quiet);
  if (!gr.completed) return res;
  stages["grpo_seconds"] = now_s() - tg;

  // 4. after
  te = now_s();
  const nlohmann::json after = pipeline_eval(out + "/grpo/final", r, task, levels, quiet, "after").to_json();
  write_file_atomic(out + "/eval_after.json", after.dump(2) + "\n");
  eval_s += now_s() - te;
  stages["eval_seconds"] = eval_s;

  // 5. summary + report
  nlohmann::json s;
  s["before"] = before;
  s["after"] = after;
  s["hardest_level"] = hardest;
  s["task"] = task;
  s["wall_seconds"] = now_s() - t0;
  s["stages"] = stages;
  s["base"] = base;
  s["recipe"] = recipe_path;
  s["overrides"] = sets;
  write_file_atomic(out + "/summary.json", s.dump(2) + "\n");
  res.table = before_after_table(before, after);
  std::string timing;
  for (auto& [k, v] : stages.items()) timing += fmt::format("{}{} {:.0f} s", timing.empty() ? "" : ", ", k, v.get<double>());
  std::string md = fmt::format("# R1-Zero run: {}\n\nRecipe `{}`{}; base `{}`; wall time {:.0f} s ({}).\n\n"
                               "## Before / after GRPO: {}, {} held-out test problems per level\n\n{}\n"
                               "## Training curves\n\n",
                               out, recipe_path, sets.empty() ? "" : fmt::format(" with {}", fmt::join(sets, " ")),
                               base, s["wall_seconds"].get<double>(), timing, task, r.r1_problems, res.table);
  md += grpo_report_section(out + "/grpo", out + "/plots", "plots", hardest);
  write_file_atomic(out + "/report.md", md);
  res.summary = s;
  res.completed = true;
  return res;
}

}  // namespace nanoseek
