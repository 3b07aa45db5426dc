#include "rl/grpo_stage.h"

#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "infer/session.h"
#include "model/checkpoint.h"
#include "train/eval.h"
#include "rl/ppo.h"
#include "train/pretrain_spec.h"

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

// The policy's forward (token log-probs of the targets; logits stay in the activations) and backward with the
// batch's per-token weights.
struct Fwd {
  std::vector<float> logp;                          // [B·T]
  std::vector<std::vector<int64_t>> expert_load;    // MoE only
};
// MTP off (λ = 0, departure 5) and no balance loss in RL.
Fwd run_forward(const LanguageModel& m, const Batch& b, Activations& a) {
  StepStats st = m.forward(b, a, LossConfig{0.0, 0.0});
  return {std::move(st.token_logprobs), std::move(st.expert_load)};
}
void run_backward(LanguageModel& m, const Batch& b, Activations& a) { m.backward(b, a, LossConfig{0.0, 0.0}); }

}  // namespace

PromptFormat model_prompt_format(const std::string& dir) {
  const std::string p = dir + "/eval.json";
  if (!file_exists(p)) return PromptFormat::R1Zero;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: invalid JSON: {}", p, e.what());
  }
  if (!j.contains("prompt_format")) return PromptFormat::R1Zero;
  check(j["prompt_format"].is_string(), "{}: prompt_format must be a string", p);
  return parse_prompt_format(j["prompt_format"].get<std::string>());
}

GrpoStage::GrpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
                     std::string out_dir, bool quiet)
    : s_(s), policy_(policy), tok_(std::move(tok)), fmt_(fmt), init_dir_(std::move(init_dir)), out_dir_(std::move(out_dir)),
      quiet_(quiet) {
  check(s.prompts > 0 && s.group > 0 && s.micro_rows > 0 && s.mu > 0 && s.max_new_tokens > 0,
        "grpo: prompts, group, micro_rows, mu and max_new_tokens must be > 0");
  check(s.prompts * s.group % s.micro_rows == 0, "grpo: micro_rows ({}) must divide prompts x group ({} x {} = {})",
        s.micro_rows, s.prompts, s.group, s.prompts * s.group);
  check(s.agg == "sequence" || s.agg == "token", "grpo.agg: '{}' is not sequence or token", s.agg);
  check(s.beta >= 0 && s.eps_low >= 0 && s.eps_high >= 0, "grpo: beta, eps_low and eps_high must be >= 0");
  check(s.temperature > 0, "grpo.temperature must be > 0 (rollouts sample)");
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
  check(s.algo == "grpo" || s.algo == "ppo", "grpo.algo: '{}' is not grpo or ppo", s.algo);
  if (s.algo == "ppo") critic_ = std::make_unique<Critic>(policy, AdamWConfig{0.9, 0.95, 1e-8, 0.0}, s.value_lr, s.optim.clip);
}

GrpoStage::~GrpoStage() = default;

std::string GrpoStage::memory_plan() const {
  const double pb = double(policy_.param_buffer().size() * sizeof(float));
  const double ref = ref_ ? pb : 0.0;
  // the workspace is planned at the first rollout (its T is the longest prompt + completion); estimate with the
  // budget here
  const int64_t T = std::min<int64_t>(policy_.max_positions(), 64 + s_.max_new_tokens);
  const double ws = double(policy_.plan(s_.micro_rows, T, true)->bytes);
  const double ref_ws = ref_ ? double(policy_.plan(s_.micro_rows, T, false)->bytes) : 0.0;
  const double cache = double(engine_->plan().bytes);
  const double critic = critic_ ? double(critic_->bytes()) + ws : 0.0;  // weights+grads+Adam, and its activations
  return fmt::format("memory: policy {:.1f} MiB + grads {:.1f} + Adam {:.1f}; reference {:.1f} (beta {}); "
                     "critic {:.1f} (weights, grads, Adam, activations); activations {:.1f} (+{:.1f} reference) for "
                     "{} rows x T~{}; KV cache {:.1f}; total {:.1f} MiB",
                     mib(pb), mib(pb), mib(2 * pb), mib(ref), s_.beta, mib(critic), mib(ws), mib(ref_ws),
                     s_.micro_rows, T, mib(cache), mib(4 * pb + ref + ws + ref_ws + cache + critic));
}

