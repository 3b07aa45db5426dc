// PPO on the shared rollout machinery; see ppo_stage.h.
#include "rl/ppo_stage.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "rl/ppo.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

PpoStage::PpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
                   std::string out_dir, bool quiet)
    : RlStage(s, policy, std::move(tok), fmt, std::move(init_dir), std::move(out_dir), quiet) {
  check(s.algo == RlAlgo::Ppo, "PpoStage: grpo.algo is '{}' (run_grpo picks the stage from it)", rl_algo_name(s.algo));
  critic_ = std::make_unique<Critic>(policy, AdamWConfig{0.9, 0.95, 1e-8, 0.0}, s.value_lr, s.optim.clip);
}

PpoStage::~PpoStage() = default;

double PpoStage::extra_memory_bytes(double ws) const { return double(critic_->bytes()) + ws; }  // + activations

// Per-token rewards (outcome on the last token, k1 KL penalty β·(log π_old − log π_ref) on every token), the
// critic's values, GAE(γ, λ) advantages whitened over the rollout, and value targets.
void PpoStage::gae_advantages() {
  const int64_t N = tok_off_.back();
  std::vector<float> logp_old(static_cast<size_t>(N)), logp_ref, values(static_cast<size_t>(N));
  if (ref_) logp_ref.resize(size_t(N));
  for (int64_t k = 0; k < accum_; ++k) {
    const Chunk ch = make_chunk(int(k));
    const Batch b{s_.micro_rows, ws_->T, ch.ids.data(), ch.targets.data(), nullptr, nullptr};
    std::copy(ch.logp_old.begin(), ch.logp_old.end(), logp_old.begin() + ch.tok0);
    critic_->values(b, ch.pos, std::span<float>(values).subspan(size_t(ch.tok0), ch.pos.size()));
    if (ref_) {
      const std::vector<float> lr = reference_logp(ch, b);
      std::copy(lr.begin(), lr.end(), logp_ref.begin() + ch.tok0);
    }
  }
  const std::vector<float> r = ppo_token_rewards(tok_off_, ro_.rewards, ref_ ? std::span<const float>(logp_old)
                                                 : std::span<const float>(), logp_ref, ref_ ? s_.beta : 0.0);
  values_old_ = values;
  adv_tok_.assign(size_t(N), 0.f);
  returns_.assign(size_t(N), 0.f);
  gae(tok_off_, r, values, s_.gae_gamma, s_.gae_lambda, adv_tok_, returns_);
  if (N >= 2) whiten(adv_tok_);
  seq_adv_.assign(ro_.comps.size(), 0.f);
  for (size_t i = 0; i < seq_adv_.size(); ++i) {
    double a = 0;
    for (int64_t t = tok_off_[i]; t < tok_off_[i + 1]; ++t) a += adv_tok_[size_t(t)];
    if (tok_off_[i + 1] > tok_off_[i]) seq_adv_[i] = float(a / double(tok_off_[i + 1] - tok_off_[i]));
  }
}

MicroResult PpoStage::micro_step(LanguageModel& m, int64_t step, int micro) {
  double t_values = 0;
  if (micro == 0 && begin_step(m, step)) {
    Rollout ro = sample(step);  // P problems → prompts → G completions each, with π_old's log-probs
    score(ro);                  // rule rewards: the outcome each sequence's last token earns
    install(std::move(ro), step);
    const double t0 = now_s();
    gae_advantages();           // the critic is the baseline
    t_values = now_s() - t0;
    ro_metrics_["time/critic_values"] = t_values;
    report(step, seq_adv_);
  }
  PolicyPass p = forward_policy(m, micro);
  const size_t N = p.ch.pos.size();
  // per-token advantages; the KL is in the reward, not the loss
  const auto slice = [&](const std::vector<float>& v) { return std::span<const float>(v).subspan(size_t(p.ch.tok0), N); };
  const PolicyBatch pb{p.ch.offsets, p.logp_new, p.ch.logp_old, {}, {}, {}, slice(adv_tok_)};
  double factor = 0;
  const PolicyLossOut out = backward_policy(m, p, clip_config(), pb, &factor);
  // the value loss is a token mean over the rollout: this micro-batch's share × accum, as for the policy
  const double vshare = double(N) / double(ro_tokens_) * double(accum_);
  const ValueLossOut vl = critic_->accumulate(p.b, p.ch.pos, slice(values_old_), slice(returns_), s_.value_clip, vshare);
  if (micro + 1 == accum_) critic_->step(accum_);
  MicroResult res = policy_result(p, out, factor);
  res.metrics["value_loss"] = vl.loss * vshare;
  res.metrics["value_clip_frac"] = vl.clip_frac;
  res.metrics["time/update"] += t_values * double(accum_);  // the critic's values belong to the step's update
  return res;
}

}  // namespace nanoseek
