// config.json readers under hostile input (issue #11): wrong JSON types name the file and the field, unknown fields
// nested far too deep are an Error (not a crash, not an 800 MB re-dump), sizes whose parameter count overflows are
// an Error naming the field, and the closed-form counts equal the tensor registry's for both architectures.
#include <gtest/gtest.h>

#include <chrono>
#include <tuple>

#include "core/fs.h"
#include "core/json_io.h"
#include "model/config.h"
#include "model/counts.h"
#include "model/dense.h"
#include "model/language_model.h"
#include "model/weights.h"
#include "../core/io_test_util.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;
using testing::expect_error;
using testing::TempDir;

json config_file(const std::string& name) {
  return json::parse(read_file(test::source_dir() + "/configs/" + name));
}
json v3() { return config_file("tiny.json"); }
json qwen() { return config_file("student-tiny.json"); }

std::string deep_array(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---- 2. types ----------------------------------------------------------------------------------------------

TEST(ConfigTypes, V3WrongTypesNameFileAndField) {
  struct Case { const char* key; json value; std::vector<std::string> want; };
  const std::vector<Case> cases = {
      {"aux_loss_alpha", "x", {"c.json: field 'aux_loss_alpha' must be a number, got \"x\""}},
      {"aux_loss_alpha", -1.0, {"field 'aux_loss_alpha' must be >= 0"}},
      {"rope_scaling", {{"type", 5}}, {"c.json: field 'rope_scaling.type' must be a string, got 5"}},
      {"rope_scaling", {{"rope_type", json::array()}}, {"field 'rope_scaling.rope_type' must be a string"}},
      {"rope_scaling", {{"type", "yarn"}, {"factor", "4"}}, {"field 'rope_scaling.factor' must be a number"}},
      {"rope_scaling", 3, {"field 'rope_scaling' must be null or an object, got 3"}},
      {"vocab_size", 18446744073709551615ull, {"c.json: field 'vocab_size'", "out of range"}},
      {"hidden_size", 2.5, {"field 'hidden_size' must be an integer, got 2.5"}},
      {"norm_topk_prob", "yes", {"field 'norm_topk_prob' must be true or false"}},
      {"topk_method", 1, {"field 'topk_method' must be a string, got 1"}},
      {"n_group", "4", {"field 'n_group' must be an integer"}},
  };
  for (const Case& c : cases) {
    json j = v3();
    j[c.key] = c.value;
    SCOPED_TRACE(c.key);
    std::vector<std::string> want = c.want;
    want.push_back("c.json");
    try {
      parse_config(j, "c.json");
      ADD_FAILURE() << "no error for " << c.key;
    } catch (const Error& e) {
      for (const auto& w : want) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
    }
  }
}

TEST(ConfigTypes, DenseWrongTypesNameFileAndField) {
  json j = qwen();
  j["vocab_size"] = 18446744073709551615ull;
  expect_error([&] { parse_dense_config(j, "d.json"); }, {"d.json: field 'vocab_size'", "out of range"});
  j = qwen();
  j["rope_theta"] = "big";
  expect_error([&] { parse_dense_config(j, "d.json"); }, {"d.json: field 'rope_theta' must be a number"});
}

// A whole directory through load_config / model_type_of / load_dense_config: JSON errors name the file.
TEST(ConfigTypes, FileReadersNameTheFileForSyntaxAndNumberErrors) {
  TempDir dir;
  const std::string path = dir / "config.json";
  write_file_atomic(path, "{\"model_type\": \"deepseek_v3\",\n \"rope_theta\": 1e400}");
  expect_error([&] { load_config(dir.path); }, {path, "line 2 col", "1e400"});
  expect_error([&] { model_type_of(dir.path); }, {path, "line 2"});
  write_file_atomic(path, "{\"model_type\": \"qwen2\", \"vocab_size\": 1e400}");
  expect_error([&] { load_dense_config(dir.path); }, {path, "line 1 col", "1e400"});
}

// Through the CLI: these escaped as nlohmann type_errors ("internal error", rc 2); now rc 1 naming file and field.
TEST(ConfigTypes, InfoAndInitReportTheFieldWithRc1) {
  TempDir dir;
  const std::string path = dir / "config.json";
  json j = v3();
  j["rope_scaling"] = {{"type", 5}};
  write_file_atomic(path, j.dump());
  auto [rc, out] = test::run_cmd(std::string(NANOSEEK_BINARY) + " info --config " + path);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find(path + ": field 'rope_scaling.type' must be a string, got 5"), std::string::npos) << out;
  j = v3();
  j["aux_loss_alpha"] = "x";
  write_file_atomic(path, j.dump());
  std::tie(rc, out) = test::run_cmd(std::string(NANOSEEK_BINARY) + " init --config " + path + " --out " + (dir / "m"));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("field 'aux_loss_alpha' must be a number, got \"x\""), std::string::npos) << out;
  j = v3();
  j["vocab_size"] = int64_t(1) << 62;
  write_file_atomic(path, j.dump());
  std::tie(rc, out) = test::run_cmd(std::string(NANOSEEK_BINARY) + " info --config " + path);
  EXPECT_EQ(rc, 1) << out;   // used to print overflowed counts with rc 0
  EXPECT_NE(out.find("vocab_size"), std::string::npos) << out;
}