void GrpoStage::ensure_workspace(int64_t T) {
  T = std::min<int64_t>(policy_.max_positions(), (T + 31) / 32 * 32);
  if (ws_ && ws_->B == s_.micro_rows && ws_->T >= T) return;
  ws_ = policy_.plan(s_.micro_rows, T, true);
  if (ref_) ref_ws_ = policy_.plan(s_.micro_rows, T, false);
}

void GrpoStage::make_rollout(const LanguageModel& m, int64_t step) {
  const double t0 = now_s();
  const int64_t P = s_.prompts, G = s_.group, S = P * G;
  Rollout ro;
  // problems: task by weight, level uniform, train split; a pure function of (seed, step)
  Rng rng = Rng::derive(s_.seed, uint64_t(step));
  double wsum = 0;
  for (size_t i = 0; i < tasks_.size(); ++i) wsum += s_.task_weights.empty() ? 1.0 : s_.task_weights[i];
  for (int64_t i = 0; i < P; ++i) {
    double u = rng.uniform() * wsum;
    size_t ti = 0;
    for (; ti + 1 < tasks_.size(); ++ti) {
      u -= s_.task_weights.empty() ? 1.0 : s_.task_weights[ti];
      if (u < 0) break;
    }
    const auto lv = s_.levels.empty() ? tasks_[ti]->levels() : s_.levels;
    const std::string& level = lv[rng.below(lv.size())];
    uint64_t st = rng.next();
    ro.problems.push_back(sample_problem(*tasks_[ti], level, Split::Train, st));
    ro.task_of.push_back(int(ti));
    ro.prompts.push_back(tok_.encode(prompt_text(fmt_, ro.problems.back().question)));
    check(int64_t(ro.prompts.back().size()) + s_.max_new_tokens <= m.max_positions(),
          "grpo: prompt ({} tokens) + max_new_tokens ({}) exceeds max_position_embeddings {}",
          ro.prompts.back().size(), s_.max_new_tokens, m.max_positions());
  }
  GenerateRequest req;
  req.prompts = ro.prompts;
  req.n = int(G);
  req.sampling.temperature = float(s_.temperature);
  req.sampling.top_p = float(s_.top_p);
  req.sampling.max_new_tokens = int(s_.max_new_tokens);
  req.sampling.seed = Rng::derive(s_.seed ^ 0x5eed5eedULL, uint64_t(step)).next();
  req.sampling.vocab_limit = tok_.vocab_size();
  if (tok_.eos_id() >= 0) req.sampling.stop_ids = {tok_.eos_id()};
  auto outs = engine_->generate(req);
  check(int64_t(outs.size()) == S, "grpo: the engine returned {} completions for {} requested", outs.size(), S);
  ro.comps.resize(size_t(S));
  for (auto& c : outs) ro.comps[size_t(c.prompt_index) * size_t(G) + size_t(c.sample_index)] = std::move(c);
  const double t1 = now_s();

  // rewards
  const size_t nf = reward_fns_.size();
  ro.parts.assign(nf, std::vector<double>(size_t(S)));
  ro.rewards.assign(size_t(S), 0.f);
  ro.texts.resize(size_t(S));
  for (int64_t i = 0; i < S; ++i) {
    const Problem& p = ro.problems[size_t(i / G)];
    const Task& task = *tasks_[size_t(ro.task_of[size_t(i / G)])];
    // special tokens stay (<think>, <answer> are special in our tokenizers); only the final EOS is dropped
    std::span<const int32_t> body(ro.comps[size_t(i)].tokens);
    if (!body.empty() && body.back() == tok_.eos_id()) body = body.first(body.size() - 1);
    ro.texts[size_t(i)] = tok_.decode(body);
    double r = 0;
    for (size_t f = 0; f < nf; ++f) {
      ro.parts[f][size_t(i)] = reward_fns_[f](task, p, ro.texts[size_t(i)]).value;
      r += s_.reward_weights[f] * ro.parts[f][size_t(i)];
    }
    ro.rewards[size_t(i)] = float(r);
  }
  ro.adv = group_advantages(ro.rewards, int(G), s_.scale_std, &ro.frac_zero_std);
  const double t2 = now_s();

  // rollout metrics (TRL names), constant over the step's micro-batches
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
  for (size_t f = 0; f < nf; ++f) {
    double a = 0;
    for (double v : ro.parts[f]) a += v;
    mt["rewards/" + s_.rewards[f] + "/mean"] = a / double(S);
  }
  mt["frac_reward_zero_std"] = ro.frac_zero_std;
  int64_t len_sum = 0, len_max = 0, len_min = INT64_MAX, clipped = 0, term_sum = 0;
  std::map<std::string, std::pair<double, int64_t>> len_by_level, acc_by_level;
  const auto acc_it = std::find(s_.rewards.begin(), s_.rewards.end(), "accuracy");
  for (int64_t i = 0; i < S; ++i) {
    const int64_t n = int64_t(ro.comps[size_t(i)].tokens.size());
    len_sum += n;
    len_max = std::max(len_max, n);
    len_min = std::min(len_min, n);
    if (ro.comps[size_t(i)].finish_reason == "length") ++clipped;
    else term_sum += n;
    const std::string& lv = ro.problems[size_t(i / G)].level;
    len_by_level[lv].first += double(n), len_by_level[lv].second += 1;
    if (acc_it != s_.rewards.end())
      acc_by_level[lv].first += ro.parts[size_t(acc_it - s_.rewards.begin())][size_t(i)], acc_by_level[lv].second += 1;
  }
  mt["completions/mean_length"] = double(len_sum) / double(S);
  mt["completions/max_length"] = double(len_max);
  mt["completions/min_length"] = double(len_min);
  mt["completions/clipped_ratio"] = double(clipped) / double(S);
  mt["completions/mean_terminated_length"] = clipped < S ? double(term_sum) / double(S - clipped) : 0.0;
  for (auto& [lv, v] : len_by_level) mt["completions/mean_length/" + lv] = v.first / double(v.second);
  for (auto& [lv, v] : acc_by_level) mt["rewards/accuracy/" + lv] = v.first / double(v.second);
  mt["time/rollout"] = t1 - t0;
  mt["time/reward"] = t2 - t1;

  // sizes for the exact global loss average over micro-batches
  ro_T_ = 0, ro_tokens_ = 0, ro_seqs_ = 0;
  ro.tok_off.assign(1, 0);
  for (int64_t i = 0; i < S; ++i) {
    const int64_t n = int64_t(ro.comps[size_t(i)].tokens.size());
    ro.tok_off.push_back(ro.tok_off.back() + n);
    ro_T_ = std::max(ro_T_, int64_t(ro.prompts[size_t(i / G)].size()) + n);
    ro_tokens_ += n;
    ro_seqs_ += n > 0;
  }
  check(ro_tokens_ > 0, "grpo: every completion of the rollout at step {} is empty", step);

  if (s_.log_completions_every > 0 && step % s_.log_completions_every == 0) {
    std::ofstream f(out_dir_ + "/completions.jsonl", std::ios::app);
    for (int64_t i = 0; i < std::min<int64_t>(S, 2 * G); i += std::max<int64_t>(1, G / 2)) {
      nlohmann::json j = {{"step", step}, {"question", ro.problems[size_t(i / G)].question},
                          {"level", ro.problems[size_t(i / G)].level}, {"completion", ro.texts[size_t(i)]},
                          {"reward", ro.rewards[size_t(i)]}, {"advantage", ro.adv[size_t(i)]}};
      for (size_t fi = 0; fi < nf; ++fi) j["rewards/" + s_.rewards[fi]] = ro.parts[fi][size_t(i)];
      f << j.dump() << "\n";
    }
  }
  if (!quiet_ && (step % s_.log_every == 0)) {
    std::string acc;
    for (auto& [lv, v] : acc_by_level) acc += fmt::format(" {} {:.2f}", lv, v.first / double(v.second));
    fmt::print("rollout {}: reward {:.3f} (std {:.3f}, zero-std groups {:.2f}) | len {:.0f} (clipped {:.2f}) |{}{} | "
               "{:.1f}s gen {:.2f}s reward\n",
               step, mt["reward"], mt["reward_std"], ro.frac_zero_std, mt["completions/mean_length"],
               mt["completions/clipped_ratio"], acc.empty() ? "" : " accuracy", acc, t1 - t0, t2 - t1);
    std::fflush(stdout);
  }
  ro_ = std::move(ro);
  ro_metrics_ = std::move(mt);
}

