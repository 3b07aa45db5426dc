// GRPO stage wiring on a tiny random model with the committed trained tokenizer:
//  - the engine's sampling-time log-probs equal the training forward's (one set of weights, no copy): ratio 1;
//  - the gradient the stage backpropagates (per-token weights −dL/dlogp) is the gradient of the surrogate loss it
//    reports: a central finite difference along the gradient direction on the SAME rollout (μ = 2 keeps it) matches;
//  - micro-batching (grad_accum) gives the same update as one batch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/fs.h"
#include "model/model.h"
#include "core/rng.h"
#include "rl/critic.h"
#include "model/dense.h"
#include "rl/grpo_stage.h"
#include "test_util.h"

namespace nanoseek {
namespace {

struct Fixture {
  std::unique_ptr<Model> m;
  Tokenizer tok;
  std::unique_ptr<test::ScratchDir> scratch;   // this fixture's own directory
  std::string dir;
};

Fixture tiny(const std::string& name) {
  Fixture f;
  f.scratch = std::make_unique<test::ScratchDir>(name);
  f.dir = f.scratch->path;
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  cj["vocab_size"] = 1024;
  cj["num_hidden_layers"] = 2;
  f.m = std::make_unique<Model>(parse_config(cj, "tiny"));
  f.m->init(3);
  f.m->enable_grad();
  f.tok = Tokenizer::load(test::source_dir() + "/tests/golden/tokenizer/trained/");
  return f;
}

GrpoSpec small_spec() {
  GrpoSpec s;
  s.tasks = {"add"};
  s.levels = {"d1"};
  s.prompts = 2;
  s.group = 4;
  s.micro_rows = 8;
  s.mu = 2;
  s.max_new_tokens = 12;
  s.log_every = 1000;
  s.log_completions_every = 0;
  return s;
}

TEST(GrpoStage, SamplerLogprobsEqualTrainerLogprobs_P2_G4) {
  Fixture f = tiny("nanoseek_grpo_t1");
  GrpoStage st(small_spec(), *f.m, f.tok, PromptFormat::Plain, f.dir, f.dir, true);
  f.m->zero_grad();
  const MicroResult r = st.micro_step(*f.m, 0, 0);
  EXPECT_LT(r.metrics.at("logp_drift_max"), 2e-4);  // cached absorbed decode vs decompressed training forward
  EXPECT_EQ(r.metrics.at("clip_ratio"), 0.0);
  EXPECT_GT(r.tokens, 0);
  EXPECT_GT(r.metrics.at("entropy"), 0.0);
  EXPECT_TRUE(r.metrics.count("rewards/accuracy/mean") && r.metrics.count("completions/clipped_ratio"));
}

// A random model earns reward 0 everywhere, so every advantage is 0 and the surrogate is flat; β > 0 with the policy
// moved off its reference gives the loss a KL term with a nonzero gradient through the same path (dL/dlogp → per-token
// weights at the right positions) the advantages take. The loss math itself is checked against float64 goldens in
// grpo_test.cpp, and the stage with non-zero advantages against a float64 reference in grpo_stage_golden_test.cpp.
TEST(GrpoStage, GradientIsTheGradientOfTheReportedLoss_FD) {
  Fixture f = tiny("nanoseek_grpo_t2");
  GrpoSpec s = small_spec();
  s.beta = 0.5;
  s.eps_low = s.eps_high = 10.0;  // no clipping anywhere along the probe
  GrpoStage st(s, *f.m, f.tok, PromptFormat::Plain, f.dir, f.dir, true);
  // move the policy off the reference (which the stage copied at construction) so the KL term has a gradient
  Rng rng(9);
  for (float& p : f.m->params) p += 0.02f * float(rng.normal());
  f.m->zero_grad();
  st.micro_step(*f.m, 0, 0);  // rollout (kept for step 1: mu = 2)
  f.m->zero_grad();
  const MicroResult r1 = st.micro_step(*f.m, 1, 0);
  const std::vector<float> g = f.m->grads;
  const double gn = std::sqrt(test::dot(g, g));
  ASSERT_GT(gn, 0.0);
  const std::vector<float> p0 = f.m->params;
  const double h = 1e-3;
  auto loss_at = [&](double t) {
    for (size_t i = 0; i < p0.size(); ++i) f.m->params[i] = p0[i] + float(t * double(g[i]) / gn);
    f.m->zero_grad();
    return st.micro_step(*f.m, 1, 0).metrics.at("loss");
  };
  const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
  f.m->params = p0;
  // float32 forward: differences of a loss of order 1e-2 at h = 1e-3 carry ~1e-6 absolute noise
  EXPECT_NEAR(fd, gn, 0.02 * gn + 1e-4) << "loss " << r1.metrics.at("loss");
}

TEST(GrpoStage, MicroBatchesGiveTheSameUpdate_P2_G4) {
  Fixture a = tiny("nanoseek_grpo_t3a"), b = tiny("nanoseek_grpo_t3b");
  GrpoSpec s = small_spec();
  s.beta = 0.5;
  s.agg = GrpoConfig::Agg::Token;
  GrpoStage whole(s, *a.m, a.tok, PromptFormat::Plain, a.dir, a.dir, true);
  s.micro_rows = 2;
  GrpoStage split(s, *b.m, b.tok, PromptFormat::Plain, b.dir, b.dir, true);
  Rng rng(5);  // move both policies off their (equal) references, identically
  for (size_t i = 0; i < a.m->params.size(); ++i) {
    const float e = 0.02f * float(rng.normal());
    a.m->params[i] += e;
    b.m->params[i] += e;
  }
  a.m->zero_grad();
  b.m->zero_grad();
  const double la = whole.micro_step(*a.m, 0, 0).metrics.at("loss");
  double lb = 0;
  for (int k = 0; k < 4; ++k) lb += split.micro_step(*b.m, 0, k).metrics.at("loss") / 4;
  for (float& x : b.m->grads) x /= 4;  // what the Trainer does with grad_accum = 4
  EXPECT_NEAR(la, lb, 1e-5 * std::max(1.0, std::abs(la)));
  double num = 0, den = 0;
  for (size_t i = 0; i < a.m->grads.size(); ++i)
    num += std::pow(double(a.m->grads[i]) - b.m->grads[i], 2), den += std::pow(double(a.m->grads[i]), 2);
  EXPECT_LT(std::sqrt(num / den), 1e-4);
}

}  // namespace
}  // namespace nanoseek

