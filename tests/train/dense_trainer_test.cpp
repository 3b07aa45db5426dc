// The shared Trainer on a dense student: AdamW over the dense layout (no decay on norms and biases), resume is
// bit-exact (8 steps straight == 4 + resume + 4: losses, parameters), the final dir is an HF dense directory.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "model/dense.h"
#include "train/trainer.h"
#include "test_util.h"

namespace nanoseek {
namespace {

// Next-token SFT on a fixed random stream; micro-batch contents are a pure function of (step, micro).
class FixedDenseStage : public TrainStage {
 public:
  FixedDenseStage(const DenseModel& m, int64_t B, int64_t T) : B_(B), T_(T), acts_(m.plan(B, T, true)) {
    Rng r(17);
    for (int i = 0; i < 64; ++i) stream_.push_back(int32_t(r.below(uint64_t(m.cfg.vocab_size / 4))));  // learnable
  }
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override {
    std::vector<int32_t> ids(size_t(B_ * T_)), tg(size_t(B_ * T_));
    for (int64_t i = 0; i < B_ * T_; ++i) {
      const size_t at = size_t((step * 2 + micro) * 3 + i) % (stream_.size() - 1);
      ids[i] = stream_[at];
      tg[i] = stream_[at + 1];
    }
    const Batch b{B_, T_, ids.data(), tg.data(), nullptr};
    const StepStats s = m.forward(b, *acts_, {});
    m.backward(b, *acts_, {});
    return {B_ * T_, {{"loss", s.loss}}, {}};
  }

 private:
  int64_t B_, T_;
  std::unique_ptr<Activations> acts_;
  std::vector<int32_t> stream_;
};

std::unique_ptr<DenseModel> student() {
  auto m = load_dense_model(test::source_dir() + "/tests/golden/dense/qwen2_gqa_untied_packed");
  return m;
}

TrainConfig config(const std::string& out) {
  TrainConfig c;
  c.steps = 8;
  c.grad_accum = 2;
  c.lr = LrSchedule{LrKind::Cosine, 3e-3, 3e-4, 2, 8, 0.2};
  c.out_dir = out;
  c.quiet = true;
  c.gamma = 0.001;   // no router: must be a no-op for a dense model
  return c;
}

}  // namespace

TEST(DenseTrainer, AdamWSpans_DecayMatricesOnly_Qwen2Untied) {
  auto m = student();
  const auto spans = m->trainable_spans();
  ASSERT_EQ(spans.size(), m->layout.specs.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    const std::string& name = m->layout.specs[i].name;
    const bool matrix = name.ends_with("proj.weight") || name == "model.embed_tokens.weight" || name == "lm_head.weight";
    EXPECT_EQ(spans[i].decay, matrix) << name;
  }
}

TEST(DenseTrainer, ResumeIsBitIdentical_8steps_B2_T7_accum2_LossFalls) {
  const test::ScratchDir scratch("dense-trainer");
  const std::string root = scratch.path;
  std::filesystem::remove_all(root);
  auto a = student();
  FixedDenseStage sa(*a, 2, 7);
  Trainer ta(*a, config(root + "/a"), sa);
  ASSERT_TRUE(ta.run());
  EXPECT_LT(ta.losses.back(), ta.losses.front());
  {
    auto b = student();
    FixedDenseStage sb(*b, 2, 7);
    Trainer tb(*b, config(root + "/b"), sb);
    EXPECT_FALSE(tb.run(4));
  }
  auto c = student();
  FixedDenseStage sc(*c, 2, 7);
  Trainer tc(*c, config(root + "/b"), sc);
  EXPECT_EQ(tc.resume(), 4);
  ASSERT_TRUE(tc.run());
  ASSERT_EQ(tc.losses.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(tc.losses[i], ta.losses[4 + i]) << "step " << 5 + i;
  EXPECT_EQ(a->params, c->params) << "parameters differ after resume";
  tc.save_final(root + "/final");
  auto back = load_dense_model(root + "/final");
  EXPECT_EQ(back->params, c->params);
  std::filesystem::remove_all(root);
}

}  // namespace nanoseek