GrpoStage::Chunk GrpoStage::make_chunk(int micro) {
  const int64_t G = s_.group, R = s_.micro_rows, r0 = int64_t(micro) * R, T = ws_->T;
  Chunk ch;
  ch.ids.assign(size_t(R * T), std::max<int32_t>(0, tok_.eos_id()));
  ch.targets.assign(size_t(R * T), -1);
  ch.offsets = {0};
  ch.tok0 = ro_.tok_off[size_t(r0)];
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
    ch.adv.push_back(ro_.adv[size_t(i)]);
  }
  return ch;
}

// PPO (algo = "ppo"): per-token rewards (outcome on the last token, k1 KL penalty β·(log π_old − log π_ref) on
// every token), the critic's values, GAE(γ, λ) advantages whitened over the rollout, and value targets.
void GrpoStage::ppo_prepare() {
  const int64_t N = ro_.tok_off.back();
  std::vector<float> logp_old(static_cast<size_t>(N)), logp_ref, values(static_cast<size_t>(N));
  if (ref_) logp_ref.resize(size_t(N));
  for (int64_t k = 0; k < accum_; ++k) {
    const Chunk ch = make_chunk(int(k));
    const Batch b{s_.micro_rows, ws_->T, ch.ids.data(), ch.targets.data(), nullptr, nullptr};
    std::copy(ch.logp_old.begin(), ch.logp_old.end(), logp_old.begin() + ch.tok0);
    critic_->values(b, ch.pos, std::span<float>(values).subspan(size_t(ch.tok0), ch.pos.size()));
    if (ref_) {
      const Fwd rs = run_forward(*ref_, b, *ref_ws_);
      for (size_t j = 0; j < ch.pos.size(); ++j) logp_ref[size_t(ch.tok0) + j] = rs.logp[size_t(ch.pos[j])];
    }
  }
  const std::vector<float> r = ppo_token_rewards(ro_.tok_off, ro_.rewards, ref_ ? std::span<const float>(logp_old)
                                                 : std::span<const float>(), logp_ref, ref_ ? s_.beta : 0.0);
  ro_.values_old = values;
  ro_.adv_tok.assign(size_t(N), 0.f);
  ro_.returns.assign(size_t(N), 0.f);
  gae(ro_.tok_off, r, values, s_.gae_gamma, s_.gae_lambda, ro_.adv_tok, ro_.returns);
  if (N >= 2) whiten(ro_.adv_tok);
}

