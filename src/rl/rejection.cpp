#include "rl/rejection.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/stop.h"
#include "data/chat_data.h"
#include "infer/engine.h"
#include "infer/session.h"
#include "rl/rewards.h"
#include "tasks/problem_json.h"

namespace nanoseek {

bool accept_completion(const Task& task, const Problem& p, std::string_view assistant) {
  return accuracy_reward(task, p, assistant).value == 1.0 && format_reward(assistant).value == 1.0;
}

std::vector<std::string> select_completions(const Task& task, const Problem& p, const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& t : texts)
    if (accept_completion(task, p, t) && seen.insert(t).second) out.push_back(t);
  return out;
}

nlohmann::json RejectionStats::to_json() const {
  nlohmann::json j = {{"problems", problems}, {"samples", samples}, {"accepted", accepted}, {"kept", kept},
                      {"duplicates", duplicates}, {"problems_with_kept", problems_with_kept},
                      {"keep_rate", keep_rate()}, {"seconds", seconds}, {"by_level", nlohmann::json::object()}};
  for (const auto& l : by_level)
    j["by_level"][l.level] = {{"problems", l.problems}, {"samples", l.samples}, {"kept", l.kept},
                              {"problems_with_kept", l.problems_with_kept}, {"keep_rate", l.keep_rate()}};
  return j;
}

std::string RejectionStats::summary() const {
  std::string s = fmt::format("rejection sampling: {} problems x {} = {} samples; accepted {} ({} exact duplicates "
                              "dropped), kept {} ({:.1f}%); {} problems with >= 1 kept; {:.1f}s\n",
                              problems, problems ? samples / problems : 0, samples, accepted, duplicates, kept,
                              100 * keep_rate(), problems_with_kept, seconds);
  for (const auto& l : by_level)
    s += fmt::format("  {}: {} problems, kept {}/{} ({:.1f}%), {} problems with >= 1 kept\n", l.level, l.problems,
                     l.kept, l.samples, 100 * l.keep_rate(), l.problems_with_kept);
  return s;
}

RejectionStats rejection_sample(const RejectionOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  check(!o.model_dir.empty() && !o.out.empty(), "rejection-sample: model dir and output file are required");
  check(o.k >= 1 && o.problems >= 1, "rejection-sample: k ({}) and problems per level ({}) must be >= 1", o.k,
        o.problems);
  check(o.max_new_tokens >= 1 && o.max_batch >= 1, "rejection-sample: max_new_tokens and max_batch must be >= 1");
  check(o.temperature >= 0 && o.top_p > 0 && o.top_p <= 1,
        "rejection-sample: temperature ({}) must be >= 0 and top_p ({}) in (0, 1]", o.temperature, o.top_p);
  auto task = make_task(o.task);
  const auto known = task->levels();
  const std::vector<std::string> levels = o.levels.empty() ? known : o.levels;
  for (const auto& l : levels)
    check(std::find(known.begin(), known.end(), l) != known.end(), "rejection-sample: task {} has no level '{}'",
          o.task, l);

  // Either architecture; the tokenizer and the stop ids (EOS and end-of-turn tokens) as every sampler uses them.
  const TextModel tm = load_text_model(o.model_dir);
  const LanguageModel& model = *tm.model;
  const Tokenizer& tok = tm.tok;
  const ChatRendering rendering = rendering_for_model(o.model_dir, tok, o.rendering);
  const std::vector<int32_t>& stop = tm.stop_ids;
  check(!stop.empty(), "{}: the tokenizer has no EOS or end-of-turn token to stop generation", o.model_dir);

  // Problems (deterministic in the seed, as rl/evaluate.cpp draws them) and their prompts.
  std::vector<Problem> problems;
  std::vector<size_t> level_of;
  for (size_t li = 0; li < levels.size(); ++li) {
    uint64_t state = o.seed * 1000003 + li;
    for (int64_t i = 0; i < o.problems; ++i) {
      problems.push_back(sample_problem(*task, levels[li], o.split, state));
      level_of.push_back(li);
    }
  }
  std::vector<GenerationPrompt> gps;
  std::vector<std::vector<int32_t>> prompts;
  int64_t max_prompt = 0;
  for (const Problem& p : problems) {
    gps.push_back(generation_prompt(rendering, p.question));
    prompts.push_back(tok.encode(gps.back().prompt));
    max_prompt = std::max<int64_t>(max_prompt, int64_t(prompts.back().size()));
  }
  const int64_t max_len = std::min<int64_t>(max_prompt + o.max_new_tokens, model.max_positions());
  check(max_prompt < max_len, "rejection-sample: a prompt of {} tokens leaves no room under the model's {} positions",
        max_prompt, model.max_positions());
  const int64_t slots = sample_slots(o.max_batch, int64_t(problems.size()), o.k);
  Engine engine(model, slots, max_len);

  RejectionStats st;
  st.problems = int64_t(problems.size());
  for (const auto& l : levels) st.by_level.push_back({l});
  std::vector<ChatSample> kept;
  const SamplingParams sp = protocol_sampling(o, tok.vocab_size(), stop);
  generate_batched(engine, slots, prompts, o.k, sp, [&](size_t p0, size_t p1, std::vector<Completion>& outs) {
    std::vector<std::vector<std::string>> texts(p1 - p0);
    for (const Completion& c : outs) {
      const size_t pi = p0 + size_t(c.prompt_index);
      texts[pi - p0].push_back(gps[pi].content(tok.decode(completion_body(c, stop))));
    }
    for (size_t pi = p0; pi < p1; ++pi) {
      const Problem& p = problems[pi];
      const auto& mine = texts[pi - p0];
      int64_t accepted = 0;
      for (const auto& t : mine) accepted += accept_completion(*task, p, t);
      const std::vector<std::string> sel = select_completions(*task, p, mine);
      RejectionLevelStats& ls = st.by_level[level_of[pi]];
      ls.problems += 1;
      ls.samples += int64_t(mine.size());
      ls.kept += int64_t(sel.size());
      ls.problems_with_kept += !sel.empty();
      st.samples += int64_t(mine.size());
      st.accepted += accepted;
      st.kept += int64_t(sel.size());
      st.duplicates += accepted - int64_t(sel.size());
      st.problems_with_kept += !sel.empty();
      for (const auto& t : sel) {
        ChatSample s;
        s.messages = {{"user", p.question}, {"assistant", t}};
        s.meta = {{"problem", problem_to_json(p)}, {"level", p.level}};
        kept.push_back(std::move(s));
      }
    }
    // in a StopOnSignals scope (the CLI's, a pipeline's), Ctrl-C / SIGTERM stop here; the output is not written
    throw_if_stop_requested(fmt::format("rejection-sample stopped after {}/{} problems; {} not written", p1,
                                        problems.size(), o.out));
    if (!o.quiet)
      std::fprintf(stderr, "\rrejection-sample %s: %zu/%zu problems, kept %lld   ", o.task.c_str(), p1,
                   problems.size(), (long long)st.kept);
  });
  if (!o.quiet) std::fprintf(stderr, "\n");
  write_chat_jsonl(o.out, kept);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace nanoseek
