// The GRPO stage with NON-ZERO advantages, end to end, against the independent float64 reference of
// tools/reference/make_grpo_goldens.py (grpo_stage_golden → tests/golden/rl/grpo_stage/).
//
// The rollout is teacher-forced: a subclass overrides only the stage's sampling step to return known prompts,
// completions and sampling log-probs (π_old). Everything after it is the real stage: decoding, the real accuracy and
// format rewards with the spec's weights, group advantages, micro-batch layout (2 micro-batches of 6 rows straddling
// the groups of 4), the policy's forward, the clipped surrogate, the per-token weights and the backward. The policy
// is a tiny dense Qwen2 whose weights the reference loads too; π_old is designed as log π_θ + δ so that ratios
// spread around 1 and the clip binds on both sides. Two cases: sequence aggregation with std scaling and asymmetric
// ε (0.2 / 0.28), and token aggregation without std scaling (Dr. GRPO) with ε 0.1.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/safetensors.h"
#include "model/dense.h"
#include "rl/grpo_stage.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;

std::string golden_dir() { return test::source_dir() + "/tests/golden/rl/grpo_stage"; }

// The stage as it runs, except that its rollout's completions are the given ones instead of the engine's samples.
class TeacherForcedGrpo : public GrpoStage {
 public:
  TeacherForcedGrpo(const GrpoSpec& s, LanguageModel& m, Tokenizer tok, Rollout forced, const std::string& dir)
      : GrpoStage(s, m, std::move(tok), PromptFormat::Plain, dir, dir, true), forced_(std::move(forced)) {}
  const Rollout& rollout() const { return ro_; }

 protected:
  Rollout sample(int64_t) override { return forced_; }

 private:
  Rollout forced_;
};

Rollout forced_rollout(const json& g) {
  Rollout ro;
  const int G = g["group"];
  for (const auto& p : g["problems"]) {
    Problem pr;
    pr.task = "add";
    pr.level = "d1";
    pr.question = p["question"];
    pr.answer = p["answer"];
    ro.problems.push_back(pr);
    ro.task_of.push_back(0);
  }
  for (const auto& p : g["prompts"]) ro.prompts.push_back(p.get<std::vector<int32_t>>());
  const std::vector<float> logp_old = g["logp_old"].get<std::vector<float>>();
  size_t k = 0;
  for (size_t i = 0; i < g["completions"].size(); ++i) {
    const json& c = g["completions"][i];
    Completion comp;
    comp.prompt_index = int(i) / G;
    comp.sample_index = int(i) % G;
    comp.tokens = c["tokens"].get<std::vector<int32_t>>();
    comp.logprobs.assign(logp_old.begin() + std::ptrdiff_t(k), logp_old.begin() + std::ptrdiff_t(k + comp.tokens.size()));
    k += comp.tokens.size();
    comp.finish_reason = c["finish_reason"];
    ro.comps.push_back(std::move(comp));
  }
  return ro;
}

GrpoSpec spec_of(const json& g, const json& c) {
  GrpoSpec s;
  s.tasks = {"add"};
  s.levels = {"d1"};
  s.prompts = int64_t(g["problems"].size());
  s.group = g["group"];
  s.micro_rows = g["micro_rows"];
  s.mu = 1;
  s.max_new_tokens = 32;
  s.rewards = g["reward_names"].get<std::vector<std::string>>();
  s.reward_weights = c["reward_weights"].get<std::vector<double>>();
  s.agg = parse_agg(c["agg"]);
  s.scale_std = c["scale_std"];
  s.eps_low = c["eps_low"];
  s.eps_high = c["eps_high"];
  s.beta = 0;
  s.log_every = 1000;
  s.log_completions_every = 0;
  return s;
}

// All P·G rows in one batch as the stage lays them (prompt + completion, targets on the completion tokens), with the
// reference's per-token weights w = −dL/dlog π when given.
struct Rows {
  int64_t B = 0, T = 64;
  std::vector<int32_t> ids, targets;
  std::vector<float> weights;
  std::vector<int64_t> pos;  // flat position of completion token k (rollout token order)
};
Rows all_rows(const json& g, const std::vector<float>* dloss_dlogp) {
  Rows r;
  const int64_t G = g["group"];
  r.B = int64_t(g["completions"].size());
  r.ids.assign(size_t(r.B * r.T), 1);
  r.targets.assign(size_t(r.B * r.T), -1);
  r.weights.assign(size_t(r.B * r.T), 0.f);
  for (int64_t i = 0; i < r.B; ++i) {
    const auto prompt = g["prompts"][size_t(i / G)].get<std::vector<int32_t>>();
    const auto toks = g["completions"][size_t(i)]["tokens"].get<std::vector<int32_t>>();
    const int64_t pl = int64_t(prompt.size());
    EXPECT_LE(pl + int64_t(toks.size()), r.T);
    for (int64_t t = 0; t < pl; ++t) r.ids[size_t(i * r.T + t)] = prompt[size_t(t)];
    for (size_t j = 0; j < toks.size(); ++j) {
      r.ids[size_t(i * r.T + pl) + j] = toks[j];
      const int64_t p = i * r.T + pl - 1 + int64_t(j);
      r.targets[size_t(p)] = toks[j];
      if (dloss_dlogp) r.weights[size_t(p)] = -(*dloss_dlogp)[r.pos.size()];
      r.pos.push_back(p);
    }
  }
  return r;
}

