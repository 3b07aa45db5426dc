// Every model command × both architectures, through the real CLI binary: a DeepSeek-V3 model (MLA + MoE + MTP)
// and a dense Qwen2 student, each a tiny random model written by `nanoseek init` with the committed trained
// tokenizer. Each case checks values, not only the exit code: model types round-trip, logits equal the in-process
// forward, greedy generation is deterministic, trained outputs load as the architecture they started as, distill
// crosses architectures (a V3 teacher trains a Qwen2 student and the other way round).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/npy.h"
#include "model/language_model.h"
#include "ops/gemm_bf16.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;

struct Arch {
  const char* name;       // test-name suffix
  const char* config;     // configs/*.json
  const char* model_type;
};
const Arch kV3{"DeepSeekV3", "configs/tiny.json", "deepseek_v3"};
const Arch kQwen2{"Qwen2", "configs/student-tiny.json", "qwen2"};
void PrintTo(const Arch& a, std::ostream* os) { *os << a.model_type; }

class Commands : public ::testing::TestWithParam<Arch> {
 protected:
  void SetUp() override {
    const Arch& a = GetParam();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->name());  // "Case/Arch": its own scratch dir per case and architecture
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = ::testing::TempDir() + "nanoseek_cli_" + name;
    std::filesystem::remove_all(dir_);
    make_dirs(dir_);
    cfg_ = write_config(a, dir_ + "/config.json");
    model_ = dir_ + "/model";
    auto [rc, log] = nanoseek("init --config " + cfg_ + " --out " + model_ + " --seed 3");
    ASSERT_EQ(rc, 0) << log;
    const std::string tk = test::source_dir() + "/tests/golden/tokenizer/trained/";
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      std::filesystem::copy_file(tk + f, model_ + "/" + f);
    write_file_atomic(model_ + "/eval.json", json{{"prompt_format", "plain"}, {"tasks", {"add"}}}.dump() + "\n");
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // A small config of the architecture with the trained tokenizer's vocabulary (< 1024 ids).
  static std::string write_config(const Arch& a, const std::string& path) {
    json cj = json::parse(read_file(test::source_dir() + "/" + a.config));
    cj["vocab_size"] = 1024;
    cj["num_hidden_layers"] = 2;
    if (std::string(a.model_type) == "deepseek_v3") cj["hidden_size"] = 48, cj["intermediate_size"] = 96;
    write_file_atomic(path, cj.dump(2) + "\n");
    return path;
  }
  static std::pair<int, std::string> nanoseek(const std::string& args) {
    return test::run_cmd(std::string(NANOSEEK_BINARY) + " " + args);
  }
  static std::vector<json> jsonl(const std::string& path) {
    std::vector<json> out;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  std::string dir_, cfg_, model_;
};

TEST_P(Commands, InfoCountsTheArchitecture) {
  auto [rc, log] = nanoseek("info --config " + cfg_ + " --json");
  ASSERT_EQ(rc, 0) << log;
  const json j = json::parse(log);
  EXPECT_EQ(j["model_type"], GetParam().model_type);
  // the counts are the parameters the model allocates (MTP modules counted apart); the DeepSeek-V3 layout pads each
  // tensor to 64 bytes (at most 15 floats per tensor, well under 1% here), the dense one packs them
  const auto m = load_language_model(model_);
  const int64_t counted = j["total_params"].get<int64_t>() + j["mtp_params"].get<int64_t>();
  const int64_t allocated = int64_t(m->param_buffer().size());
  EXPECT_LE(counted, allocated);
  EXPECT_GT(double(counted), 0.99 * double(allocated));
  if (std::string(GetParam().model_type) == "qwen2") {
    EXPECT_EQ(counted, allocated);
  }
  EXPECT_GT(j["kv_cache_values_per_token_per_layer"].get<int64_t>(), 0);
  EXPECT_LT(j["kv_cache_bytes_per_token"].get<int64_t>(), j["kv_cache_bytes_per_token_mha"].get<int64_t>());
  auto [rc2, text] = nanoseek("info --config " + model_);  // a model directory works too
  ASSERT_EQ(rc2, 0) << text;
  EXPECT_NE(text.find(GetParam().model_type), std::string::npos) << text;
}

TEST_P(Commands, InitThenLogitsEqualTheInProcessForward) {
  EXPECT_EQ(json::parse(read_file(model_ + "/config.json"))["model_type"], GetParam().model_type);
  const std::string npy = dir_ + "/logits.npy";
  auto [rc, log] = nanoseek("logits --model " + model_ + " --ids 3,17,5,9 --out " + npy);
  ASSERT_EQ(rc, 0) << log;
  const NpyArray a = read_npy(npy);
  ASSERT_EQ(a.shape, (std::vector<int64_t>{4, 1024}));
  const auto m = load_language_model(model_);
  std::vector<int32_t> ids{3, 17, 5, 9};
  const auto acts = m->plan(1, 4, false);
  m->forward(Batch{1, 4, ids.data(), nullptr, nullptr}, *acts, {});
  ASSERT_EQ(a.f32.size(), acts->logits.size());
  for (size_t i = 0; i < a.f32.size(); ++i) ASSERT_EQ(a.f32[i], acts->logits[i]) << i;  // same code, same bits
}

TEST_P(Commands, GenerateGreedyIsDeterministic) {
  const std::string cmd = "generate --model " + model_ + " --prompt '1 + 2 =' --max-tokens 6 --temperature 0 --json";
  auto [rc, a] = nanoseek(cmd);
  ASSERT_EQ(rc, 0) << a;
  auto [rc2, b] = nanoseek(cmd);
  ASSERT_EQ(rc2, 0) << b;
  // the sample lines (tokens, log-probs, text) are identical; the timing line before them is not compared
  const json ja = json::parse(a.substr(a.find('{'))), jb = json::parse(b.substr(b.find('{')));
  EXPECT_EQ(ja["tokens"].size(), 6u) << a;
  EXPECT_EQ(ja, jb);
}

TEST_P(Commands, ChatAnswersAndQuits) {
  auto [rc, log] = test::run_cmd("printf 'hello\\n/quit\\n' | " + std::string(NANOSEEK_BINARY) + " chat --model " +
                                 model_ + " --max-tokens 4");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("KV cache"), std::string::npos) << log;
}

