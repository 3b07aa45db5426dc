// Run directories (issue #11): OUT is claimed with a flock'ed OUT/.lock naming its holder; a non-empty OUT needs
// --resume or --overwrite; the last checkpoint precedes the final evaluation and a run resumed from it redoes only
// that evaluation; final/ is replaced whole; a log write failure is an Error; stage logs are trimmed on resume;
// trainer_state.json records the seed, the thread count and the fingerprint a --resume is checked against.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "data/loader.h"
#include "model/model.h"
#include "test_util.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace nanoseek {
namespace {

using test::error_of;

TEST(RunDir, NonEmptyOutNeedsResumeOrOverwrite) {
  test::ScratchDir d("rundir");
  const std::string out = d / "run";
  { RunDir fresh(out, {}); }   // a missing dir is created
  make_dirs(out + "/ckpt-4");
  write_file_atomic(out + "/metrics.jsonl", "{}\n");
  const std::string e = error_of([&] { RunDir again(out, {}); });
  EXPECT_EQ(e, out + " is not empty (it holds a run: ckpt-4, metrics.jsonl); use --resume to continue it or "
                     "--overwrite to replace it");
  { RunDir resumed(out, {.resume = true}); }
  EXPECT_TRUE(dir_exists(out + "/ckpt-4"));
  { RunDir replaced(out, {.overwrite = true}); }
  EXPECT_FALSE(dir_exists(out + "/ckpt-4"));
  EXPECT_FALSE(file_exists(out + "/metrics.jsonl"));
  { RunDir empty_again(out, {}); }   // only the lock is left: empty
  EXPECT_NE(error_of([&] { RunDir both(out, {.resume = true, .overwrite = true}); }).find("exclude each other"),
            std::string::npos);
}

TEST(RunDir, SecondHolderFailsNamingThePidAndTheLockIsFreedOnRelease) {
  test::ScratchDir d("lock");
  const std::string out = d / "run";
  auto first = std::make_unique<RunDir>(out, RunDirMode{});
  EXPECT_EQ(read_file(out + "/.lock"), std::to_string(getpid()) + "\n");
  const std::string e = error_of([&] { RunDir second(out, {.resume = true}); });
  EXPECT_NE(e.find("another run is using this directory (pid " + std::to_string(getpid())), std::string::npos) << e;
  first.reset();
  EXPECT_NO_THROW(RunDir third(out, {.resume = true}));
}

// ---- the Trainer's side, on a tiny DeepSeek-V3 model ----

ModelConfig tiny_config() {
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
  return parse_config(j, "tiny");
}

Shard tiny_shard() {
  Shard s;
  s.eos_id = 1;
  Rng r(5);
  while (s.tokens.size() < 2000) {
    const int64_t len = r.range(5, 20);
    for (int64_t i = 0; i < len; ++i) s.tokens.push_back(int32_t(r.range(2, 63)));
    s.tokens.push_back(1);
    ++s.n_docs;
  }
  return s;
}

// Evaluates to {"val": step}, or throws at the last step when told to (a crash in the final evaluation); appends
// one line per step to its own log, as GRPO's completions.jsonl.
struct EvalStage : TrainStage {
  EvalStage(const Model& m, const Shard& sh, std::string out)
      : loader(sh, 2, 16, 11, true, Pack::Stream), ws(plan_workspace(m.cfg, 2, 16, true)), out_(std::move(out)) {}
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override {
    if (micro == 0) append_line(out_ + "/samples.jsonl", nlohmann::json{{"step", step}}.dump());
    const Batch b = loader.next();
    const StepStats s = m.forward(b, ws, {});
    m.backward(b, ws, {});
    return {b.B * b.T, {{"loss", s.loss}}, s.expert_load};
  }
  std::map<std::string, double> evaluate(LanguageModel&, int64_t step) override {
    if (fail_eval) throw Error("evaluation failed");
    return {{"val", double(step)}};
  }
  nlohmann::json state() const override { return {{"e", loader.pos().epoch}, {"c", loader.pos().cursor}}; }
  void restore(const nlohmann::json& j) override { loader.set_pos({j.at("e").get<int64_t>(), j.at("c").get<int64_t>()}); }
  std::vector<std::string> logs() const override { return {"samples.jsonl"}; }
  DataLoader loader;
  Workspace ws;
  std::string out_;
  bool fail_eval = false;
};

TrainConfig config(const std::string& dir, int64_t steps) {
  TrainConfig c;
  c.steps = steps;
  c.lr = LrSchedule{LrKind::Cosine, 3e-3, 3e-4, 0, steps, 0.2};
  c.out_dir = dir;
  c.quiet = true;
  c.seed = 77;
  c.fingerprint = {{"batch_size", 2}, {"data", "tiny"}};
  return c;
}

std::vector<nlohmann::json> jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(RunDirTrainer, LastCheckpointPrecedesTheFinalEvaluationAndResumeRedoesIt) {
  test::ScratchDir d("final-eval");
  const Shard sh = tiny_shard();
  {
    Model m(tiny_config());
    m.init(1);
    EvalStage st(m, sh, d.path);
    st.fail_eval = true;
    Trainer t(m, config(d.path, 3), st);
    EXPECT_THROW(t.run(), Error);
  }
  ASSERT_EQ(latest_checkpoint(d.path), d / "ckpt-3") << "the final evaluation's failure lost the last steps";
  const auto state = nlohmann::json::parse(read_file(d / "ckpt-3/trainer_state.json"));
  EXPECT_EQ(state["seed"], 77);
  EXPECT_EQ(state["threads"], omp_get_max_threads());
  EXPECT_EQ(state["fingerprint"], config(d.path, 3).fingerprint);
  EXPECT_EQ(jsonl(d / "metrics.jsonl").size(), 2u);   // step 3's line waits for its evaluation

  Model m(tiny_config());
  m.init(2);
  EvalStage st(m, sh, d.path);
  Trainer t(m, config(d.path, 3), st);
  EXPECT_EQ(t.resume(), 3);
  EXPECT_TRUE(t.run());
  EXPECT_EQ(t.last_eval.at("val"), 3.0);
  const auto lines = jsonl(d / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2]["step"], 3);
  EXPECT_EQ(lines[2]["val"], 3.0);
  EXPECT_TRUE(lines[2].contains("loss")) << "the step's training metrics were lost: " << lines[2].dump();
}