// Largest normalized error of `got` (a flat gradient) over the model's tensors, each relative to its own largest
// reference entry; ref(i) is tensor i's reference.
double worst_tensor_err(const DenseModel& m, const std::vector<float>& got,
                        const std::function<std::vector<float>(size_t)>& ref, std::string* which) {
  double worst = 0;
  for (size_t i = 0; i < m.layout.specs.size(); ++i) {
    const auto& s = m.layout.specs[i];
    const std::vector<float> want = ref(i);
    EXPECT_EQ(int64_t(want.size()), s.numel()) << s.name;
    const double e = test::norm_err(got.data() + m.layout.offsets[i], want.data(), want.size());
    if (e > worst) worst = e, *which = s.name;
  }
  return worst;
}

// Tolerances, from the one place float32 enters: the stage's log π_θ comes from a float32 forward, the reference's
// from float64 on the same float32 weights.
//  - kLogpTol: |Δ log π| per token: float32 logits (d 32, two layers) and one float32 log-sum-exp; we measure
//    ≤ 2.4e-6, so 2e-5 leaves ~8x.
//  - loss: a weighted mean (weights sum to 1) of −min(ρA, clip(ρ)A) whose sensitivity to log π_θ is ρ·A (0 where
//    clipped), so |Δloss| ≤ max ρ|A| · kLogpTol.
//  - per-token weights: the stage's gradient vs the model's own backward driven by the reference's weights — the
//    same backward code on both sides, so only the weights differ, by a relative ≤ kLogpTol (d(ρA)/(ρA) = Δ log π),
//    plus float32 summation order (micro-batches of 6 vs one batch of 12). Measured ≤ 1.3e-6 normalized; 2e-5.
//  - dL/dθ vs float64 autograd through the reference model: adds the float32 backward's own round-off (softmax and
//    attention chain). Measured ≤ 2.6e-6 normalized; 3e-5. Any real mistake (a wrong advantage, clip bound, weight
//    scale or position) moves these by O(1e-2..1).
//  - discrete metrics (clip ratios, rewards, advantages' statistics): the same counts in double, 1e-12; no ratio lies
//    within 2e-3 of a clip bound (the generator checks), so float32 log-probs cannot flip a branch.
constexpr double kLogpTol = 2e-5;