// bench reports every test it was asked for with the machine's limits beside them; tokens/s and fractions are
// measured (positive, finite), the table names the CPU and the kernels' instruction set.
TEST_P(Commands, BenchMeasuresTrainPrefillDecodeAndTheMachine) {
  auto [rc, log] = nanoseek("bench --config " + cfg_ + " --json --batch 2 --seq 16 --prompt 8 --new 4 "
                            "--decode-batch 1,3 --steps 1");
  ASSERT_EQ(rc, 0) << log;
  const json j = json::parse(log.substr(log.find('{')));
  for (const char* k : {"gemm_gflops", "triad_gbps", "gemv_f32_gbps", "gemv_bf16_gbps"})
    EXPECT_GT(j["machine"][k].get<double>(), 0) << k;
  EXPECT_FALSE(j["machine"]["cpu"].get<std::string>().empty());
  const auto& res = j["results"];
  ASSERT_EQ(res.size(), 4u) << res.dump();   // train, prefill (at the first decode batch), decode x 2
  const std::vector<std::pair<std::string, int>> want = {{"train", 2}, {"prefill", 1}, {"decode", 1}, {"decode", 3}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(res[i]["test"], want[i].first) << i;
    EXPECT_EQ(res[i]["batch"], want[i].second) << i;
    const double tps = res[i]["tokens_per_s"].get<double>(), f = res[i]["fraction"].get<double>();
    EXPECT_TRUE(tps > 0 && std::isfinite(tps)) << res[i].dump();
    EXPECT_TRUE(f > 0 && std::isfinite(f)) << res[i].dump();
  }
  auto [rc2, log2] = nanoseek("bench --config " + cfg_ + " --only decode --decode-batch 2 --prompt 8 --new 4");
  ASSERT_EQ(rc2, 0) << log2;
  EXPECT_NE(log2.find("| decode | fp32 | 2 | 4 |"), std::string::npos) << log2;
  EXPECT_NE(log2.find("GEMM peak"), std::string::npos) << log2;
  // bf16 compute: train measured against the bf16 GEMM's own peak where the machine has one, else a clear error
  auto [rc4, log4] = nanoseek("bench --config " + cfg_ + " --json --only train --batch 2 --seq 16 --steps 1 "
                              "--precision bf16");
  if (bf16_compute_available()) {
    ASSERT_EQ(rc4, 0) << log4;
    const json b = json::parse(log4.substr(log4.find('{')));
    EXPECT_GT(b["machine"]["gemm_bf16_gflops"].get<double>(), 0) << log4;
    EXPECT_EQ(b["results"][0]["precision"], "bf16") << log4;
    EXPECT_GT(b["results"][0]["fraction"].get<double>(), 0) << log4;
  } else {
    EXPECT_EQ(rc4, 1) << log4;
    EXPECT_NE(log4.find("bench --precision bf16: "), std::string::npos) << log4;
  }
  auto [rc5, log5] = nanoseek("bench --config " + cfg_ + " --only train --precision fp16");
  EXPECT_EQ(rc5, 1) << log5;
  EXPECT_NE(log5.find("precision 'fp16': must be fp32 or bf16"), std::string::npos) << log5;
  auto [rc3, log3] = nanoseek("bench --config " + cfg_ + " --decode-batch 1,x");
  EXPECT_EQ(rc3, 1) << log3;
  EXPECT_NE(log3.find("'x' is not an integer"), std::string::npos) << log3;
}