TEST(RunDirTrainer, ResumeTrimsTheStageLogsAndChecksTheFingerprint) {
  test::ScratchDir d("trim");
  const Shard sh = tiny_shard();
  {
    Model m(tiny_config());
    m.init(1);
    EvalStage st(m, sh, d.path);
    Trainer t(m, config(d.path, 6), st);
    EXPECT_FALSE(t.run(2));   // checkpoint at step 2
  }
  // a crash during step 3 (0-based step 2) after its sample line was written
  append_line(d / "samples.jsonl", nlohmann::json{{"step", 2}}.dump());
  {
    Model m(tiny_config());
    EvalStage st(m, sh, d.path);
    TrainConfig c = config(d.path, 6);
    c.fingerprint["batch_size"] = 4;
    Trainer t(m, c, st);
    const std::string e = error_of([&] { t.resume(); });
    EXPECT_NE(e.find("--resume with a different recipe"), std::string::npos) << e;
    EXPECT_NE(e.find("batch_size: checkpoint 2 vs now 4"), std::string::npos) << e;
  }
  Model m(tiny_config());
  EvalStage st(m, sh, d.path);
  Trainer t(m, config(d.path, 6), st);
  EXPECT_EQ(t.resume(), 2);
  ASSERT_TRUE(t.run());
  std::vector<int64_t> steps;
  for (const auto& j : jsonl(d / "samples.jsonl")) steps.push_back(j["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 1, 2, 3, 4, 5})) << "a resumed run duplicated log lines";
  EXPECT_EQ(jsonl(d / "metrics.jsonl").size(), 6u);
}

TEST(RunDirTrainer, FinalIsReplacedWholeAndStaleTempsAreRemoved) {
  test::ScratchDir d("final");
  make_dirs(d / "final");
  write_file_atomic(d / "final/stale.txt", "from an older run");
  make_dirs(d / "final.tmp-999999");                   // a run killed while writing final/
  write_file_atomic(d / "metrics.jsonl.tmp.999999.0", "");   // an AtomicFile temporary of a killed run
  const Shard sh = tiny_shard();
  Model m(tiny_config());
  m.init(1);
  EvalStage st(m, sh, d.path);
  Trainer t(m, config(d.path, 1), st);
  EXPECT_FALSE(dir_exists(d / "final.tmp-999999"));
  EXPECT_FALSE(file_exists(d / "metrics.jsonl.tmp.999999.0"));
  ASSERT_TRUE(t.run());
  t.save_final(d / "final", {{"eval.json", "{}\n"}});
  EXPECT_TRUE(file_exists(d / "final/model.safetensors"));
  EXPECT_EQ(read_file(d / "final/eval.json"), "{}\n");
  EXPECT_FALSE(file_exists(d / "final/stale.txt")) << "final/ was written into, not replaced";
  for (const auto& e : std::filesystem::directory_iterator(d.path))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(RunDirTrainer, AMetricsWriteFailureIsAnError) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  test::ScratchDir d("full");
  std::filesystem::create_symlink("/dev/full", d / "metrics.jsonl");   // a full disk under the log
  const Shard sh = tiny_shard();
  Model m(tiny_config());
  m.init(1);
  EvalStage st(m, sh, d.path);
  Trainer t(m, config(d.path, 3), st);
  const std::string e = error_of([&] { t.run(); });
  EXPECT_NE(e.find(d / "metrics.jsonl"), std::string::npos) << e;
  EXPECT_NE(e.find("write failed"), std::string::npos) << e;
  EXPECT_EQ(t.step(), 1) << "training went on without its log";
}

TEST(RunDirTrainer, LogEveryZeroIsAnErrorNotSigfpe) {
  test::ScratchDir d("logevery");
  const Shard sh = tiny_shard();
  Model m(tiny_config());
  EvalStage st(m, sh, d.path);
  TrainConfig c = config(d.path, 2);
  c.log_every = 0;
  EXPECT_NE(error_of([&] { Trainer t(m, c, st); }).find("log_every must be >= 1"), std::string::npos);
}

}  // namespace
}  // namespace nanoseek