// ---- 1. depth ----------------------------------------------------------------------------------------------

// An unknown field nested 200,000 deep used to crash with SIGSEGV (recursive copy into `extra`); 20,000 deep
// turned a 40 KB config.json into 800 MB on `nanoseek init`.
TEST(ConfigDepth, DeeplyNestedUnknownFieldIsAnErrorForBothArchitectures) {
  for (const json& base : {v3(), qwen()}) {
    TempDir dir;
    std::string text = base.dump();
    text.insert(1, "\"quantization_config\": " + deep_array(200000) + ", ");
    write_file_atomic(dir / "config.json", text);
    expect_error([&] { model_type_of(dir.path); }, {dir / "config.json", "nested deeper than 64"});
    if (base["model_type"] == "qwen2")
      expect_error([&] { load_dense_config(dir.path); }, {dir / "config.json", "nested deeper than 64"});
    else
      expect_error([&] { load_config(dir.path); }, {dir / "config.json", "nested deeper than 64"});
  }
}

// At the cap, extra fields survive and the indented re-dump stays proportionate (<= 64 levels of indentation).
TEST(ConfigDepth, ExtraAtTheCapRoundTripsWithBoundedSize) {
  TempDir dir;
  std::string text = v3().dump();
  text.insert(1, "\"quantization_config\": " + deep_array(kJsonMaxDepth - 1) + ", ");
  write_file_atomic(dir / "in.json", text);
  const ModelConfig c = load_config(dir / "in.json");
  save_config(c, dir / "out.json");
  EXPECT_LT(read_file(dir / "out.json").size(), 20000u);
  EXPECT_EQ(load_config(dir / "out.json").extra["quantization_config"], c.extra["quantization_config"]);
}

// ---- 3b. absurd sizes ----------------------------------------------------------------------------------------

TEST(ConfigSizes, OverflowingParameterCountsAreAnErrorNamingTheField) {
  json j = v3();
  j["vocab_size"] = int64_t(1) << 62;   // used to print overflowed counts with rc 0
  expect_error([&] { summarize_config(j, "c.json", 1); }, {"c.json", "vocab_size", "overflows 64-bit"});
  j = v3();
  j["hidden_size"] = int64_t(1) << 40;
  expect_error([&] { parse_config(j, "c.json"); }, {"c.json", "hidden_size", "overflows"});
  j = qwen();
  j["vocab_size"] = int64_t(1) << 62;
  expect_error([&] { summarize_config(j, "d.json", 1); }, {"d.json", "vocab_size", "overflows 64-bit"});
  j = qwen();
  j["num_hidden_layers"] = int64_t(1) << 60;
  expect_error([&] { parse_dense_config(j, "d.json"); }, {"d.json", "num_hidden_layers", "overflows"});
  // fits in 64-bit parameters but not in 64-bit fp32 bytes
  j = qwen();
  j["vocab_size"] = int64_t(1) << 55, j["hidden_size"] = 96;
  expect_error([&] { parse_dense_config(j, "d.json"); }, {"d.json", "fp32 parameter bytes"});
}

// `info` on 1e9 experts or 1e6 MTP layers used to build the whole layout (hang, out of memory); now closed form.
TEST(ConfigSizes, HugeExpertAndMtpCountsSummarizeAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  json j = v3();
  j["n_routed_experts"] = 1000000000, j["n_group"] = 1, j["topk_group"] = 1;
  ModelSummary s = summarize_config(j, "c.json", 1);
  // 3 of 4 layers are MoE: each holds 1e9 experts of 3 x 64 x 128 weights.
  EXPECT_GT(s.total_params, int64_t(3) * 1000000000 * 3 * 64 * 128);
  j = v3();
  j["num_nextn_predict_layers"] = 1000000;
  s = summarize_config(j, "c.json", 1);
  EXPECT_GT(s.mtp_params, int64_t(1000000) * 2 * 128 * 128);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}

