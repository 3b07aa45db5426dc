// The pieces GRPO and PPO share as stages; see rl_stage.h.
#include "rl/rl_stage.h"

#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "train/eval.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double mib(double b) { return b / double(1 << 20); }

// Entropy (nats) of softmax(logits row) — the policy's next-token distribution at a completion position.
double row_entropy(const float* x, int64_t V) {
  float mx = x[0];
  for (int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
  double z = 0, s = 0;
  for (int64_t v = 0; v < V; ++v) {
    const double e = std::exp(double(x[v] - mx));
    z += e;
    s += e * double(x[v] - mx);
  }
  return std::log(z) - s / z;
}

// MTP off (λ = 0, departure 7) and no balance loss in RL.
constexpr LossConfig kRlLoss{0.0, 0.0};

}  // namespace

RlStage::RlStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
                 std::string out_dir, bool quiet)
    : s_(s), policy_(policy), tok_(std::move(tok)), fmt_(fmt), init_dir_(std::move(init_dir)),
      out_dir_(std::move(out_dir)), quiet_(quiet) {
  check(s.prompts > 0 && s.group > 0 && s.micro_rows > 0 && s.mu > 0 && s.max_new_tokens > 0,
        "grpo: prompts, group, micro_rows, mu and max_new_tokens must be > 0");
  check(s.prompts * s.group % s.micro_rows == 0, "grpo: micro_rows ({}) must divide prompts x group ({} x {} = {})",
        s.micro_rows, s.prompts, s.group, s.prompts * s.group);
  check(s.beta >= 0 && s.eps_low >= 0 && s.eps_high >= 0, "grpo: beta, eps_low and eps_high must be >= 0");
  check(s.temperature > 0, "grpo.temperature must be > 0 (rollouts sample)");
  check(s.log_every >= 1, "grpo.log_every ({}) must be >= 1", s.log_every);
  check(!s.tasks.empty(), "grpo.tasks is empty");
  check(s.task_weights.empty() || s.task_weights.size() == s.tasks.size(),
        "grpo.task_weights has {} entries for {} tasks", s.task_weights.size(), s.tasks.size());
  for (const auto& name : s.tasks) {
    tasks_.push_back(make_task(name));
    const auto lv = tasks_.back()->levels();
    for (const auto& l : s.levels)
      check(std::find(lv.begin(), lv.end(), l) != lv.end(), "grpo.levels: task {} has no level '{}'", name, l);
  }
  check(!s.rewards.empty(), "grpo.rewards is empty");
  check(s.reward_weights.empty() || s.reward_weights.size() == s.rewards.size(),
        "grpo.reward_weights has {} entries for {} reward functions", s.reward_weights.size(), s.rewards.size());
  for (const auto& r : s.rewards) reward_fns_.push_back(reward_fn(r));
  if (s_.reward_weights.empty()) s_.reward_weights.assign(s.rewards.size(), 1.0);
  accum_ = s.prompts * s.group / s.micro_rows;
  engine_ = std::make_unique<Engine>(policy, s.prompts * s.group, policy.max_positions());
  if (s.beta > 0) ref_ = policy.clone();
}

RlStage::~RlStage() = default;

std::string RlStage::memory_plan() const {
  const double pb = double(policy_.param_buffer().size() * sizeof(float));
  const double ref = ref_ ? pb : 0.0;
  // the workspace is planned at the first rollout (its T is the longest prompt + completion); estimate with the
  // budget here
  const int64_t T = std::min<int64_t>(policy_.max_positions(), 64 + s_.max_new_tokens);
  const double ws = double(policy_.plan(s_.micro_rows, T, true)->bytes);
  const double ref_ws = ref_ ? double(policy_.plan(s_.micro_rows, T, false)->bytes) : 0.0;
  const double cache = double(engine_->plan().bytes);
  const double critic = extra_memory_bytes(ws);
  return fmt::format("memory: policy {:.1f} MiB + grads {:.1f} + Adam {:.1f}; reference {:.1f} (beta {}); "
                     "critic {:.1f} (weights, grads, Adam, activations); activations {:.1f} (+{:.1f} reference) for "
                     "{} rows x T~{}; KV cache {:.1f}; total {:.1f} MiB",
                     mib(pb), mib(pb), mib(2 * pb), mib(ref), s_.beta, mib(critic), mib(ws), mib(ref_ws),
                     s_.micro_rows, T, mib(cache), mib(4 * pb + ref + ws + ref_ws + cache + critic));
}

void RlStage::ensure_workspace(int64_t T) {
  T = std::min<int64_t>(policy_.max_positions(), (T + 31) / 32 * 32);
  if (ws_ && ws_->B == s_.micro_rows && ws_->T >= T) return;
  ws_ = policy_.plan(s_.micro_rows, T, true);
  if (ref_) ref_ws_ = policy_.plan(s_.micro_rows, T, false);
}

