// Recipes: strict keys with "did you mean", typed --set overrides, model fields inline, the shipped recipes parse.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "test_util.h"
#include "pipeline/recipe.h"

namespace nanoseek {
namespace {

using test::error_of;

TEST(Recipe, ParsesSectionsAndTypes) {
  const Recipe r = parse_recipe(R"(
[model]
hidden_size = 64
q_lora_rank = 0
[data]
tasks = ["add"]
task_weights = [1]
wrong = 0.25
[train]
lr = 3e-4
steps = 7
seed = 5
[eval]
levels = ["d1", "d2"]
)", "r.toml");
  EXPECT_EQ(r.model_inline["hidden_size"], 64);
  EXPECT_TRUE(r.model_inline["q_lora_rank"].is_null());
  EXPECT_EQ(r.data.tasks, std::vector<std::string>{"add"});
  EXPECT_EQ(r.data.task_weights, std::vector<double>{1.0});
  EXPECT_DOUBLE_EQ(r.data.wrong, 0.25);
  EXPECT_DOUBLE_EQ(r.optim.lr, 3e-4);
  EXPECT_EQ(r.steps, 7);
  EXPECT_EQ(r.seed, 5u);
  EXPECT_EQ(r.eval_levels.size(), 2u);
}

TEST(Recipe, UnknownKeysNameTheKeyLineAndSuggestion) {
  std::string e = error_of([] { parse_recipe("[train]\nlearning_rat = 1\n", "x.toml"); });
  EXPECT_NE(e.find("x.toml line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'train.learning_rat'"), std::string::npos) << e;
  e = error_of([] { parse_recipe("[train]\nstepz = 1\n", "x.toml"); });
  EXPECT_NE(e.find("did you mean 'train.steps'"), std::string::npos) << e;
  e = error_of([] { parse_recipe("[trian]\nsteps = 1\n", "x.toml"); });
  EXPECT_NE(e.find("did you mean 'train'"), std::string::npos) << e;
  e = error_of([] { parse_recipe("[model]\nhiden_size = 1\n", "x.toml"); });
  EXPECT_NE(e.find("did you mean 'hidden_size'"), std::string::npos) << e;
  e = error_of([] { parse_recipe("[train]\nsteps = \"many\"\n", "x.toml"); });
  EXPECT_NE(e.find("'train.steps' must be an integer"), std::string::npos) << e;
  e = error_of([] { parse_recipe("[train\n", "x.toml"); });
  EXPECT_NE(e.find("x.toml line 1"), std::string::npos) << e;
}

TEST(Recipe, OverridesAreTyped) {
  Recipe r;
  apply_override(r, "train.lr=3e-4");
  EXPECT_DOUBLE_EQ(r.optim.lr, 3e-4);
  apply_override(r, "train.steps=12");
  EXPECT_EQ(r.steps, 12);
  apply_override(r, "data.format=plain");  // bare words are strings
  EXPECT_EQ(r.format, PromptFormat::Plain);
  apply_override(r, "data.tasks=[\"mul\",\"add\"]");
  EXPECT_EQ(r.data.tasks.size(), 2u);
  apply_override(r, "model.hidden_size=96");
  EXPECT_EQ(r.model_inline["hidden_size"], 96);
  EXPECT_NE(error_of([&] { apply_override(r, "train.steps=1.5"); }).find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(r, "train.lrr=1"); }).find("did you mean 'train.lr'"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(r, "steps=1"); }).find("section.key"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(r, "train.steps"); }).find("section.key=value"), std::string::npos);
}

TEST(Recipe, ShippedRecipesParse) {
  for (const char* name : {"tiny-base.toml", "ci-tiny.toml"}) {
    const Recipe r = load_recipe(test::source_dir() + "/recipes/" + name);
    const auto j = model_config_json(r, 300, 0, 1);
    EXPECT_EQ(j["vocab_size"], 300) << name;
    EXPECT_GT(r.steps, 0) << name;
  }
}

TEST(Recipe, EditDistance) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(did_you_mean("zzzzzzzz", {"train.lr"}), "");
}

}  // namespace
}  // namespace nanoseek

