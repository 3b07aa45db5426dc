#include "train/eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>

#include "core/error.h"
#include "infer/session.h"

#include "data/loader.h"
#include "infer/engine.h"
#include "tasks/answer.h"

namespace nanoseek {

std::map<std::string, double> validation_loss(const LanguageModel& m, const Shard& shard, int64_t B, int64_t T,
                                              int64_t n_batches, Pack pack) {
  DataLoader dl(shard, B, T, 0, /*shuffle=*/false, pack);
  n_batches = std::min(n_batches, std::max<int64_t>(1, dl.windows() / B));
  const std::unique_ptr<Activations> acts = m.plan(B, T, false);
  const LossConfig lc{m.has_mtp() ? 1.0 : 0.0, 0.0};
  double ce = 0, mtp = 0;
  int64_t n = 0, nm = 0;
  for (int64_t i = 0; i < n_batches; ++i) {
    const StepStats s = m.forward(dl.next(), *acts, lc);
    ce += s.ce * double(s.ce_count);
    n += s.ce_count;
    if (!s.mtp_ce.empty()) {
      mtp += s.mtp_ce[0] * double(s.mtp_count[0]);
      nm += s.mtp_count[0];
    }
  }
  std::map<std::string, double> out{{"val_loss", n ? ce / double(n) : 0.0}};
  if (nm) out["val_mtp_loss"] = mtp / double(nm);
  return out;
}

std::map<std::string, double> task_accuracy(const LanguageModel& m, const Tokenizer& tok, const AccuracyOptions& o) {
  struct Item {
    const Task* task;
    Problem p;
  };
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<Item> items;
  for (const auto& name : o.tasks) {
    tasks.push_back(make_task(name));
    for (const auto& level : tasks.back()->levels()) {
      if (!o.levels.empty() && std::find(o.levels.begin(), o.levels.end(), level) == o.levels.end()) continue;
      uint64_t state = o.seed ^ hash_string(name + "/" + level);
      for (int64_t i = 0; i < o.problems_per_level; ++i)
        items.push_back({tasks.back().get(), sample_problem(*tasks.back(), level, o.split, state)});
    }
  }
  std::map<std::string, double> out;
  if (items.empty()) return out;
  GenerateRequest req;
  int64_t max_prompt = 0;
  for (const auto& it : items) {
    req.prompts.push_back(tok.encode(prompt_text(o.format, it.p.question)));
    max_prompt = std::max<int64_t>(max_prompt, int64_t(req.prompts.back().size()));
  }
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = o.max_new_tokens;
  if (tok.eos_id() >= 0) req.sampling.stop_ids = {tok.eos_id()};
  const int64_t max_len = std::min<int64_t>(m.max_positions(), max_prompt + o.max_new_tokens);
  Engine eng(m, std::min<int64_t>(o.max_batch, int64_t(items.size())), max_len);
  const std::vector<Completion> comps = eng.generate(req);

  std::map<std::string, std::pair<int64_t, int64_t>> by;  // key -> (correct, total)
  int64_t fmt_ok = 0, gen = 0;
  for (const auto& c : comps) {
    const Item& it = items[c.prompt_index];
    std::vector<int32_t> toks = c.tokens;
    if (!toks.empty() && toks.back() == tok.eos_id()) toks.pop_back();
    const std::string text = tok.decode(toks);
    const bool ok = it.task->verify(it.p, text) == Verdict::Correct;
    for (const std::string& k : {"acc/" + it.p.task + "/" + it.p.level, "acc/" + it.p.level, std::string("acc")}) {
      by[k].first += ok;
      by[k].second += 1;
    }
    fmt_ok += has_r1_format(text);
    gen += int64_t(c.tokens.size());
  }
  for (auto& [k, v] : by) out[k] = double(v.first) / double(v.second);
  out["format_ok"] = double(fmt_ok) / double(comps.size());
  out["gen_tokens"] = double(gen) / double(comps.size());
  return out;
}

// ---------------------------------------------------------------- the R1 protocol


double pass_at_k(int64_t n, int64_t c, int64_t k) {
  check(k >= 1 && k <= n, "pass@k needs 1 <= k <= n (k = {}, n = {})", k, n);
  if (n - c < k) return 1.0;
  double miss = 1.0;  // C(n−c, k)/C(n, k) as a product, stable for large n
  for (int64_t i = n - c + 1; i <= n; ++i) miss *= 1.0 - double(k) / double(i);
  return 1.0 - miss;
}

nlohmann::json EvalStats::to_json() const {
  return {{"k", k}, {"pass@1", pass1}, {"pass@k", passk}, {"cons@k", consk}, {"n_problems", n_problems},
          {"mean_response_tokens", mean_response_tokens}};
}

nlohmann::json EvalReport::to_json() const {
  nlohmann::json j = overall.to_json();
  j["task"] = options.task;
  j["n_samples"] = options.n ? options.n : options.k;
  j["temperature"] = options.temperature;
  j["top_p"] = options.top_p;
  j["by_difficulty"] = nlohmann::json::object();
  for (const auto& [level, st] : by_level) j["by_difficulty"][level] = st.to_json();
  return j;
}

std::string EvalReport::markdown() const {
  std::string s = fmt::format("| {} | problems | pass@1 | pass@{} | cons@{} | mean tokens |\n|---|---|---|---|---|---|\n",
                              options.task, overall.k, overall.k);
  auto row = [&](const std::string& name, const EvalStats& st) {
    s += fmt::format("| {} | {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f} |\n", name, st.n_problems, 100 * st.pass1,
                     100 * st.passk, 100 * st.consk, st.mean_response_tokens);
  };
  for (const auto& [level, st] : by_level) row(level, st);
  row("all", overall);
  return s;
}

namespace {

struct ProblemResult {
  int64_t correct = 0, tokens = 0, n = 0;
  bool cons = false;
};

EvalStats aggregate(const std::vector<ProblemResult>& rs, int k) {
  EvalStats st;
  st.k = k;
  st.n_problems = int64_t(rs.size());
  if (rs.empty()) return st;
  int64_t tokens = 0, samples = 0;
  for (const auto& r : rs) {
    st.pass1 += double(r.correct) / double(r.n);
    st.passk += pass_at_k(r.n, r.correct, k);
    st.consk += r.cons ? 1.0 : 0.0;
    tokens += r.tokens;
    samples += r.n;
  }
  st.pass1 /= double(rs.size());
  st.passk /= double(rs.size());
  st.consk /= double(rs.size());
  st.mean_response_tokens = double(tokens) / double(samples);
  return st;
}

}  // namespace

EvalReport evaluate(const LanguageModel& m, const Tokenizer& tok, const EvalOptions& o,
                    const std::function<void(int64_t, int64_t)>& progress) {
  auto task = make_task(o.task);
  const int n = o.n ? o.n : o.k;
  check(o.k >= 1 && n >= o.k, "eval: need 1 <= k <= n (k = {}, n = {})", o.k, n);
  check(o.problems_per_level >= 1, "eval: problems per level must be >= 1");
  std::vector<std::string> levels = o.levels.empty() ? task->levels() : o.levels;
  const auto known = task->levels();
  for (const auto& l : levels)
    check(std::find(known.begin(), known.end(), l) != known.end(), "eval: task {} has no level '{}'", o.task, l);

  // problems, drawn from the split deterministically in the seed
  std::vector<Problem> problems;
  std::vector<size_t> level_of;
  for (size_t li = 0; li < levels.size(); ++li) {
    uint64_t state = o.seed * 1000003 + li;
    for (int64_t i = 0; i < o.problems_per_level; ++i) {
      problems.push_back(sample_problem(*task, levels[li], o.split, state));
      level_of.push_back(li);
    }
  }
  const int32_t eos = tok.eos_id();
  int64_t max_prompt = 0;
  std::vector<std::vector<int32_t>> prompts;
  for (const Problem& p : problems) {
    prompts.push_back(tok.encode(prompt_text(o.format, p.question)));
    max_prompt = std::max<int64_t>(max_prompt, int64_t(prompts.back().size()));
  }
  const int64_t max_len = std::min<int64_t>(max_prompt + o.max_new_tokens, m.max_positions());
  const int64_t slots = sample_slots(o.max_batch, int64_t(problems.size()), n);
  Engine eng(m, slots, max_len, o.weights);

  std::vector<ProblemResult> results(problems.size());
  std::vector<int32_t> stop_ids;
  if (eos >= 0) stop_ids.push_back(eos);
  const SamplingParams sp = protocol_sampling(o, tok.vocab_size(), stop_ids);
  generate_batched(eng, slots, prompts, n, sp, [&](size_t p0, size_t p1, std::vector<Completion>& outs) {
    // decode and judge each completion once: correctness for pass@k, answer key for the cons@k vote
    struct Judged {
      bool correct;
      std::optional<std::string> key;
    };
    std::vector<Judged> judged;
    for (const Completion& c : outs) {
      const size_t pi = p0 + size_t(c.prompt_index);
      // Special tokens stay in the judged text (<think>, </think>, <answer> are special tokens in our tokenizers;
      // skipping them hid every answer from the verifier); only a final EOS is dropped.
      const std::string text = tok.decode(completion_body(c, sp.stop_ids));
      judged.push_back({task->verify(problems[pi], text) == Verdict::Correct, task->answer_key(problems[pi], text)});
      ProblemResult& r = results[pi];
      r.n += 1;
      r.tokens += int64_t(c.tokens.size());
      r.correct += judged.back().correct;
    }
    // cons@k: majority vote over the first k samples of each problem (first-seen order breaks ties)
    for (size_t pi = p0; pi < p1; ++pi) {
      std::vector<std::pair<std::string, int>> votes;
      std::map<std::string, bool> key_correct;
      for (size_t i = 0; i < outs.size(); ++i) {
        const Completion& c = outs[i];
        if (p0 + size_t(c.prompt_index) != pi || c.sample_index >= o.k || !judged[i].key) continue;
        const std::string& key = *judged[i].key;
        auto it = std::find_if(votes.begin(), votes.end(), [&](auto& v) { return v.first == key; });
        if (it == votes.end()) votes.push_back({key, 1});
        else it->second += 1;
        key_correct[key] = key_correct[key] || judged[i].correct;
      }
      if (!votes.empty()) {
        auto best = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) { return a.second < b.second; });
        results[pi].cons = key_correct[best->first];
      }
    }
    if (progress) progress(int64_t(p1), int64_t(problems.size()));
  });

  EvalReport rep;
  rep.options = o;
  rep.options.levels = levels;
  rep.overall = aggregate(results, o.k);
  for (size_t li = 0; li < levels.size(); ++li) {
    std::vector<ProblemResult> sub;
    for (size_t i = 0; i < results.size(); ++i)
      if (level_of[i] == li) sub.push_back(results[i]);
    rep.by_level.push_back({levels[li], aggregate(sub, o.k)});
  }
  return rep;
}

EvalReport evaluate(const TextModel& m, const EvalOptions& o, const std::function<void(int64_t, int64_t)>& progress) {
  return evaluate(*m.model, m.tok, o, progress);
}

}  // namespace nanoseek