MicroResult GrpoStage::micro_step(LanguageModel& m, int64_t step, int micro) {
  double t_ro = 0;
  if (micro == 0) {
    if (ref_ && s_.ref_reset_every > 0 && step > 0 && step % s_.ref_reset_every == 0) copy_params(*ref_, m);
    if (ro_step_ < 0 || step % s_.mu == 0) {  // a resumed run starts a fresh rollout
      make_rollout(m, step);
      ro_step_ = step;
      ensure_workspace(ro_T_);
      if (critic_) {
        const double tc = now_s();
        ppo_prepare();
        t_ro = now_s() - tc;
        ro_metrics_["time/critic_values"] = t_ro;
      }
    }
  }
  const double t0 = now_s();
  ensure_workspace(ro_T_);
  const Chunk ch = make_chunk(micro);
  const int64_t R = s_.micro_rows, T = ws_->T;
  Batch b{R, T, ch.ids.data(), ch.targets.data(), nullptr, nullptr};
  const Fwd st = run_forward(m, b, *ws_);
  const int64_t N = int64_t(ch.pos.size()), V = m.vocab_size();
  std::vector<float> logp_new(static_cast<size_t>(N)), logp_ref;
  double ent = 0, drift = 0, ppo_kl = 0;
  for (int64_t k = 0; k < N; ++k) {
    logp_new[size_t(k)] = st.logp[size_t(ch.pos[size_t(k)])];
    ent += row_entropy(ws_->logits.data() + ch.pos[size_t(k)] * V, V);
    const double dlt = double(ch.logp_old[size_t(k)]) - double(logp_new[size_t(k)]);
    drift = std::max(drift, std::abs(dlt));
    ppo_kl += dlt;
  }
  GrpoConfig gc;
  gc.eps_low = s_.eps_low;
  gc.eps_high = s_.eps_high;
  gc.agg = s_.agg == "token" ? GrpoConfig::Agg::Token : GrpoConfig::Agg::Sequence;
  PolicyBatch pb{ch.offsets, logp_new, ch.logp_old, {}, {}, ch.adv, {}};
  if (critic_) {  // PPO: per-token advantages; the KL is in the reward, not the loss
    pb.adv_per_seq = {};
    pb.adv_per_tok = std::span<const float>(ro_.adv_tok).subspan(size_t(ch.tok0), size_t(N));
  } else if (ref_) {
    const Fwd rs = run_forward(*ref_, b, *ref_ws_);
    logp_ref.resize(size_t(N));
    for (int64_t k = 0; k < N; ++k) logp_ref[size_t(k)] = rs.logp[size_t(ch.pos[size_t(k)])];
    gc.beta = s_.beta;
    pb.logp_ref = logp_ref;
  }
  std::vector<float> dlogp(static_cast<size_t>(N));
  const PolicyLossOut out = policy_loss(gc, pb, dlogp);
  // policy_loss averages over this micro-batch; the Trainer averages micro-batches. Rescale so the step's update is
  // exactly that of the whole rollout's average (sequence: over all sequences; token: over all tokens).
  const double share = gc.agg == GrpoConfig::Agg::Token ? double(out.n_tokens) / double(ro_tokens_)
                                                        : double(out.n_seqs) / double(ro_seqs_);
  const double factor = share * double(accum_);
  // Model loss = Σ w·CE = −Σ w·logp, so w = −dL/dlogp.
  std::vector<float> w(size_t(R * T), 0.f);
  for (int64_t k = 0; k < N; ++k) w[size_t(ch.pos[size_t(k)])] = float(-double(dlogp[size_t(k)]) * factor);
  b.weights = w.data();
  run_backward(m, b, *ws_);

  MicroResult res;
  res.tokens = N;
  res.metrics = ro_metrics_;
  if (critic_) {
    // value loss is a token mean over the rollout: this micro-batch's share × accum, as for the policy
    const auto sl = [&](const std::vector<float>& v) { return std::span<const float>(v).subspan(size_t(ch.tok0), size_t(N)); };
    const double vshare = double(N) / double(ro_tokens_) * double(accum_);
    const ValueLossOut vl = critic_->accumulate(b, ch.pos, sl(ro_.values_old), sl(ro_.returns), s_.value_clip, vshare);
    if (micro + 1 == accum_) critic_->step(accum_);
    res.metrics["value_loss"] = vl.loss * vshare;
    res.metrics["value_clip_frac"] = vl.clip_frac;
  }
  res.metrics["loss"] = out.loss * factor;
  if (!critic_) res.metrics["kl"] = out.kl;
  res.metrics["clip_ratio"] = out.clip_ratio;
  res.metrics["clip_ratio/low"] = out.clip_ratio_low;
  res.metrics["clip_ratio/high"] = out.clip_ratio_high;
  res.metrics["entropy"] = N ? ent / double(N) : 0.0;
  // π_old vs π_θ: on the first update of a rollout these differ only by sampler-vs-trainer float rounding
  res.metrics["ppo_kl"] = N ? ppo_kl / double(N) : 0.0;  // mean log π_old − log π_θ (veRL's name)
  res.metrics["logp_drift_max"] = drift;
  // the Trainer averages micro-batch metrics: report this micro-batch's time × accum so the mean is the step's sum
  res.metrics["time/update"] = (now_s() - t0) * double(accum_) + t_ro * double(accum_);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  res.metrics["memory/peak_rss_mib"] = double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
  res.expert_load = st.expert_load;
  return res;
}

