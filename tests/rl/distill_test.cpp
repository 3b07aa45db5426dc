// Distillation: the top-k KL and its logits gradient (finite differences), the dense backward's extra-dlogits hook
// (FD of CE + KL through the whole student), the sample filter, and run_distill end to end on a random teacher.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "infer/session.h"
#include "model/dense.h"
#include "rl/distill.h"
#include "rl/kd_loss.h"
#include "test_util.h"

namespace nanoseek {
using namespace test;

TEST(KdLoss, TopkKl_N3V11K4_GradientMatchesFiniteDifferences) {
  const int64_t N = 3, V = 11, K = 4;
  std::vector<float> z = randn(size_t(N * V), 1), zt = randn(size_t(N * V), 2, 2.f);
  const std::vector<int64_t> rows = {0, 2};
  std::vector<int32_t> ids(2 * K);
  std::vector<float> lp(2 * K);
  for (int r = 0; r < 2; ++r) topk_logprobs(&zt[rows[r] * V], V, K, &ids[r * K], &lp[r * K]);
  for (int i = 1; i < K; ++i) EXPECT_GE(lp[i - 1], lp[i]);   // descending
  std::vector<float> dz(size_t(N * V), 0.f);
  const double scale = 0.7;
  const double f0 = topk_kl(z.data(), V, rows.data(), 2, K, ids.data(), lp.data(), scale, dz.data());
  EXPECT_GT(f0, 0);
  for (int64_t v = 0; v < V; ++v) EXPECT_EQ(dz[1 * V + v], 0.f) << "row 1 is not distilled";
  for (size_t i = 0; i < z.size(); ++i) {   // float64 central differences of a float32 input, h = 1e-2
    const float z0 = z[i];
    z[i] = z0 + 1e-2f;
    const double fp = topk_kl(z.data(), V, rows.data(), 2, K, ids.data(), lp.data(), scale, nullptr);
    z[i] = z0 - 1e-2f;
    const double fm = topk_kl(z.data(), V, rows.data(), 2, K, ids.data(), lp.data(), scale, nullptr);
    z[i] = z0;
    EXPECT_NEAR(dz[i], (fp - fm) / 2e-2, 2e-4) << "logit " << i;
  }
}

TEST(KdLoss, TopkKl_FullVocabSameDistributionIsZero_V7) {
  const int64_t V = 7;
  std::vector<float> z = randn(size_t(V), 3);
  std::vector<int32_t> ids(V);
  std::vector<float> lp(V);
  topk_logprobs(z.data(), V, V, ids.data(), lp.data());
  const int64_t row = 0;
  std::vector<float> dz(size_t(V), 0.f);
  EXPECT_NEAR(topk_kl(z.data(), V, &row, 1, V, ids.data(), lp.data(), 1.0, dz.data()), 0.0, 1e-6);
  for (float g : dz) EXPECT_NEAR(g, 0.f, 1e-6);
  const int32_t bad = int32_t(V);
  const float l = 0;
  EXPECT_THROW(topk_kl(z.data(), V, &row, 1, 1, &bad, &l, 1.0, nullptr), Error);
}

// The hook: backward(b, acts, extra_dlogits) is the gradient of CE + KL when extra = dKL/dlogits.
TEST(KdLoss, DenseBackwardExtraDlogits_CePlusKl_FiniteDifferences_Qwen2Tied_B2T6) {
  auto m = load_dense_model(source_dir() + "/tests/golden/dense/qwen2_gqa_tied");
  const int64_t B = 2, T = 6, V = m->cfg.vocab_size, K = 5;
  Rng r(4);
  std::vector<int32_t> ids(B * T), tg(B * T);
  for (auto& x : ids) x = int32_t(r.below(V));
  for (int64_t i = 0; i < B * T; ++i) tg[i] = i % T < 2 ? -1 : int32_t(r.below(V));   // prompt rows ignored
  const Batch b{B, T, ids.data(), tg.data(), nullptr};
  const std::vector<int64_t> rows = {2, 3, 4, 8, 9, 11};
  std::vector<int32_t> kid(rows.size() * K);
  std::vector<float> klp(rows.size() * K);
  const std::vector<float> zt = randn(size_t(V), 9, 3.f);
  for (size_t i = 0; i < rows.size(); ++i) topk_logprobs(zt.data(), V, K, &kid[i * K], &klp[i * K]);
  const double w = 0.5 / double(rows.size());
  DenseActs acts = plan_dense_acts(m->cfg, B, T);
  auto loss = [&] {
    const double ce = m->forward(b, acts).loss;
    return ce + topk_kl(acts.logits.data(), V, rows.data(), int64_t(rows.size()), K, kid.data(), klp.data(), w, nullptr);
  };
  m->enable_grad();
  m->zero_grad();
  m->forward(b, acts);
  std::vector<float> extra(size_t(B * T * V), 0.f);
  const double kl = topk_kl(acts.logits.data(), V, rows.data(), int64_t(rows.size()), K, kid.data(), klp.data(), w,
                            extra.data());
  EXPECT_GT(kl, 0);
  m->backward(b, acts, extra.data());
  // float32 forward, h = 1e-2 along unit directions: the check_directional default tolerance (test_util.h)
  check_directional("params", m->params, m->grads, loss, 4, 1e-2, 1e-2, 1e-4, 21);
}

TEST(Distill, JudgeSample_CorrectFormatted_Wrong_Unformatted_Prefill) {
  auto task = make_task("add");
  uint64_t st = 5;
  const Problem p = sample_problem(*task, "d1", Split::Train, st);
  const std::string good = "<think>\nadd them\n</think>\n<answer>" + p.answer + "</answer>";
  const SampleJudgement a = judge_sample(*task, p, good);
  EXPECT_TRUE(a.correct && a.formatted);
  const SampleJudgement wrong = judge_sample(*task, p, "<think>\nx\n</think>\n<answer>" + p.answer + "1</answer>");
  EXPECT_FALSE(wrong.correct);
  EXPECT_TRUE(wrong.formatted);
  const SampleJudgement bare = judge_sample(*task, p, "<answer>" + p.answer + "</answer>");
  EXPECT_FALSE(bare.formatted);
  EXPECT_EQ(assistant_prefill("User: q\nAssistant:"), "");
  EXPECT_EQ(assistant_prefill("<｜Assistant｜><think>\n"), "<think>\n");
}

namespace {

// A random dense teacher directory with the committed trained tokenizer (vocabulary = the tokenizer's).
std::string make_teacher(const std::string& dir) {
  std::filesystem::remove_all(dir);
  const std::string tk = source_dir() + "/tests/golden/tokenizer/trained/";
  const Tokenizer tok = Tokenizer::load(tk);
  nlohmann::json j = {{"model_type", "qwen2"}, {"vocab_size", tok.vocab_size()}, {"hidden_size", 32},
                      {"intermediate_size", 48}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                      {"num_key_value_heads", 1}, {"max_position_embeddings", 128}, {"rope_theta", 10000.0},
                      {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true}};
  DenseModel m(parse_dense_config(j, "teacher"));
  m.init(3);
  m.save(dir);
  std::filesystem::copy_file(tk + "tokenizer.json", dir + "/tokenizer.json");
  std::filesystem::copy_file(tk + "tokenizer_config.json", dir + "/tokenizer_config.json");
  write_file_atomic(dir + "/eval.json", R"({"prompt_format": "plain", "tasks": ["add"]})");
  return dir;
}

std::string student_config(const std::string& path) {
  nlohmann::json j = {{"model_type", "qwen2"}, {"vocab_size", 1}, {"hidden_size", 32}, {"intermediate_size", 64},
                      {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                      {"max_position_embeddings", 128}, {"rope_theta", 10000.0}, {"rms_norm_eps", 1e-6},
                      {"tie_word_embeddings", true}};
  write_file_atomic(path, j.dump());
  return path;
}

}  // namespace

TEST(Distill, EndToEnd_RandomTeacher_FilterAll_Kd4_2Problems_x2_12Steps) {
  const test::ScratchDir scratch("distill");
  const std::string root = scratch.path;
  std::filesystem::remove_all(root);
  make_dirs(root);
  DistillOptions o;
  o.teacher = make_teacher(root + "/teacher");
  o.student = student_config(root + "/student.json");
  o.out = root + "/out";
  o.task = "add";
  o.levels = {"d1"};
  o.problems = 2;
  o.k = 2;
  o.max_new_tokens = 8;
  o.filter = "all";   // a random teacher is never correct; the pipeline is what is tested here
  o.kd_topk = 4;
  o.kd_weight = 0.5;
  o.steps = 12;
  o.batch_size = 4;
  o.optim.lr = 1e-2;
  o.optim.min_lr = 1e-3;
  o.optim.warmup = 1;
  o.eval_problems = 2;   // evaluate(DenseModel) for the student and the teacher on 2 TEST problems
  o.quiet = true;
  const DistillResult r = run_distill(o);
  EXPECT_EQ(r.generated, 4);
  EXPECT_EQ(r.kept, 4);
  EXPECT_TRUE(r.completed);
  ASSERT_EQ(r.losses.size(), 12u);
  // 4 fixed samples of <= 8 completion tokens, whole batch every step: the student memorises them
  EXPECT_LT(r.losses.back(), 0.7 * r.losses.front()) << r.losses.front() << " -> " << r.losses.back();
  // chat JSONL: one line per kept sample, user + assistant turns, the prompt in the teacher's plain format
  std::istringstream data(read_file(o.out + "/distill.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(data, line)) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j["messages"].size(), 2u);
    EXPECT_EQ(j["messages"][0]["role"], "user");
    EXPECT_EQ(j["messages"][1]["role"], "assistant");
    EXPECT_EQ(j["prompt"].get<std::string>().rfind("User: ", 0), 0u);
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  std::istringstream metrics(read_file(o.out + "/metrics.jsonl"));
  int steps = 0;
  while (std::getline(metrics, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("kd_kl") && j.contains("ce_loss")) << line;
    EXPECT_NEAR(j["loss"].get<double>(), j["ce_loss"].get<double>() + 0.5 * j["kd_kl"].get<double>(), 1e-6);
    ++steps;
  }
  EXPECT_EQ(steps, 12);
  // OUT/final is a dense model dir that loads and generates with the teacher's tokenizer
  const auto ev = nlohmann::json::parse(read_file(r.final_dir + "/eval.json"));
  EXPECT_EQ(ev["prompt_format"], "plain");
  EXPECT_EQ(ev["distill"]["kept"], 4);
  for (const char* who : {"student", "teacher"}) {
    EXPECT_EQ(ev["eval"][who]["n_problems"], 2) << who;
    EXPECT_GT(ev["eval"][who]["mean_response_tokens"].get<double>(), 0) << who;
  }
  TextModel tm = load_text_model(r.final_dir);
  ASSERT_TRUE(is_dense_model_type(tm.model->model_type()));
  EXPECT_EQ(tm.model->vocab_size(), tm.tok.vocab_size());
  auto engine = tm.make_engine(1, 32);
  GenerateRequest req;
  req.prompts = {tm.tok.encode("User: 1 + 2\nAssistant:")};
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 4;
  EXPECT_FALSE(engine->generate(req)[0].tokens.empty());
  // the default filter on a random teacher keeps nothing: a clear error, not an empty training run
  o.filter = "correct";
  o.eval_problems = 0;
  o.out = root + "/out2";
  try {
    run_distill(o);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--filter all"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(root);
}

}  // namespace nanoseek