bool RlStage::begin_step(const LanguageModel& m, int64_t step) {
  if (ref_ && s_.ref_reset_every > 0 && step > 0 && step % s_.ref_reset_every == 0) copy_params(*ref_, m);
  return ro_step_ < 0 || step % s_.mu == 0;  // a resumed run starts a fresh rollout
}

Rollout RlStage::sample(int64_t step) {
  return sample_rollout(s_, tasks_, tok_, fmt_, *engine_, policy_.max_positions(), step);
}

void RlStage::score(Rollout& ro) const { score_rollout(ro, s_, tasks_, reward_fns_, tok_); }

void RlStage::install(Rollout ro, int64_t step) {
  const int64_t G = s_.group;
  check(int64_t(ro.comps.size()) == s_.prompts * G && int64_t(ro.prompts.size()) == s_.prompts,
        "grpo: a rollout of {} prompts and {} completions for {} x {}", ro.prompts.size(), ro.comps.size(),
        s_.prompts, G);
  // sizes for the exact global loss average over micro-batches
  tok_off_ = token_offsets(ro);
  ro_T_ = 0, ro_tokens_ = tok_off_.back(), ro_seqs_ = 0;
  for (size_t i = 0; i < ro.comps.size(); ++i) {
    const int64_t n = int64_t(ro.comps[i].tokens.size());
    ro_T_ = std::max(ro_T_, int64_t(ro.prompts[i / size_t(G)].size()) + n);
    ro_seqs_ += n > 0;
  }
  check(ro_tokens_ > 0, "grpo: every completion of the rollout at step {} is empty", step);
  ro_metrics_ = rollout_metrics(ro, s_);
  ro_ = std::move(ro);
  ro_step_ = step;
  ensure_workspace(ro_T_);
}

std::vector<std::string> RlStage::logs() const { return {"completions.jsonl"}; }

void RlStage::report(int64_t step, std::span<const float> seq_adv) const {
  if (s_.log_completions_every > 0 && step % s_.log_completions_every == 0)
    log_completions(ro_, s_, seq_adv, step, out_dir_ + "/completions.jsonl");
  if (!quiet_ && (step % s_.log_every == 0)) print_rollout_progress(ro_, s_, ro_metrics_, step);
}

RlStage::Chunk RlStage::make_chunk(int micro) const {
  const int64_t G = s_.group, R = s_.micro_rows, r0 = int64_t(micro) * R, T = ws_->T;
  Chunk ch;
  ch.ids.assign(size_t(R * T), std::max<int32_t>(0, tok_.eos_id()));
  ch.targets.assign(size_t(R * T), -1);
  ch.offsets = {0};
  ch.row0 = r0;
  ch.tok0 = tok_off_[size_t(r0)];
  for (int64_t r = 0; r < R; ++r) {
    const int64_t i = r0 + r;
    const auto& prompt = ro_.prompts[size_t(i / G)];
    const Completion& c = ro_.comps[size_t(i)];
    const int64_t pl = int64_t(prompt.size()), n = int64_t(c.tokens.size());
    for (int64_t t = 0; t < pl; ++t) ch.ids[size_t(r * T + t)] = prompt[size_t(t)];
    for (int64_t j = 0; j < n; ++j) {
      if (pl + j < T) ch.ids[size_t(r * T + pl + j)] = c.tokens[size_t(j)];
      const int64_t t = pl - 1 + j;  // position whose next token is completion token j
      ch.targets[size_t(r * T + t)] = c.tokens[size_t(j)];
      ch.pos.push_back(r * T + t);
      ch.logp_old.push_back(c.logprobs[size_t(j)]);
    }
    ch.offsets.push_back(int64_t(ch.pos.size()));
  }
  return ch;
}

RlStage::PolicyPass RlStage::forward_policy(const LanguageModel& m, int micro) {
  PolicyPass p;
  p.t0 = now_s();
  ensure_workspace(ro_T_);
  p.ch = make_chunk(micro);
  p.b = Batch{s_.micro_rows, ws_->T, p.ch.ids.data(), p.ch.targets.data(), nullptr, nullptr};
  StepStats st = m.forward(p.b, *ws_, kRlLoss);
  p.expert_load = std::move(st.expert_load);
  const int64_t N = int64_t(p.ch.pos.size()), V = m.vocab_size();
  p.logp_new.resize(size_t(N));
  for (int64_t k = 0; k < N; ++k) {
    p.logp_new[size_t(k)] = st.token_logprobs[size_t(p.ch.pos[size_t(k)])];
    p.entropy += row_entropy(ws_->logits.data() + p.ch.pos[size_t(k)] * V, V);
    const double dlt = double(p.ch.logp_old[size_t(k)]) - double(p.logp_new[size_t(k)]);
    p.drift = std::max(p.drift, std::abs(dlt));
    p.ppo_kl += dlt;
  }
  return p;
}

std::vector<float> RlStage::reference_logp(const Chunk& ch, const Batch& b) {
  const StepStats rs = ref_->forward(b, *ref_ws_, kRlLoss);
  std::vector<float> lp(ch.pos.size());
  for (size_t k = 0; k < lp.size(); ++k) lp[k] = rs.token_logprobs[size_t(ch.pos[k])];
  return lp;
}