TEST_P(Commands, EvalReportsEveryProblem) {
  const std::string out = dir_ + "/eval.json";
  auto [rc, log] = nanoseek("eval --model " + model_ + " --task add --levels d1 --problems 3 --k 2 --max-tokens 8 --out " +
                            out);
  ASSERT_EQ(rc, 0) << log;
  const json j = json::parse(read_file(out));
  EXPECT_EQ(j["n_problems"], 3);
  EXPECT_GT(j["mean_response_tokens"].get<double>(), 0);
}

// Runs `nanoseek ARGS` in the background, sends SIGTERM once its progress line shows a finished batch, and
// returns (exit status, log). A signal before the first batch would test the same path; waiting makes it mid-run.
std::pair<int, std::string> sigterm_midway(const std::string& args, const std::string& log_path,
                                           const std::string& progress_mark) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = "exec " + std::string(NANOSEEK_BINARY) + " " + args + " > " + log_path + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::minutes(3) &&
         (!file_exists(log_path) || read_file(log_path).find(progress_mark) == std::string::npos))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(log_path)};
}

// SIGTERM (docker stop, schedulers) stops eval and rejection-sample after the current batch: exit 143, a message
// saying how far it got, and no partial output (outputs are written whole at the end).
TEST_P(Commands, SigtermStopsEvalAndRejectionSampleCleanly) {
  const std::string common = " --model " + model_ + " --task add --levels d1 --problems 5000 --batch 1 ";
  const std::string eval_out = dir_ + "/eval.json";
  auto [rc, log] = sigterm_midway("eval" + common + "--k 1 --max-tokens 32 --out " + eval_out, dir_ + "/eval.log",
                                  " problems ");
  EXPECT_EQ(rc, 143) << log;
  EXPECT_NE(log.find("terminated (SIGTERM): eval stopped after "), std::string::npos) << log;
  EXPECT_NE(log.find("/5000 problems; nothing written"), std::string::npos) << log;
  EXPECT_FALSE(file_exists(eval_out));
  EXPECT_FALSE(file_exists(dir_ + "/eval.md"));
  const std::string rs_out = dir_ + "/kept.jsonl";
  auto [rc2, log2] = sigterm_midway("rejection-sample" + common + "--k 1 --max-new-tokens 32 --out " + rs_out,
                                    dir_ + "/rs.log", " problems, kept ");
  EXPECT_EQ(rc2, 143) << log2;
  EXPECT_NE(log2.find("terminated (SIGTERM): rejection-sample stopped after "), std::string::npos) << log2;
  EXPECT_FALSE(file_exists(rs_out));
  EXPECT_FALSE(file_exists(rs_out + ".stats.json"));
}

