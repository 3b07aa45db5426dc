// Recipe keys carry their valid range (pipeline/recipe.cpp fields()): a value out of range is an Error at load, on
// --set and on a command's flag, naming the file and line, the key, the value and the bound — checked before any
// work (issue #11: log_every = 0 was a SIGFPE at the first step; eval.max_new_tokens = -1 failed after the last
// training step; eval.val_batches = -1 reported val_loss 0).
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/recipe.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using test::error_of;

TEST(RecipeBounds, OutOfRangeValueNamesFileLineKeyAndBound) {
  EXPECT_EQ(error_of([] { parse_recipe("[train]\nsteps = 3\nlog_every = 0\n", "t.toml"); }),
            "t.toml line 3: 'train.log_every' = 0 must be >= 1");
  EXPECT_NE(error_of([] { parse_recipe("[eval]\nval_batches = -1\n", "t.toml"); }).find("must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_recipe("[grpo]\ntop_p = 0.0\n", "t.toml"); }).find("must be in (0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_recipe("[sft]\nval_fraction = 1.0\n", "t.toml"); }).find("must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_recipe("[data]\ntask_weights = [1.0, -2.0]\n", "t.toml"); }).find("must be >= 0"),
            std::string::npos);
}

TEST(RecipeBounds, SetAndFlagsAreCheckedToo) {
  Recipe r;
  EXPECT_EQ(error_of([&] { apply_override(r, "eval.max_new_tokens=-1"); }),
            "--set eval.max_new_tokens=-1: 'eval.max_new_tokens' = -1 must be >= 1");
  EXPECT_NE(error_of([&] { apply_override(r, "grpo.log_every=0"); }).find("'grpo.log_every' = 0 must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(r, "train.lr=nan"); }).find("is nan"), std::string::npos);
  for (const SectionFlag& f : section_flags("sft"))
    if (f.key == "sft.log_every")
      EXPECT_NE(error_of([&] { apply_flag(r, f, "0"); }).find("--log-every: 'sft.log_every' = 0 must be >= 1"),
                std::string::npos);
  // the old value survives a refused one
  EXPECT_EQ(r.max_new_tokens, Recipe{}.max_new_tokens);
}

TEST(RecipeBounds, EveryDefaultIsInItsRange) {
  for (const char* section : {"data", "train", "eval", "grpo", "sft", "distill", "r1", "r1zero"})
    for (const SectionFlag& f : section_flags(section)) {
      Recipe r;
      EXPECT_NO_THROW(apply_flag(r, f, f.default_value)) << f.key << " = " << f.default_value;
    }
  // and every committed recipe loads
  for (const char* name : {"ablation", "ci-r1", "ci-r1zero", "ci-student", "ci-tiny", "r1-tiny", "r1zero-qwen-tiny",
                           "r1zero-tiny", "student-base", "tiny-base"})
    EXPECT_NO_THROW(load_recipe(test::source_dir() + "/recipes/" + name + ".toml")) << name;
}

TEST(RecipeBounds, TheHelpShowsTheRange) {
  EXPECT_NE(recipe_help().find("train.log_every"), std::string::npos);
  EXPECT_NE(recipe_help().find("must be >= 1"), std::string::npos);
}

TEST(RecipeBounds, CommandsRefuseBeforeAnyWork) {
  test::ScratchDir d("bounds-cli");
  const std::string bin = NANOSEEK_BINARY, recipe = test::source_dir() + "/recipes/ci-tiny.toml";
  auto [rc, log] = test::run_cmd(bin + " pretrain " + recipe + " --out " + d / "run" + " --set train.log_every=0");
  EXPECT_EQ(rc, 1) << log;   // an Error, not a SIGFPE
  EXPECT_NE(log.find("'train.log_every' = 0 must be >= 1"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(d / "run/corpus")) << "work was done before the check";
  std::tie(rc, log) = test::run_cmd(bin + " pretrain " + recipe + " --out " + d / "run2" +
                                    " --set eval.max_new_tokens=-1");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("'eval.max_new_tokens' = -1 must be >= 1"), std::string::npos) << log;
  std::tie(rc, log) = test::run_cmd(bin + " eval --model " + d / "nomodel" + " --task add --out " +
                                    d / "missing/ev.json");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("eval --out"), std::string::npos) << log;
  EXPECT_NE(log.find("does not exist"), std::string::npos) << log;
}

}  // namespace
}  // namespace nanoseek
