// PPO's critic across a checkpoint: saved and loaded (weights, AdamW moments, step count), it continues exactly as
// the critic that never stopped. Regression: checkpoints held no critic, so a resumed PPO run restarted it from the
// initial policy with fresh moments.
#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "core/fs.h"
#include "model/dense.h"
#include "rl/critic.h"
#include "test_util.h"

namespace nanoseek {
namespace {

std::unique_ptr<DenseModel> tiny_policy() {
  const nlohmann::json j = {{"model_type", "qwen2"}, {"vocab_size", 32}, {"hidden_size", 16},
                            {"intermediate_size", 24}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                            {"num_key_value_heads", 1}, {"max_position_embeddings", 32}, {"rope_theta", 10000.0},
                            {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", false}};
  auto m = std::make_unique<DenseModel>(parse_dense_config(j, "critic-test"));
  m->init(11);
  return m;
}

// One optimizer step of the critic toward fixed returns on a fixed batch.
void train_step(Critic& c, const Batch& b, const std::vector<int64_t>& pos, const std::vector<float>& ret) {
  std::vector<float> old(pos.size());
  c.values(b, pos, old);
  c.accumulate(b, pos, old, ret, 0.2, 1.0);
  c.step(1);
}

TEST(Critic, SaveLoadContinuesBitwiseAsTheUninterruptedCritic) {
  const test::ScratchDir dir("critic");
  auto policy = tiny_policy();
  const std::vector<int32_t> ids = {1, 5, 9, 3, 7, 2, 8, 4};
  const Batch b{1, 8, ids.data(), nullptr, nullptr, nullptr};
  const std::vector<int64_t> pos = {2, 3, 4, 5, 6, 7};
  const std::vector<float> ret = {0.5f, -0.25f, 1.f, 0.f, 0.75f, -1.f};
  const AdamWConfig opt{0.9, 0.95, 1e-8, 0.0};

  Critic a(*policy, opt, 1e-2, 1.0), b2(*policy, opt, 1e-2, 1.0);
  for (int i = 0; i < 3; ++i) train_step(a, b, pos, ret);
  a.save(dir / "critic.safetensors");
  b2.load(dir / "critic.safetensors");
  for (int i = 0; i < 2; ++i) train_step(a, b, pos, ret), train_step(b2, b, pos, ret);
  std::vector<float> va(pos.size()), vb(pos.size());
  a.values(b, pos, va);
  b2.values(b, pos, vb);
  EXPECT_EQ(va, vb);                                  // bitwise: same weights, moments and bias correction
  EXPECT_NE(std::accumulate(va.begin(), va.end(), 0.0), 0.0);   // the critic did learn (V ≡ 0 at the start)

  // A critic of another shape, or a truncated file, is an Error naming the file.
  EXPECT_THROW(b2.load(dir / "missing.safetensors"), Error);
  write_file_atomic(dir / "bad.safetensors", "not a safetensors file");
  EXPECT_THROW(b2.load(dir / "bad.safetensors"), Error);
}

}  // namespace
}  // namespace nanoseek
