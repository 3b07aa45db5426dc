#include "pipeline/r1.h"

#include <fmt/format.h>

#include <chrono>

#include "core/error.h"
#include "core/fs.h"
#include "data/chat_data.h"
#include "rl/grpo_stage.h"
#include "rl/rejection.h"
#include "pipeline/recipe.h"
#include "train/sft.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool done(const std::string& dir) { return file_exists(dir + "/final/config.json"); }

}  // namespace

R1ZeroResult run_r1(const std::string& recipe_path, const std::string& out, const std::vector<std::string>& sets,
                    bool quiet) {
  const double t0 = now_s();
  PipelineStart ps = start_pipeline(recipe_path, out, sets, quiet);
  R1ZeroResult res;
  if (ps.base.empty()) return res;
  const Recipe& r = ps.r;
  const std::string &base = ps.base, &task = ps.task;
  const std::vector<std::string>& levels = ps.levels;
  nlohmann::json& stages = ps.stages;
  std::vector<std::pair<std::string, nlohmann::json>> evals;
  auto eval = [&](const std::string& name, const std::string& dir) {
    const double te = now_s();
    evals.push_back({name, pipeline_eval(dir, r, task, levels, quiet, name).to_json()});
    write_file_atomic(out + "/eval_" + name + ".json", evals.back().second.dump(2) + "\n");
    stages[name + "_eval_seconds"] = now_s() - te;
  };
  eval("base", base);

  auto sft = [&](const std::string& name, const std::string& init, const std::string& data) -> bool {
    const std::string dir = out + "/" + name;
    if (done(dir)) return true;
    if (!quiet) fmt::print("== {}: SFT of {} on {}\n", name, init, data);
    SftOptions o;
    o.model_dir = init;
    o.data = data;
    o.out_dir = dir;
    o.steps = r.sft_steps;
    o.epochs = r.sft_epochs;
    o.batch_size = r.sft_batch;
    o.seq_len = r.sft_seq_len;
    o.optim.lr = r.sft_lr;
    o.optim.min_lr = r.sft_lr / 10;
    o.threads = int(r.threads);
    o.resume = true;
    o.quiet = quiet;
    const double ts = now_s();
    const SftResult sr = run_sft(o);
    stages[name + "_seconds"] = now_s() - ts;
    return sr.completed;
  };
  auto rl = [&](const std::string& name, const std::string& init, Recipe rr) -> bool {
    const std::string dir = out + "/" + name;
    if (done(dir)) return true;
    if (!quiet) fmt::print("== {}: GRPO ({}) from {}\n", name, fmt::join(rr.grpo.tasks, ","), init);
    const double ts = now_s();
    const GrpoRunResult gr = run_grpo(rr.grpo, rr, init, dir, /*resume=*/true, quiet);
    stages[name + "_seconds"] = now_s() - ts;
    return gr.completed;
  };

  // 1. cold start
  const std::string cold = out + "/cold_start.jsonl";
  if (!file_exists(cold)) {
    TaskChatOptions co;
    co.task = task;
    co.levels = levels;
    co.styles = r.cold_start_styles;
    co.n = r.cold_start_n;
    co.seed = r.grpo.seed;
    write_chat_jsonl(cold, make_task_chat(co));
  }
  if (!sft("sft-cold", base, cold)) return res;
  eval("sft-cold", out + "/sft-cold/final");

  // 2. reasoning RL
  Recipe r1 = r;
  if (r.rl1_steps > 0) r1.grpo.steps = r.rl1_steps;
  if (!rl("rl-reasoning", out + "/sft-cold/final", r1)) return res;
  eval("rl-reasoning", out + "/rl-reasoning/final");

  // 3. rejection sampling + SFT from the base on (rejection samples + cold start)
  const std::string rs = out + "/rejection.jsonl", mix = out + "/sft-rs.jsonl";
  if (!file_exists(mix)) {
    RejectionOptions ro;
    ro.model_dir = out + "/rl-reasoning/final";
    ro.task = task;
    ro.levels = levels;
    ro.problems = r.rejection_problems;
    ro.k = int(r.rejection_k);
    ro.temperature = float(r.rejection_temperature);
    ro.max_new_tokens = int(r.grpo.max_new_tokens);
    ro.seed = r.grpo.seed + 1;
    ro.out = rs;
    ro.quiet = quiet;
    const RejectionStats st = rejection_sample(ro);
    stages["rejection"] = st.to_json();
    if (!quiet) fmt::print("{}", st.summary());
    std::vector<ChatSample> all = read_chat_jsonl(rs);
    for (auto& s : read_chat_jsonl(cold)) all.push_back(std::move(s));
    write_chat_jsonl(mix, all);
  }
  if (!sft("sft-rs", base, mix)) return res;
  eval("sft-rs", out + "/sft-rs/final");

  // 4. all-round RL
  Recipe r2 = r;
  if (!r.rl2_tasks.empty()) r2.grpo.tasks = r.rl2_tasks, r2.grpo.task_weights.clear(), r2.grpo.levels.clear();
  if (!r.rl2_levels.empty()) r2.grpo.levels = r.rl2_levels;
  if (!r.rl2_rewards.empty()) r2.grpo.rewards = r.rl2_rewards, r2.grpo.reward_weights.clear();
  if (r.rl2_steps > 0) r2.grpo.steps = r.rl2_steps;
  if (!rl("rl-all", out + "/sft-rs/final", r2)) return res;
  eval("rl-all", out + "/rl-all/final");

  nlohmann::json s;
  s["before"] = evals.front().second;
  s["after"] = evals.back().second;
  s["stages_eval"] = nlohmann::json::object();
  for (auto& [name, e] : evals) s["stages_eval"][name] = e;
  s["hardest_level"] = levels.back();
  s["task"] = task;
  s["wall_seconds"] = now_s() - t0;
  s["stages"] = stages;
  s["recipe"] = recipe_path;
  s["overrides"] = sets;
  write_file_atomic(out + "/summary.json", s.dump(2) + "\n");
  res.table = eval_table(evals);
  std::string md = fmt::format("# R1 pipeline run: {}\n\nRecipe `{}`; wall time {:.0f} s.\n\n## {} by stage\n\n{}\n",
                               out, recipe_path, s["wall_seconds"].get<double>(), task, res.table);
  md += "## Reasoning RL (stage 2)\n\n" + grpo_report_section(out + "/rl-reasoning", out + "/plots/rl-reasoning",
                                                              "plots/rl-reasoning", levels.back());
  md += "\n## All-round RL (stage 4)\n\n" + grpo_report_section(out + "/rl-all", out + "/plots/rl-all",
                                                               "plots/rl-all", levels.back());
  write_file_atomic(out + "/report.md", md);
  res.summary = s;
  res.completed = true;
  return res;
}

}  // namespace nanoseek