TEST_P(Commands, SftTrainsAndKeepsTheArchitecture) {
  const std::string data = dir_ + "/chat.jsonl", out = dir_ + "/sft";
  auto [rc0, log0] = nanoseek("tasks chat --task add --levels d1 --n 12 --out " + data);
  ASSERT_EQ(rc0, 0) << log0;
  // the [sft] section of a recipe, then --set, then flags (each flag is its recipe key: sft.batch_size = --batch-size)
  const std::string recipe = dir_ + "/sft.toml";
  write_file_atomic(recipe, "[sft]\nsteps = 5\nlr = 2e-3\nschedule = \"constant\"\nseq_len = 96\n");
  auto [rc, log] = nanoseek("sft " + recipe + " --model " + model_ + " --data " + data + " --out " + out +
                            " --set sft.steps=3 --batch-size 2 --quiet");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(json::parse(read_file(out + "/final/config.json"))["model_type"], GetParam().model_type);
  const auto steps = jsonl(out + "/metrics.jsonl");
  ASSERT_EQ(steps.size(), 3u);
  for (const json& s : steps) {
    EXPECT_GT(s["loss"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(s["learning_rate"].get<double>(), 2e-3);  // constant schedule at the recipe's lr, no warmup
  }
  EXPECT_EQ(steps[0].contains("mtp_loss"), std::string(GetParam().model_type) == "deepseek_v3");
  EXPECT_TRUE(file_exists(out + "/final/tokenizer.json"));
}

TEST_P(Commands, RejectionSampleJudgesEverySample) {
  const std::string out = dir_ + "/kept.jsonl";
  auto [rc, log] = nanoseek("rejection-sample --model " + model_ + " --task add --levels d1 --problems 3 --k 2 "
                            "--max-new-tokens 8 --temperature 1.0 --out " + out);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_TRUE(file_exists(out));
  const json st = json::parse(read_file(out + ".stats.json"));
  EXPECT_EQ(st["samples"], 6) << st.dump();  // 3 problems × 2 samples, each judged
  EXPECT_EQ(st["problems"], 3) << st.dump();
}

TEST_P(Commands, DistillAcrossArchitectures) {
  const Arch other = std::string(GetParam().model_type) == "qwen2" ? kV3 : kQwen2;
  const std::string student_cfg = write_config(other, dir_ + "/student.json"), out = dir_ + "/distill";
  auto [rc, log] = nanoseek("distill --teacher " + model_ + " --student " + student_cfg + " --task add --levels d1 "
                            "--problems 3 --k 2 --max-tokens 8 --filter all --steps 2 --batch 2 --out " + out);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(json::parse(read_file(out + "/final/config.json"))["model_type"], other.model_type);
  EXPECT_EQ(jsonl(out + "/distill.jsonl").size(), 6u);   // --filter all keeps every non-empty sample
  EXPECT_EQ(jsonl(out + "/metrics.jsonl").size(), 2u);
}

TEST_P(Commands, GrpoAndPpoRunOnThePolicy) {
  for (const char* algo : {"grpo", "ppo"}) {
    const std::string out = dir_ + "/" + algo;
    auto [rc, log] = nanoseek("grpo " + test::source_dir() + "/recipes/ci-r1.toml --init " + model_ + " --out " + out +
                              " --quiet --set grpo.steps=2 --set grpo.algo=" + algo);
    ASSERT_EQ(rc, 0) << algo << "\n" << log;
    const auto steps = jsonl(out + "/metrics.jsonl");
    ASSERT_EQ(steps.size(), 2u) << algo;
    EXPECT_EQ(steps.back().contains("value_loss"), std::string(algo) == "ppo") << algo;
    EXPECT_EQ(json::parse(read_file(out + "/final/config.json"))["model_type"], GetParam().model_type) << algo;
    // PPO's checkpoints carry the critic (a resume continues it); GRPO has none, and final/ is the policy alone.
    EXPECT_EQ(file_exists(out + "/ckpt-2/critic.safetensors"), std::string(algo) == "ppo") << algo;
    EXPECT_FALSE(file_exists(out + "/final/critic.safetensors")) << algo;
  }
}

// Run-to-run determinism: the same seed and thread count give bitwise-equal final weights and identical metrics
// (GRPO and PPO: sampling, rewards, advantages, the critic, AdamW and the checkpoint writer together). A random
// model earns no reward, so weight decay is switched on to make sure the weights do move.
TEST_P(Commands, SameSeedSameWeightsBitwise) {
  auto metrics = [](const std::string& path) {   // every metric but wall-clock ones
    std::vector<json> lines = jsonl(path);
    for (json& l : lines)
      for (auto it = l.begin(); it != l.end();) {
        const std::string k = it.key();
        const bool clock = k.rfind("time/", 0) == 0 || k.rfind("memory/", 0) == 0 || k == "tokens_per_s" ||
                           k == "elapsed_s";
        it = clock ? l.erase(it) : std::next(it);
      }
    return lines;
  };
  for (const char* algo : {"grpo", "ppo"}) {
    std::string weights[2];
    std::vector<json> steps[2];
    for (int run = 0; run < 2; ++run) {
      const std::string out = dir_ + "/" + algo + std::to_string(run);
      auto [rc, log] = test::run_cmd("OMP_NUM_THREADS=2 " + std::string(NANOSEEK_BINARY) + " grpo " +
                                     test::source_dir() + "/recipes/ci-r1.toml --init " + model_ + " --out " + out +
                                     " --quiet --set grpo.steps=2 --set grpo.weight_decay=0.1 --set grpo.algo=" +
                                     algo);
      ASSERT_EQ(rc, 0) << algo << "\n" << log;
      weights[run] = read_file(out + "/final/model.safetensors");
      steps[run] = metrics(out + "/metrics.jsonl");
    }
    ASSERT_EQ(steps[0].size(), 2u) << algo;
    EXPECT_EQ(steps[0], steps[1]) << algo;
    ASSERT_GT(weights[0].size(), 1000u) << algo;
    EXPECT_TRUE(weights[0] == weights[1]) << algo << ": two runs with the same seed wrote different weights";
    // and the run changed the weights (the comparison is not of two untouched copies)
    EXPECT_FALSE(weights[0] == read_file(model_ + "/model.safetensors")) << algo;
  }
}

TEST_P(Commands, R1FourStagesFromTheBase) {
  const std::string out = dir_ + "/r1";
  auto [rc, log] = nanoseek("r1 " + test::source_dir() + "/recipes/ci-r1.toml --out " + out + " --quiet --set grpo.init=" +
                            model_ + " --set r1.sft_steps=2 --set grpo.steps=1 --set r1.rl2_steps=1");
  ASSERT_EQ(rc, 0) << log;
  const json s = json::parse(read_file(out + "/summary.json"));
  for (const char* stage : {"sft-cold", "rl-reasoning", "sft-rs", "rl-all"})
    EXPECT_EQ(json::parse(read_file(out + "/" + stage + "/final/config.json"))["model_type"], GetParam().model_type)
        << stage << "\n" << s.dump();
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, Commands, ::testing::Values(kV3, kQwen2),
                         [](const ::testing::TestParamInfo<Arch>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace nanoseek