namespace nanoseek {
namespace {

// The critic starts at V = 0 (value head zeroed) and regresses onto its targets with its own AdamW.
TEST(Critic, StartsAtZeroAndFitsReturns_B2_T8) {
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  cj["num_hidden_layers"] = 2;
  Model policy(parse_config(cj, "tiny"));
  policy.init(4);
  Critic critic(policy, AdamWConfig{0.9, 0.95, 1e-8, 0.0}, 3e-3, 1.0);
  std::vector<int32_t> ids(16);
  for (int i = 0; i < 16; ++i) ids[size_t(i)] = 5 + 7 * i % 300;
  const Batch b{2, 8, ids.data(), nullptr, nullptr, nullptr};
  const std::vector<int64_t> pos{3, 4, 5, 6, 11, 12, 13};
  std::vector<float> v(pos.size());
  critic.values(b, pos, v);
  for (float x : v) EXPECT_EQ(x, 0.f);
  const std::vector<float> returns{1, 1, 0.5f, -1, 0.2f, 0.2f, 2};
  double first = 0, last = 0;
  for (int it = 0; it < 60; ++it) {
    critic.values(b, pos, v);  // V_old = current values: the clip never binds on the first pass
    const ValueLossOut o = critic.accumulate(b, pos, v, returns, 1e9, 1.0);
    critic.step(1);
    if (it == 0) first = o.loss;
    last = o.loss;
  }
  EXPECT_GT(first, 0.3);
  EXPECT_LT(last, 0.1 * first);
}

// backward_from_logits is the gradient of Σ logits ⊙ dlogits: a central difference along the gradient agrees.
// Dense layers only: a perturbation along the whole gradient would flip MoE routing decisions (a kink).
TEST(Model, BackwardFromLogitsMatchesFiniteDifference_B2_T6) {
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  cj["num_hidden_layers"] = 2;
  cj["first_k_dense_replace"] = 2;
  Model m(parse_config(cj, "tiny"));
  m.init(6);
  m.enable_grad();
  std::vector<int32_t> ids(12);
  for (int i = 0; i < 12; ++i) ids[size_t(i)] = 3 + 11 * i % 400;
  const Batch b{2, 6, ids.data(), nullptr, nullptr, nullptr};
  Workspace ws = plan_workspace(m.cfg, 2, 6, true);
  Rng rng(2);
  std::vector<float> dl(size_t(12 * m.cfg.vocab_size));
  for (float& x : dl) x = float(rng.normal());
  m.forward(b, ws, LossConfig{0.0, 0.0});
  m.zero_grad();
  m.backward_from_logits(b, ws, dl.data());
  const std::vector<float> g = m.grads, p0 = m.params;
  double gn = 0;
  for (float x : g) gn += double(x) * x;
  gn = std::sqrt(gn);
  auto f = [&](double t) {
    for (size_t i = 0; i < p0.size(); ++i) m.params[i] = p0[i] + float(t * g[i] / gn);
    m.forward(b, ws, LossConfig{0.0, 0.0});
    double s = 0;
    for (size_t i = 0; i < dl.size(); ++i) s += double(ws.logits[i]) * dl[i];
    return s;
  };
  const double fd = (f(1e-4) - f(-1e-4)) / 2e-4;
  EXPECT_NEAR(fd, gn, 0.01 * gn);
}

}  // namespace
}  // namespace nanoseek