GrpoConfig RlStage::clip_config() const {
  GrpoConfig gc;
  gc.eps_low = s_.eps_low;
  gc.eps_high = s_.eps_high;
  gc.agg = s_.agg;
  return gc;
}

PolicyLossOut RlStage::backward_policy(LanguageModel& m, PolicyPass& p, const GrpoConfig& gc, const PolicyBatch& pb,
                                       double* factor) {
  const size_t N = p.ch.pos.size();
  std::vector<float> dlogp(N);
  const PolicyLossOut out = policy_loss(gc, pb, dlogp);
  // policy_loss averages over this micro-batch; the Trainer averages micro-batches. Rescale so the step's update is
  // exactly that of the whole rollout's average (sequence: over all sequences; token: over all tokens).
  const double share = gc.agg == GrpoConfig::Agg::Token ? double(out.n_tokens) / double(ro_tokens_)
                                                        : double(out.n_seqs) / double(ro_seqs_);
  *factor = share * double(accum_);
  // Model loss = Σ w·CE = −Σ w·logp, so w = −dL/dlogp.
  std::vector<float> w(size_t(p.b.B * p.b.T), 0.f);
  for (size_t k = 0; k < N; ++k) w[size_t(p.ch.pos[k])] = float(-double(dlogp[k]) * *factor);
  p.b.weights = w.data();
  m.backward(p.b, *ws_, kRlLoss);
  p.b.weights = nullptr;  // w dies here
  return out;
}

MicroResult RlStage::policy_result(const PolicyPass& p, const PolicyLossOut& out, double factor) const {
  const int64_t N = int64_t(p.ch.pos.size());
  MicroResult res;
  res.tokens = N;
  res.metrics = ro_metrics_;
  res.metrics["loss"] = out.loss * factor;
  res.metrics["clip_ratio"] = out.clip_ratio;
  res.metrics["clip_ratio/low"] = out.clip_ratio_low;
  res.metrics["clip_ratio/high"] = out.clip_ratio_high;
  res.metrics["entropy"] = N ? p.entropy / double(N) : 0.0;
  // π_old vs π_θ: on the first update of a rollout these differ only by sampler-vs-trainer float rounding
  res.metrics["ppo_kl"] = N ? p.ppo_kl / double(N) : 0.0;  // mean log π_old − log π_θ (veRL's name)
  res.metrics["logp_drift_max"] = p.drift;
  // the Trainer averages micro-batch metrics: report this micro-batch's time × accum so the mean is the step's sum
  res.metrics["time/update"] = (now_s() - p.t0) * double(accum_);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  res.metrics["memory/peak_rss_mib"] = double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
  res.expert_load = p.expert_load;
  return res;
}

std::map<std::string, double> RlStage::evaluate(LanguageModel& m, int64_t step) {
  std::map<std::string, double> out;
  if (s_.eval_every <= 0 || s_.eval_problems <= 0) return out;
  for (size_t ti = 0; ti < tasks_.size(); ++ti) {
    EvalOptions o;
    o.task = s_.tasks[ti];
    o.levels = s_.levels;
    o.problems_per_level = s_.eval_problems;
    o.k = int(s_.eval_k);
    o.max_new_tokens = int(s_.max_new_tokens);
    o.split = Split::Val;
    o.format = fmt_;
    o.seed = s_.seed;
    const EvalReport r = nanoseek::evaluate(m, tok_, o);
    const std::string p = "eval/" + o.task + "/";
    out[p + "pass@1"] = r.overall.pass1;
    out[p + "mean_response_tokens"] = r.overall.mean_response_tokens;
    for (const auto& [lv, e] : r.by_level) {
      out[p + "pass@1/" + lv] = e.pass1;
      out[p + "mean_response_tokens/" + lv] = e.mean_response_tokens;
    }
  }
  (void)step;
  return out;
}

void RlStage::save_extra(const std::string& dir) const {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (file_exists(init_dir_ + "/" + f)) write_file_atomic(dir + "/" + f, read_file(init_dir_ + "/" + f));
  nlohmann::json ev = nlohmann::json::object();
  if (file_exists(init_dir_ + "/eval.json")) {
    const auto j = read_json_file(init_dir_ + "/eval.json");
    check(j.is_object(), "{}/eval.json: not a JSON object", init_dir_);
    for (const char* k : {"prompt_format", "tasks"})
      if (j.contains(k)) ev[k] = j[k];
  }
  ev["stage"] = "grpo";
  ev["init"] = init_dir_;
  ev["seed"] = s_.seed;                      // with the thread count: what a bitwise rerun needs
  ev["threads"] = omp_get_max_threads();
  write_file_atomic(dir + "/eval.json", ev.dump(1) + "\n");
}

void RlStage::restore(const nlohmann::json&) {
  ro_step_ = -1;
  if (ref_) copy_params(*ref_, policy_);  // see departure 5 in the header
}

}  // namespace nanoseek