TEST(GrpoStageGolden, NonZeroAdvantagesLossAndGradientMatchFloat64Reference_P3_G4) {
  const json g = json::parse(read_file(golden_dir() + "/golden.json"));
  const Checkpoint gold = Checkpoint::open(golden_dir() + "/golden.safetensors");
  const std::vector<float> logp_ref = g["logp_new"].get<std::vector<float>>();
  const std::vector<float> logp_old = g["logp_old"].get<std::vector<float>>();
  const std::string dir = ::testing::TempDir() + "nanoseek_grpo_stage_golden";
  make_dirs(dir);
  const Tokenizer tok = Tokenizer::load(test::source_dir() + "/tests/golden/tokenizer/trained/");

  auto m = load_dense_model(golden_dir());
  m->enable_grad();
  {  // precondition of every tolerance below: our forward's log π_θ is the reference's within kLogpTol
    Rows r = all_rows(g, nullptr);
    auto acts = m->plan(r.B, r.T, false);
    const StepStats st = m->forward(Batch{r.B, r.T, r.ids.data(), r.targets.data()}, *acts, LossConfig{0.0, 0.0});
    double worst = 0;
    for (size_t k = 0; k < r.pos.size(); ++k)
      worst = std::max(worst, std::fabs(double(st.token_logprobs[size_t(r.pos[k])]) - logp_ref[k]));
    EXPECT_LT(worst, kLogpTol);
    std::printf("log pi_theta vs float64: max |diff| %.2e over %zu tokens\n", worst, r.pos.size());
  }

  for (const json& c : g["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::vector<float> adv = c["advantages"].get<std::vector<float>>();
    // the case means what it says: advantages far from 0, the clip binding on both sides
    double max_adv = 0;
    for (float a : adv) max_adv = std::max(max_adv, double(std::fabs(a)));
    ASSERT_GT(max_adv, 0.5);
    ASSERT_GT(c["metrics"]["clip_ratio_low"].get<double>(), 0.0);
    ASSERT_GT(c["metrics"]["clip_ratio_high"].get<double>(), 0.0);

    const GrpoSpec s = spec_of(g, c);
    TeacherForcedGrpo st(s, *m, tok, forced_rollout(g), dir);
    const int accum = int(st.grad_accum());
    ASSERT_EQ(accum, 2);
    m->zero_grad();
    std::map<std::string, double> mean;  // what the Trainer logs: micro-batch metrics averaged
    for (int k = 0; k < accum; ++k)
      for (const auto& [key, v] : st.micro_step(*m, 0, k).metrics) mean[key] += v / accum;
    std::vector<float> grads = m->grads;
    for (float& x : grads) x /= float(accum);  // what the Trainer does before clipping

    // score: the real reward functions on the decoded completions give the designed parts and rewards
    const Rollout& ro = st.rollout();
    for (size_t i = 0; i < ro.texts.size(); ++i) {
      EXPECT_EQ(ro.texts[i], g["completions"][i]["text"].get<std::string>()) << i;
      for (size_t f = 0; f < ro.parts.size(); ++f) EXPECT_EQ(ro.parts[f][i], g["parts"][f][i].get<double>()) << i;
      EXPECT_EQ(ro.rewards[i], c["rewards"][i].get<float>()) << i;
    }
    EXPECT_NEAR(mean["reward"], c["reward"].get<double>(), 1e-12);
    EXPECT_NEAR(mean["reward_std"], c["reward_std"].get<double>(), 1e-12);
    EXPECT_NEAR(mean["frac_reward_zero_std"], c["frac_reward_zero_std"].get<double>(), 1e-12);

    // the loss it reports
    double max_rho_a = 0;
    for (size_t i = 0, k = 0; i < adv.size(); ++i)
      for (size_t j = 0; j < g["completions"][i]["tokens"].size(); ++j, ++k)
        max_rho_a = std::max(max_rho_a, std::exp(double(logp_ref[k]) - logp_old[k]) * std::fabs(adv[i]));
    EXPECT_NEAR(mean["loss"], c["loss"].get<double>(), max_rho_a * kLogpTol + 1e-12);
    for (const char* k : {"clip_ratio", "clip_ratio_low", "clip_ratio_high"}) {
      std::string key = k;
      if (key != "clip_ratio") key = "clip_ratio/" + key.substr(11);
      EXPECT_NEAR(mean[key], c["metrics"][k].get<double>(), 1e-12) << key;
    }
    EXPECT_EQ(mean["kl"], 0.0);
    // means over tokens of log-prob differences: each within kLogpTol; entropy of float32 vs float64 logits: 1e-5
    EXPECT_NEAR(mean["ppo_kl"], c["metrics"]["ppo_kl"].get<double>(), kLogpTol);
    EXPECT_NEAR(mean["logp_drift_max"], c["metrics"]["logp_drift_max"].get<double>(), kLogpTol);
    EXPECT_NEAR(mean["entropy"], c["metrics"]["entropy"].get<double>(), 1e-5 * c["metrics"]["entropy"].get<double>());

    // the per-token weights it backpropagates: the same backward driven by the reference's −dL/dlog π
    const std::vector<float> dl = c["dloss_dlogp"].get<std::vector<float>>();
    Rows r = all_rows(g, &dl);
    auto acts = m->plan(r.B, r.T, true);
    const Batch b{r.B, r.T, r.ids.data(), r.targets.data(), nullptr, r.weights.data()};
    m->zero_grad();
    m->forward(b, *acts, LossConfig{0.0, 0.0});
    m->backward(b, *acts, LossConfig{0.0, 0.0}, nullptr);
    std::string which;
    const double e_w = worst_tensor_err(*m, grads, [&](size_t i) {
      const auto first = m->grads.begin() + std::ptrdiff_t(m->layout.offsets[i]);
      return std::vector<float>(first, first + std::ptrdiff_t(m->layout.specs[i].numel()));
    }, &which);
    EXPECT_LT(e_w, 2e-5) << which;
    // and the gradient of the whole chain against float64 autograd through the reference model
    std::string which_g;
    const double e_g = worst_tensor_err(*m, grads, [&](size_t i) {
      return gold.read_f32(c["name"].get<std::string>() + ".grad." + m->layout.specs[i].name);
    }, &which_g);
    EXPECT_LT(e_g, 3e-5) << which_g;
    std::printf("[%s] loss |diff| %.2e (tol %.1e) | grad vs reference weights %.2e (%s), vs float64 dL/dθ %.2e (%s)\n",
                c["name"].get<std::string>().c_str(), std::fabs(mean["loss"] - c["loss"].get<double>()),
                max_rho_a * kLogpTol, e_w, which.c_str(), e_g, which_g.c_str());
  }
}

}  // namespace
}  // namespace nanoseek