namespace nanoseek {
namespace {

// Enumerations are parsed and checked at load (a wrong name is an Error naming the key and the valid names), and
// the optimizer keys are the same in every section.
TEST(Recipe, EnumsParsedAtLoadAndOneOptimizerSpecPerSection) {
  const Recipe r = parse_recipe(
      "[train]\nschedule = \"wsd\"\nbeta2 = 0.99\n[data]\npack = \"stream\"\nformat = \"plain\"\n"
      "[grpo]\nschedule = \"cosine\"\nlr = 5e-5\n[sft]\nlr = 3e-3\nwarmup = 4\n[distill]\nk = 3\ntemperature = 0.7\n",
      "t.toml");
  EXPECT_EQ(r.optim.schedule, LrKind::Wsd);
  EXPECT_DOUBLE_EQ(r.optim.beta2, 0.99);
  EXPECT_EQ(r.pack, Pack::Stream);
  EXPECT_EQ(r.format, PromptFormat::Plain);
  EXPECT_EQ(r.grpo.optim.schedule, LrKind::Cosine);
  EXPECT_DOUBLE_EQ(r.grpo.optim.lr, 5e-5);
  EXPECT_DOUBLE_EQ(r.sft.optim.lr, 3e-3);
  EXPECT_EQ(r.sft.optim.warmup, 4);
  EXPECT_EQ(r.distill.k, 3);
  EXPECT_FLOAT_EQ(r.distill.temperature, 0.7f);
  const std::string e = error_of([] { parse_recipe("[train]\nschedule = \"cosin\"\n", "t.toml"); });
  EXPECT_NE(e.find("t.toml line 2: 'train.schedule' = 'cosin' is not one of: cosine, wsd, constant (did you mean "
                   "'cosine'?)"), std::string::npos) << e;
  EXPECT_NE(error_of([] { parse_recipe("[data]\npack = 3\n", "t.toml"); }).find("must be one of: docs, stream"),
            std::string::npos);
  const Recipe g = parse_recipe("[grpo]\nalgo = \"ppo\"\nagg = \"token\"\n", "t.toml");
  EXPECT_EQ(g.grpo.algo, RlAlgo::Ppo);
  EXPECT_EQ(g.grpo.agg, GrpoConfig::Agg::Token);
  EXPECT_NE(error_of([] { parse_recipe("[grpo]\nalgo = \"dpo\"\n", "t.toml"); }).find("is not one of: grpo, ppo"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_recipe("[grpo]\nagg = \"tokens\"\n", "t.toml"); })
                .find("is not one of: sequence, token (did you mean 'token'?)"),
            std::string::npos);
}

// A command's flags are its section's keys: same names (underscores as dashes, or the declared flag), defaults
// from the spec structs, and applying a flag is the --set of its key.
TEST(Recipe, SectionFlagsAreTheSectionKeys) {
  const auto flags = section_flags("distill");
  auto find = [&](const std::string& flag) {
    for (const auto& f : flags)
      if (f.flag == flag) return f;
    ADD_FAILURE() << "no flag --" << flag;
    return SectionFlag{};
  };
  EXPECT_EQ(find("kd-topk").key, "distill.kd_topk");
  EXPECT_EQ(find("max-tokens").key, "distill.max_new_tokens");
  EXPECT_EQ(find("engine-batch").default_value, "64");
  EXPECT_EQ(find("lr").default_value, "0.001");
  EXPECT_TRUE(find("levels").list);
  Recipe r;
  apply_flag(r, find("levels"), "d1,d3");
  EXPECT_EQ(r.distill.levels, (std::vector<std::string>{"d1", "d3"}));
  apply_flag(r, find("weight-decay"), "0.05");
  EXPECT_DOUBLE_EQ(r.distill.optim.weight_decay, 0.05);
  EXPECT_NE(error_of([&] { apply_flag(r, find("k"), "two"); }).find("--k: 'distill.k' must be an integer"),
            std::string::npos);
  EXPECT_GT(section_flags("sft").size(), 20u);
  for (const auto& f : section_flags("sft")) EXPECT_EQ(f.key.rfind("sft.", 0), 0u) << f.key;
}

}  // namespace
}  // namespace nanoseek
