#include "train/eval.h"

#include <algorithm>

#include "data/loader.h"
#include "infer/engine.h"
#include "rl/rewards.h"

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
    fmt_ok += format_reward(text).value > 0;
    gen += int64_t(c.tokens.size());
  }
  for (auto& [k, v] : by) out[k] = double(v.first) / double(v.second);
  out["format_ok"] = double(fmt_ok) / double(comps.size());
  out["gen_tokens"] = double(gen) / double(comps.size());
  return out;
}

}  // namespace nanoseek