namespace nanoseek {
namespace {

// The same stage on a dense Qwen2 student: sampler log-probs equal the training forward's, and the gradient is that
// of the reported loss.
TEST(DenseGrpoStage, SamplerAgreesAndGradientIsFD_Qwen2_P2_G4) {
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/student-tiny.json"));
  cj["vocab_size"] = 1024;
  cj["num_hidden_layers"] = 2;
  DenseModel m(parse_dense_config(cj, "student"));
  m.init(7);
  m.enable_grad();
  const test::ScratchDir scratch("dense-grpo");
  const std::string dir = scratch / "model";
  make_dirs(dir);
  GrpoSpec s = small_spec();
  s.beta = 0.5;
  s.eps_low = s.eps_high = 10.0;
  GrpoStage st(s, m, Tokenizer::load(test::source_dir() + "/tests/golden/tokenizer/trained/"),
                    PromptFormat::Plain, dir, dir, true);
  m.zero_grad();
  const MicroResult r0 = st.micro_step(m, 0, 0);
  EXPECT_LT(r0.metrics.at("logp_drift_max"), 2e-4);
  Rng rng(9);
  for (float& p : m.params) p += 0.02f * float(rng.normal());
  m.zero_grad();
  st.micro_step(m, 1, 0);
  const std::vector<float> g = m.grads, p0 = m.params;
  const double gn = std::sqrt(test::dot(g, g));
  ASSERT_GT(gn, 0.0);
  auto loss_at = [&](double t) {
    for (size_t i = 0; i < p0.size(); ++i) m.params[i] = p0[i] + float(t * double(g[i]) / gn);
    m.zero_grad();
    return st.micro_step(m, 1, 0).metrics.at("loss");
  };
  const double fd = (loss_at(1e-3) - loss_at(-1e-3)) / 2e-3;
  EXPECT_NEAR(fd, gn, 0.02 * gn + 1e-4);
}

}  // namespace
}  // namespace nanoseek
