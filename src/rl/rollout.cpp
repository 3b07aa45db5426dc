// Sampling, scoring and reporting one rollout; see rollout.h.
#include "rl/rollout.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "rl/grpo.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// level → (Σ accuracy-reward values, samples); empty when "accuracy" is not among the reward functions.
std::map<std::string, std::pair<double, int64_t>> accuracy_by_level(const Rollout& ro, const GrpoSpec& s) {
  std::map<std::string, std::pair<double, int64_t>> acc;
  const auto it = std::find(s.rewards.begin(), s.rewards.end(), "accuracy");
  if (it == s.rewards.end()) return acc;
  const std::vector<double>& part = ro.parts[size_t(it - s.rewards.begin())];
  for (size_t i = 0; i < ro.comps.size(); ++i) {
    auto& a = acc[ro.problems[i / size_t(s.group)].level];
    a.first += part[i], a.second += 1;
  }
  return acc;
}

}  // namespace

std::vector<int64_t> token_offsets(const Rollout& ro) {
  std::vector<int64_t> off{0};
  for (const Completion& c : ro.comps) off.push_back(off.back() + int64_t(c.tokens.size()));
  return off;
}

Rollout sample_rollout(const GrpoSpec& s, std::span<const std::unique_ptr<Task>> tasks, const Tokenizer& tok,
                       PromptFormat fmt, Engine& engine, int64_t max_positions, int64_t step) {
  const double t0 = now_s();
  const int64_t P = s.prompts, G = s.group, S = P * G;
  Rollout ro;
  // problems: task by weight, level uniform, train split; a pure function of (seed, step)
  Rng rng = Rng::derive(s.seed, uint64_t(step));
  double wsum = 0;
  for (size_t i = 0; i < tasks.size(); ++i) wsum += s.task_weights.empty() ? 1.0 : s.task_weights[i];
  for (int64_t i = 0; i < P; ++i) {
    double u = rng.uniform() * wsum;
    size_t ti = 0;
    for (; ti + 1 < tasks.size(); ++ti) {
      u -= s.task_weights.empty() ? 1.0 : s.task_weights[ti];
      if (u < 0) break;
    }
    const auto lv = s.levels.empty() ? tasks[ti]->levels() : s.levels;
    const std::string& level = lv[rng.below(lv.size())];
    uint64_t st = rng.next();
    ro.problems.push_back(sample_problem(*tasks[ti], level, Split::Train, st));
    ro.task_of.push_back(int(ti));
    ro.prompts.push_back(tok.encode(prompt_text(fmt, ro.problems.back().question)));
    check(int64_t(ro.prompts.back().size()) + s.max_new_tokens <= max_positions,
          "grpo: prompt ({} tokens) + max_new_tokens ({}) exceeds max_position_embeddings {}",
          ro.prompts.back().size(), s.max_new_tokens, max_positions);
  }
  // completions: G per prompt, temperature/top-p sampling, the log-probs recorded as π_old
  GenerateRequest req;
  req.prompts = ro.prompts;
  req.n = int(G);
  req.sampling.temperature = float(s.temperature);
  req.sampling.top_p = float(s.top_p);
  req.sampling.max_new_tokens = int(s.max_new_tokens);
  req.sampling.seed = Rng::derive(s.seed ^ 0x5eed5eedULL, uint64_t(step)).next();
  req.sampling.vocab_limit = tok.vocab_size();
  if (tok.eos_id() >= 0) req.sampling.stop_ids = {tok.eos_id()};
  auto outs = engine.generate(req);
  check(int64_t(outs.size()) == S, "grpo: the engine returned {} completions for {} requested", outs.size(), S);
  ro.comps.resize(size_t(S));
  for (auto& c : outs) ro.comps[size_t(c.prompt_index) * size_t(G) + size_t(c.sample_index)] = std::move(c);
  ro.t_sample = now_s() - t0;
  return ro;
}

void score_rollout(Rollout& ro, const GrpoSpec& s, std::span<const std::unique_ptr<Task>> tasks,
                   std::span<const RewardFn> fns, const Tokenizer& tok) {
  const double t0 = now_s();
  const size_t S = ro.comps.size(), G = size_t(s.group), nf = fns.size();
  check(S == ro.problems.size() * G, "grpo: a rollout of {} problems has {} completions (G = {})",
        ro.problems.size(), S, G);
  ro.parts.assign(nf, std::vector<double>(S));
  ro.rewards.assign(S, 0.f);
  ro.texts.resize(S);
  for (size_t i = 0; i < S; ++i) {
    const Problem& p = ro.problems[i / G];
    const Task& task = *tasks[size_t(ro.task_of[i / G])];
    // special tokens stay (<think>, <answer> are special in our tokenizers); only the final EOS is dropped
    std::span<const int32_t> body(ro.comps[i].tokens);
    if (!body.empty() && body.back() == tok.eos_id()) body = body.first(body.size() - 1);
    ro.texts[i] = tok.decode(body);
    double r = 0;
    for (size_t f = 0; f < nf; ++f) {
      ro.parts[f][i] = fns[f](task, p, ro.texts[i]).value;
      r += s.reward_weights[f] * ro.parts[f][i];
    }
    ro.rewards[i] = float(r);
  }
  ro.frac_zero_std = frac_zero_std_groups(ro.rewards, int(G));
  ro.t_score = now_s() - t0;
}

