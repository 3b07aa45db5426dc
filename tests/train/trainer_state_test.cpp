// A corrupt trainer_state.json and an out-of-range checkpoint directory name are Errors naming the file
// (they escaped as nlohmann type_error / std::out_of_range: "internal error", rc 2).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "model/language_model.h"
#include "train/trainer.h"
#include "../core/io_test_util.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;
using testing::expect_error;

struct PosStage : TrainStage {
  MicroResult micro_step(LanguageModel&, int64_t, int) override { return {1, {{"loss", 0.0}}, {}}; }
  json state() const override { return {{"epoch", 1}}; }
  void restore(const json& j) override { epoch = j.at("epoch").get<int64_t>(); }   // unchecked, like real stages
  int64_t epoch = 0;
};

struct Fixture {
  test::ScratchDir scratch{"trainer-state"};   // its own directory: ctest -j runs these tests at once
  std::string dir = scratch / "run";
  std::unique_ptr<LanguageModel> m;
  PosStage stage;
  TrainConfig cfg;
  Fixture() {
    std::filesystem::remove_all(dir);
    m = make_language_model(json::parse(read_file(test::source_dir() + "/configs/student-tiny.json")), "student");
    m->init(1);
    cfg.steps = 4;
    cfg.out_dir = dir;
    cfg.quiet = true;
  }
};

TEST(TrainerState, CorruptStateFileIsAnErrorNamingFileAndField) {
  Fixture f;
  {
    Trainer t(*f.m, f.cfg, f.stage);
    t.save_checkpoint();
  }
  const std::string ckpt = latest_checkpoint(f.dir);
  ASSERT_FALSE(ckpt.empty());
  const std::string path = ckpt + "/trainer_state.json";
  const json good = json::parse(read_file(path));
  {   // the untouched state resumes
    Trainer t(*f.m, f.cfg, f.stage);
    EXPECT_EQ(t.resume(), 0);
    EXPECT_EQ(f.stage.epoch, 1);
  }
  auto expect_resume_error = [&](const std::string& text, std::initializer_list<std::string> parts) {
    write_file_atomic(path, text);
    Trainer t(*f.m, f.cfg, f.stage);
    expect_error([&] { t.resume(); }, parts);
  };
  json j = good;
  j["step"] = "x";
  expect_resume_error(j.dump(), {path, "field 'step' must be an integer, got \"x\""});
  j = good;
  j.erase("adam_t");
  expect_resume_error(j.dump(), {path, "required field 'adam_t' is missing"});
  j = good;
  j["elapsed_s"] = json::array();
  expect_resume_error(j.dump(), {path, "field 'elapsed_s' must be a number"});
  j = good;
  j["stage"]["epoch"] = "one";
  expect_resume_error(j.dump(), {path, "field 'stage'", "type must be number"});
  expect_resume_error("{\"step\": 1e400}", {path, "line 1 col"});
  expect_resume_error("{\"step\": ", {path, "line 1 col"});
}

TEST(TrainerState, CheckpointNameBeyondInt64IsAnErrorNamingTheDirectory) {
  Fixture f;
  const std::string huge = f.dir + "/ckpt-99999999999999999999";
  make_dirs(huge);
  write_file_atomic(huge + "/trainer_state.json", "{}");
  expect_error([&] { latest_checkpoint(f.dir); }, {huge, "step number out of range"});
  Trainer t(*f.m, f.cfg, f.stage);
  expect_error([&] { t.save_checkpoint(); }, {huge, "step number out of range"});   // the keep_ckpts listing
}

}  // namespace
}  // namespace nanoseek
