// Seeded mutation tests of the text parsers (issue #11): a few thousand byte-level and token-level mutations of a
// valid input each — config.json of both architectures, a TOML recipe and its --set overrides, chat and tokenize
// JSONL lines, eval.json, trainer_state.json. The only acceptable outcomes are success or a nanoseek::Error; any
// other exception fails the test with the input that caused it (crashes and sanitizer reports fail the run).
// The same targets run under libFuzzer in fuzz/ (docs/benchmarks.md has the figures).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "core/rng.h"
#include "data/chat_data.h"
#include "model/language_model.h"
#include "pipeline/recipe.h"
#include "rl/grpo_stage.h"
#include "tasks/problem_json.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"
#include "test_util.h"

namespace nanoseek {
namespace {

// Tokens that reach the corners of the readers: type confusions, overflowing and boundary numbers, nesting.
const char* const kTokens[] = {"1e400", "-1", "0", "null", "true", "\"x\"", "[", "]", "{", "}", ",", ":", "\"",
                               "18446744073709551615", "9223372036854775807", "-9223372036854775808", "4611686018427387904",
                               "1000000000", "2.5", "[[[[[[[[", "{\"a\":", "\\u0000", "\xff", "nan", "=", "\n",
                               "[model]", "[grpo]", "'", "\"\"\"", "1e-400", "inf"};

std::string mutate(const std::string& in, Rng& r) {
  std::string s = in;
  const int edits = 1 + int(r.next() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : size_t(r.next() % (s.size() + 1));
    switch (r.next() % 6) {
      case 0: if (at < s.size()) s[at] = char(r.next()); break;                       // replace a byte
      case 1: s.insert(at, 1, char(r.next())); break;                                  // insert a byte
      case 2: s.erase(at, size_t(r.next() % 8)); break;                                // delete a few
      case 3: s.insert(at, kTokens[r.next() % std::size(kTokens)]); break;             // insert a token
      case 4: {                                                                         // replace a number
        const size_t d = s.find_first_of("0123456789", at);
        if (d == std::string::npos) break;
        const size_t end = s.find_first_not_of("0123456789.e-", d);
        s.replace(d, (end == std::string::npos ? s.size() : end) - d, kTokens[r.next() % std::size(kTokens)]);
        break;
      }
      default: {                                                                        // duplicate a span
        const size_t len = size_t(r.next() % 32);
        if (at < s.size()) s.insert(at, s.substr(at, len));
      }
    }
  }
  return s;
}

// Runs `target` on `n` mutations of `seed_text`; counts successes. Anything but an Error is a test failure.
template <typename F>
int fuzz(const std::string& name, const std::string& seed_text, int n, uint64_t seed, F&& target) {
  Rng r(seed);
  int ok = 0, errors = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string input = i == 0 ? seed_text : mutate(seed_text, r);
    try {
      target(input);
      ++ok;
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " mutation " << i << ": " << e.what() << "\ninput: " << input;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 2.0) << name << ": mutations must stay cheap";
  EXPECT_GT(errors, n / 10) << name << ": the mutations should reach the error paths";
  return ok;
}

std::string source(const std::string& rel) { return read_file(test::source_dir() + "/" + rel); }

TEST(Mutation, ConfigJsonBothArchitectures) {
  for (const char* f : {"configs/tiny.json", "configs/student-tiny.json", "configs/deepseek-v3.json"}) {
    const int ok = fuzz(f, source(f), 3000, 11, [](const std::string& text) {
      const nlohmann::json j = parse_json(text, "config.json");
      const ModelSummary s = summarize_config(j, "config.json", 4096);
      EXPECT_GE(s.total_params, 0);
    });
    EXPECT_GT(ok, 10) << f;   // the unmutated seed and mutations of unknown-to-us bytes still parse
  }
}

TEST(Mutation, RecipeTomlAndSetOverrides) {
  const std::string recipe = source("recipes/ci-tiny.toml");
  fuzz("recipe", recipe, 2000, 12, [](const std::string& text) { parse_recipe(text, "recipe.toml"); });
  const Recipe base = parse_recipe(recipe, "recipe.toml");
  fuzz("--set", "train.lr=3e-3", 2000, 13, [&](const std::string& assignment) {
    Recipe r = base;
    apply_override(r, assignment);
  });
  fuzz("--set model", "model.hidden_size=64", 1000, 14, [&](const std::string& assignment) {
    Recipe r = base;
    apply_override(r, assignment);
  });
}

TEST(Mutation, ChatAndTokenizeJsonlLines) {
  const std::string chat = R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},)"
                           R"({"role":"assistant","content":"a"}],"problem":{"task":"add","answer":"3"}})";
  fuzz("chat jsonl", chat + "\n" + chat, 3000, 15,
       [](const std::string& text) { parse_chat_jsonl(text, "data.jsonl"); });
  fuzz("tokenize jsonl", R"({"text": "hello 1+2=3"})", 2000, 16, [](const std::string& line) {
    const nlohmann::json j = parse_json_line(line, "in.jsonl line 1");
    json_string(j, "text", "in.jsonl line 1");
  });
  fuzz("tasks jsonl", R"({"task":"add","level":"d1","seed":3,"question":"1+2","answer":"3","completion":"3"})", 2000,
       17, [](const std::string& line) { problem_from_json(parse_json_line(line, "t.jsonl line 1"), "t.jsonl line 1"); });
}

TEST(Mutation, EvalJson) {
  const std::string dir = ::testing::TempDir() + "nanoseek_mutation_eval";
  std::filesystem::remove_all(dir);
  make_dirs(dir);
  const Tokenizer tok = Tokenizer::load(test::source_dir() + "/tests/golden/tokenizer/trained");
  fuzz("eval.json", R"({"prompt_format": "r1-zero", "tasks": {"add": {"pass@1": 0.5}}, "stage": "pretrain"})", 600,
       18, [&](const std::string& text) {
         std::ofstream(dir + "/eval.json", std::ios::binary | std::ios::trunc) << text;
         model_prompt_format(dir);
         rendering_for_model(dir, tok, "auto");
       });
  std::filesystem::remove_all(dir);
}

struct NullStage : TrainStage {
  MicroResult micro_step(LanguageModel&, int64_t, int) override { return {1, {{"loss", 0.0}}, {}}; }
  nlohmann::json state() const override { return {{"epoch", 1}, {"cursor", 7}}; }
  void restore(const nlohmann::json& j) override {
    epoch = j.at("epoch").get<int64_t>();   // unchecked, like the real stages: the trainer names the file
    cursor = j.at("cursor").get<int64_t>();
  }
  int64_t epoch = 0, cursor = 0;
};

TEST(Mutation, TrainerStateJson) {
  const std::string dir = ::testing::TempDir() + "nanoseek_mutation_state";
  std::filesystem::remove_all(dir);
  auto m = make_language_model(parse_json(source("configs/student-tiny.json"), "student"), "student");
  m->init(1);
  NullStage stage;
  TrainConfig c;
  c.out_dir = dir;
  c.quiet = true;
  {
    Trainer t(*m, c, stage);
    t.save_checkpoint();
  }
  const std::string path = latest_checkpoint(dir) + "/trainer_state.json";
  const std::string good = read_file(path);
  fuzz("trainer_state.json", good, 250, 19, [&](const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    Trainer t(*m, c, stage);
    t.resume();
  });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nanoseek
