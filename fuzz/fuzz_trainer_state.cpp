// libFuzzer target for trainer_state.json through Trainer::resume on a one-layer dense model whose checkpoint
// (weights + optimizer moments) is written once; the input replaces its trainer_state.json each run. Every input
// must resume or throw nanoseek::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/error.h"
#include "model/language_model.h"
#include "train/trainer.h"

namespace {

struct PosStage : nanoseek::TrainStage {
  nanoseek::MicroResult micro_step(nanoseek::LanguageModel&, int64_t, int) override { return {1, {{"loss", 0.0}}, {}}; }
  nlohmann::json state() const override { return {{"epoch", 1}, {"cursor", 2}}; }
  void restore(const nlohmann::json& j) override {   // unchecked, like the real stages
    epoch = j.at("epoch").get<int64_t>();
    cursor = j.at("cursor").get<int64_t>();
  }
  int64_t epoch = 0, cursor = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  static PosStage stage;
  static TrainConfig cfg;
  static std::unique_ptr<LanguageModel> model;
  static std::string state_path;
  if (!model) {
    model = make_language_model({{"model_type", "qwen2"}, {"vocab_size", 16}, {"hidden_size", 8},
                                 {"intermediate_size", 8}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                                 {"num_key_value_heads", 1}, {"max_position_embeddings", 16}, {"rope_theta", 1e4},
                                 {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true}},
                                "fuzz");
    model->init(1);
    cfg.out_dir = "/tmp/nanoseek-fuzz-state-" + std::to_string(getpid());
    cfg.quiet = true;
    std::filesystem::remove_all(cfg.out_dir);
    Trainer t(*model, cfg, stage);
    t.save_checkpoint();
    state_path = latest_checkpoint(cfg.out_dir) + "/trainer_state.json";
  }
  std::ofstream(state_path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    Trainer t(*model, cfg, stage);
    t.resume();
  } catch (const Error&) {
  }
  return 0;
}