std::map<std::string, double> rollout_metrics(const Rollout& ro, const GrpoSpec& s) {
  const int64_t P = int64_t(ro.problems.size()), G = s.group, S = P * G;
  std::map<std::string, double> mt;
  double rsum = 0, std_sum = 0;
  for (int64_t g = 0; g < P; ++g) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < G; ++j) mean += ro.rewards[size_t(g * G + j)];
    mean /= double(G);
    for (int64_t j = 0; j < G; ++j) var += std::pow(ro.rewards[size_t(g * G + j)] - mean, 2);
    std_sum += G > 1 ? std::sqrt(var / double(G - 1)) : 0.0;
    rsum += mean * double(G);
  }
  mt["reward"] = rsum / double(S);
  mt["reward_std"] = std_sum / double(P);  // mean within-group std, as TRL logs it
  for (size_t f = 0; f < ro.parts.size(); ++f) {
    double a = 0;
    for (double v : ro.parts[f]) a += v;
    mt["rewards/" + s.rewards[f] + "/mean"] = a / double(S);
  }
  mt["frac_reward_zero_std"] = ro.frac_zero_std;
  int64_t len_sum = 0, len_max = 0, len_min = INT64_MAX, clipped = 0, term_sum = 0;
  std::map<std::string, std::pair<double, int64_t>> len_by_level;
  for (int64_t i = 0; i < S; ++i) {
    const int64_t n = int64_t(ro.comps[size_t(i)].tokens.size());
    len_sum += n;
    len_max = std::max(len_max, n);
    len_min = std::min(len_min, n);
    if (ro.comps[size_t(i)].finish_reason == "length") ++clipped;
    else term_sum += n;
    const std::string& lv = ro.problems[size_t(i / G)].level;
    len_by_level[lv].first += double(n), len_by_level[lv].second += 1;
  }
  mt["completions/mean_length"] = double(len_sum) / double(S);
  mt["completions/max_length"] = double(len_max);
  mt["completions/min_length"] = double(len_min);
  mt["completions/clipped_ratio"] = double(clipped) / double(S);
  mt["completions/mean_terminated_length"] = clipped < S ? double(term_sum) / double(S - clipped) : 0.0;
  for (auto& [lv, v] : len_by_level) mt["completions/mean_length/" + lv] = v.first / double(v.second);
  for (auto& [lv, v] : accuracy_by_level(ro, s)) mt["rewards/accuracy/" + lv] = v.first / double(v.second);
  mt["time/rollout"] = ro.t_sample;
  mt["time/reward"] = ro.t_score;
  return mt;
}

void log_completions(const Rollout& ro, const GrpoSpec& s, std::span<const float> seq_adv, int64_t step,
                     const std::string& path) {
  const int64_t G = s.group, S = int64_t(ro.comps.size());
  std::string lines;
  for (int64_t i = 0; i < std::min<int64_t>(S, 2 * G); i += std::max<int64_t>(1, G / 2)) {
    nlohmann::json j = {{"step", step}, {"question", ro.problems[size_t(i / G)].question},
                        {"level", ro.problems[size_t(i / G)].level}, {"completion", ro.texts[size_t(i)]},
                        {"reward", ro.rewards[size_t(i)]}, {"advantage", seq_adv[size_t(i)]}};
    for (size_t fi = 0; fi < ro.parts.size(); ++fi) j["rewards/" + s.rewards[fi]] = ro.parts[fi][size_t(i)];
    lines += (lines.empty() ? "" : "\n") + j.dump();
  }
  if (!lines.empty()) append_line(path, lines);   // an Error naming the file when the write fails (a full disk)
}

void print_rollout_progress(const Rollout& ro, const GrpoSpec& s, const std::map<std::string, double>& mt,
                            int64_t step) {
  std::string acc;
  for (auto& [lv, v] : accuracy_by_level(ro, s)) acc += fmt::format(" {} {:.2f}", lv, v.first / double(v.second));
  fmt::print("rollout {}: reward {:.3f} (std {:.3f}, zero-std groups {:.2f}) | len {:.0f} (clipped {:.2f}) |{}{} | "
             "{:.1f}s gen {:.2f}s reward\n",
             step, mt.at("reward"), mt.at("reward_std"), ro.frac_zero_std, mt.at("completions/mean_length"),
             mt.at("completions/clipped_ratio"), acc.empty() ? "" : " accuracy", acc, ro.t_sample, ro.t_score);
  std::fflush(stdout);
}

}  // namespace nanoseek
