// The shared training loop: resume is bit-exact (N steps straight == N/2 + resume + N/2, losses and parameters
// compared exactly), SIGINT saves a checkpoint and stops, checkpoints are whole or absent, the aux-loss-free bias
// moves, and the loss goes down on a repeated batch.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "core/fs.h"
#include "core/rng.h"
#include "data/loader.h"
#include "model/model.h"
#include "train/trainer.h"

namespace nanoseek {
namespace {

ModelConfig tiny_moe_config() {
  nlohmann::json j = {
      {"model_type", "deepseek_v3"}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 64},
      {"moe_intermediate_size", 16}, {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"q_lora_rank", 16},
      {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8}, {"qk_rope_head_dim", 8}, {"v_head_dim", 8},
      {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2}, {"n_group", 1},
      {"topk_group", 1}, {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"}, {"norm_topk_prob", true},
      {"routed_scaling_factor", 1.0}, {"first_k_dense_replace", 1}, {"moe_layer_freq", 1},
      {"num_nextn_predict_layers", 1}, {"max_position_embeddings", 64}, {"rope_theta", 10000.0},
      {"rms_norm_eps", 1e-6}, {"initializer_range", 0.02}, {"tie_word_embeddings", false},
      {"bos_token_id", 0}, {"eos_token_id", 1}};
  return parse_config(j, "tiny_moe");
}

Shard synthetic_shard(int64_t n) {  // documents of 5..20 tokens with a learnable pattern, ended by EOS (1)
  Shard s;
  s.eos_id = 1;
  Rng r(5);
  while (int64_t(s.tokens.size()) < n) {
    const int64_t len = r.range(5, 20);
    int32_t x = int32_t(r.range(2, 63));
    for (int64_t i = 0; i < len; ++i) s.tokens.push_back(x), x = 2 + (x * 7 + 3) % 62;
    s.tokens.push_back(1);
    ++s.n_docs;
  }
  return s;
}

struct LoaderStage : TrainStage {
  LoaderStage(const Model& m, const Shard& sh, int64_t B, int64_t T)
      // Stream windows: this synthetic shard (documents up to 21 tokens) was sized for T = 16 cut windows; whole-
      // document rows would hold one truncated document each and repeat less in 20 steps.
      : loader(sh, B, T, 11, true, Pack::Stream), ws(plan_workspace(m.cfg, B, T, true)) {}
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override {
    if (interrupt_at == step && micro == 0) std::raise(SIGINT);
    const Batch b = loader.next();
    const StepStats s = m.forward(b, ws, lc);
    m.backward(b, ws, lc);
    return {b.B * b.T, {{"loss", s.loss}, {"mtp_loss", s.mtp}}, s.expert_load};
  }
  nlohmann::json state() const override { return {{"e", loader.pos().epoch}, {"c", loader.pos().cursor}}; }
  void restore(const nlohmann::json& j) override { loader.set_pos({j.at("e").get<int64_t>(), j.at("c").get<int64_t>()}); }
  DataLoader loader;
  Workspace ws;
  LossConfig lc{0.3, 0.001};
  int64_t interrupt_at = -1;
};

std::string fresh_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "nanoseek_trainer_" + name;
  std::filesystem::remove_all(d);
  return d;
}

TrainConfig config(const std::string& dir, int64_t steps) {
  TrainConfig c;
  c.steps = steps;
  c.grad_accum = 2;
  c.lr = LrSchedule{LrKind::Cosine, 3e-3, 3e-4, 2, steps, 0.2};
  c.out_dir = dir;
  c.quiet = true;
  c.gamma = 0.01;
  return c;
}

TEST(Trainer, ResumeIsBitIdentical_8steps_B2_T16_accum2) {
  const Shard sh = synthetic_shard(4000);
  const ModelConfig cfg = tiny_moe_config();
  // Straight run.
  Model a(cfg);
  a.init(3);
  LoaderStage sa(a, sh, 2, 16);
  Trainer ta(a, config(fresh_dir("straight"), 8), sa);
  ASSERT_TRUE(ta.run());
  ASSERT_EQ(ta.losses.size(), 8u);
  // Half, stop (checkpoint), then a fresh process-like object resumes.
  const std::string dir = fresh_dir("halves");
  {
    Model b(cfg);
    b.init(3);
    LoaderStage sb(b, sh, 2, 16);
    Trainer tb(b, config(dir, 8), sb);
    EXPECT_FALSE(tb.run(4));
    ASSERT_EQ(tb.losses.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(tb.losses[i], ta.losses[i]) << "step " << i;
  }
  ASSERT_TRUE(dir_exists(dir + "/ckpt-4"));
  EXPECT_FALSE(dir_exists(dir + "/ckpt-tmp"));
  Model c(cfg);
  c.init(99);  // different init: everything must come from the checkpoint
  LoaderStage sc(c, sh, 2, 16);
  Trainer tc(c, config(dir, 8), sc);
  EXPECT_EQ(tc.resume(), 4);
  ASSERT_TRUE(tc.run());
  ASSERT_EQ(tc.losses.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(tc.losses[i], ta.losses[4 + i]) << "step " << 4 + i;
  ASSERT_EQ(c.params.size(), a.params.size());
  EXPECT_EQ(0, std::memcmp(c.params.data(), a.params.data(), a.params.size() * sizeof(float)))
      << "parameters (incl. router biases) differ after resume";
  // metrics.jsonl has exactly one line per step.
  const std::string metrics = read_file(dir + "/metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 8);
}

TEST(Trainer, SigintSavesCheckpointAndStops_B2_T16) {
  const Shard sh = synthetic_shard(2000);
  Model m(tiny_moe_config());
  m.init(1);
  LoaderStage st(m, sh, 2, 16);
  st.interrupt_at = 2;  // Ctrl-C arrives during step 3's first micro-batch
  const std::string dir = fresh_dir("sigint");
  Trainer t(m, config(dir, 10), st);
  EXPECT_FALSE(t.run());
  EXPECT_EQ(t.step(), 3);  // the step in flight completes, then it saves
  EXPECT_EQ(latest_checkpoint(dir), dir + "/ckpt-3");
  EXPECT_TRUE(file_exists(dir + "/ckpt-3/model.safetensors"));
  EXPECT_TRUE(file_exists(dir + "/ckpt-3/optimizer.safetensors"));
}

TEST(Trainer, IncompleteCheckpointDirIsIgnored) {
  const std::string dir = fresh_dir("incomplete");
  make_dirs(dir + "/ckpt-7");            // no trainer_state.json: a crash mid-write would look like this
  make_dirs(dir + "/ckpt-tmp");
  make_dirs(dir + "/ckpt-2");
  write_file_atomic(dir + "/ckpt-2/trainer_state.json", "{}");
  EXPECT_EQ(latest_checkpoint(dir), dir + "/ckpt-2");
  EXPECT_EQ(latest_checkpoint(dir + "/missing"), "");
}

TEST(Trainer, BiasMovesAndLossFalls_B2_T16_20steps) {
  const Shard sh = synthetic_shard(400);  // ~12 windows: repeated data, the loss must fall clearly
  Model m(tiny_moe_config());
  m.init(2);
  LoaderStage st(m, sh, 2, 16);
  TrainConfig c = config(fresh_dir("falls"), 20);
  Trainer t(m, c, st);
  ASSERT_TRUE(t.run());
  EXPECT_LT(t.losses.back(), 0.8 * t.losses.front());
  const float* bias = m.w.layers[1].router_bias;
  double moved = 0;
  for (int e = 0; e < 4; ++e) moved += std::fabs(bias[e]);
  EXPECT_GT(moved, 0.0) << "the aux-loss-free bias never moved";
}

}  // namespace
}  // namespace nanoseek