// ---- closed-form counts == registry ------------------------------------------------------------------------

struct RegistryCounts { int64_t total = 0, active = 0, mtp = 0, mtp_active = 0, embed = 0; };

// What count_model computed before it was closed form: a walk over the registry layout.
RegistryCounts walk_v3(const ModelConfig& c) {
  RegistryCounts r;
  double active = 0, mtp_active = 0;
  const double share = c.n_routed_experts > 0 ? double(c.num_experts_per_tok) / double(c.n_routed_experts) : 0;
  const TensorLayout layout = tensor_layout(c);
  for (const TensorSpec& s : layout.specs) {
    const int64_t n = s.numel();
    const double a = s.role == Role::RoutedExpert ? double(n) * share : double(n);
    if (s.layer >= c.num_hidden_layers) {
      r.mtp += n, mtp_active += a;
      continue;
    }
    r.total += n, active += a;
    if (s.role == Role::Embed || s.role == Role::Head) r.embed += n;
  }
  r.active = int64_t(active + 0.5), r.mtp_active = int64_t(mtp_active + 0.5);
  EXPECT_EQ(size_t(r.total + r.mtp), layout.params);
  return r;
}

TEST(ClosedFormCounts, V3EqualsRegistryLayout) {
  std::vector<std::pair<std::string, json>> cases;
  cases.push_back({"tiny", v3()});
  cases.push_back({"v3-671B", config_file("deepseek-v3.json")});
  cases.push_back({"v2-lite", config_file("deepseek-v2-lite.json")});
  json j = v3();
  j["q_lora_rank"] = nullptr, j["tie_word_embeddings"] = true, j["num_nextn_predict_layers"] = 3;
  j["moe_layer_freq"] = 2, j["first_k_dense_replace"] = 0, j["num_hidden_layers"] = 7, j["n_shared_experts"] = 0;
  cases.push_back({"qlora-null-tied-freq2-mtp3", j});
  j = v3();
  j["scoring_func"] = "softmax", j["topk_method"] = "greedy", j["first_k_dense_replace"] = 9;   // no MoE layer
  j["num_hidden_layers"] = 3, j["num_nextn_predict_layers"] = 0;
  cases.push_back({"softmax-greedy-all-dense", j});
  j = v3();
  j["moe_layer_freq"] = 3, j["first_k_dense_replace"] = 2, j["num_hidden_layers"] = 11, j["num_nextn_predict_layers"] = 2;
  cases.push_back({"freq3-first2", j});
  for (const auto& [name, cj] : cases) {
    SCOPED_TRACE(name);
    const ModelConfig c = parse_config(cj, name);
    const RegistryCounts r = walk_v3(c);
    const ModelCounts m = count_model(c, 4096);
    EXPECT_EQ(m.total_params, r.total);
    EXPECT_EQ(m.active_params_per_token, r.active);
    EXPECT_EQ(m.mtp_params, r.mtp);
    EXPECT_EQ(m.mtp_active_params, r.mtp_active);
    EXPECT_EQ(m.embedding_params, r.embed);
    if (name == "v3-671B") {   // the paper's 671B total / 37B active (docs/model.md: 671.03B, 37.55B, 11.61B MTP)
      EXPECT_EQ(m.total_params, 671026419200);
      EXPECT_EQ(m.active_params_per_token, 37552297472);
      EXPECT_EQ(m.mtp_params, 11610068224);
    }
  }
}

TEST(ClosedFormCounts, DenseEqualsRegistryLayout) {
  std::vector<json> cases = {qwen()};
  json j = qwen();
  j["tie_word_embeddings"] = false, j["num_hidden_layers"] = 5;
  cases.push_back(j);
  j["model_type"] = "llama", j.erase("head_dim");
  cases.push_back(j);
  for (const json& cj : cases) {
    const DenseConfig c = parse_dense_config(cj, "d");
    int64_t total = 0, embed = 0;
    const TensorLayout layout = dense_layout(c);
    for (const TensorSpec& t : layout.specs) {
      total += t.numel();
      if (t.role == Role::Embed || t.role == Role::Head) embed += t.numel();
    }
    const DenseCounts n = count_dense(c);
    EXPECT_EQ(n.total_params, total) << cj.dump();
    EXPECT_EQ(n.embedding_params, embed) << cj.dump();
    EXPECT_EQ(size_t(n.total_params), layout.params);
    EXPECT_EQ(summarize_config(cj, "d", 1).total_params, total);
  }
}

}  // namespace
}  // namespace nanoseek