std::map<std::string, double> GrpoStage::evaluate(LanguageModel& m, int64_t step) {
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

void GrpoStage::save_extra(const std::string& dir) const {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (file_exists(init_dir_ + "/" + f)) write_file_atomic(dir + "/" + f, read_file(init_dir_ + "/" + f));
  nlohmann::json ev = nlohmann::json::object();
  if (file_exists(init_dir_ + "/eval.json")) {
    const auto j = nlohmann::json::parse(read_file(init_dir_ + "/eval.json"), nullptr, false);
    for (const char* k : {"prompt_format", "tasks"})
      if (!j.is_discarded() && j.contains(k)) ev[k] = j[k];
  }
  ev["stage"] = "grpo";
  ev["init"] = init_dir_;
  write_file_atomic(dir + "/eval.json", ev.dump(1) + "\n");
}

void GrpoStage::restore(const nlohmann::json&) {
  ro_step_ = -1;
  if (ref_) copy_params(*ref_, policy_);  // see departure 2 in the header
}

namespace {

GrpoRunResult run_grpo_with(LanguageModel& m, const GrpoSpec& g, const PretrainSpec& base, const std::string& init,
                            const std::string& out, bool resume,
                            bool quiet, double t0) {
  m.enable_grad();
  GrpoStage stage(g, m, Tokenizer::load(init), model_prompt_format(init), init, out, quiet);
  TrainConfig tc;
  tc.steps = g.steps;
  tc.grad_accum = stage.grad_accum();
  g.optim.check(base.path + " [grpo]");
  set_optimizer(tc, g.optim);
  tc.gamma = m.has_router_bias() ? g.gamma : 0.0;
  tc.log_every = g.log_every;
  tc.eval_every = g.eval_every;
  tc.ckpt_every = base.ckpt_every;
  tc.keep_ckpts = int(base.keep_ckpts);
  tc.out_dir = out;
  tc.quiet = quiet;
  if (!quiet) {
    fmt::print("grpo: {} from {} ({}) | {} prompts x G {} = {} samples/rollout, mu {} | {} micro-batches of {} rows | "
               "{} | beta {} eps [{}, {}] agg {} std-scaling {} | rewards {} | {} threads\n",
               fmt::join(g.tasks, ","), init, m.model_type(), g.prompts, g.group,
               g.prompts * g.group, g.mu, stage.grad_accum(), g.micro_rows, g.algo,
               g.beta, g.eps_low, g.eps_high, g.agg, g.scale_std,
               fmt::join(g.rewards, "+"), omp_get_max_threads());
    fmt::print("{}\n", stage.memory_plan());
  }
  // a fresh (not resumed) run starts its logs afresh
  for (const char* f : {"/completions.jsonl", "/metrics.jsonl"})
    if (!resume && file_exists(out + f)) write_file_atomic(out + f, "");
  Trainer trainer(m, tc, stage);
  if (resume) trainer.resume();
  GrpoRunResult res;
  res.completed = trainer.run();
  res.steps = trainer.step();
  res.train_seconds = trainer.train_seconds;
  if (res.completed) {
    trainer.save_final(out + "/final");
    if (!quiet) fmt::print("final model: {}/final\n", out);
  }
  res.total_seconds = now_s() - t0;
  return res;
}

}  // namespace

GrpoRunResult run_grpo(const GrpoSpec& g, const PretrainSpec& base, const std::string& init_dir,
                       const std::string& out, bool resume,
                       bool quiet) {
  const double t0 = now_s();
  const std::string init = init_dir.empty() ? g.init : init_dir;
  check(!init.empty(), "{}: grpo.init is empty: name the model directory to start from (--set grpo.init=DIR)", base.path);
  check(file_exists(init + "/config.json"), "grpo.init '{}': no config.json there (a model directory is expected)",
        init);
  check(file_exists(init + "/tokenizer.json"), "grpo.init '{}': no tokenizer.json in the model directory", init);
  if (base.threads > 0) omp_set_num_threads(int(base.threads));
  make_dirs(out);
  const std::unique_ptr<LanguageModel> m = load_language_model(init);
  return run_grpo_with(*m, g, base, init, out, resume, quiet, t0);
}

}  // namespace nanoseek
