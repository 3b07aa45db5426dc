// Checkpoint: python-written sharded checkpoint, FP8 block dequant vs torch, write_checkpoint round trips,
// and the sharding / lookup errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/safetensors.h"
#include "io_test_util.h"

namespace nanoseek {
namespace {

using testing::bits;
using testing::expect_error;
using testing::golden_io;
using testing::TempDir;
using testing::view_as;

TEST(CheckpointGolden, ReadsTwoShardPythonCheckpointMixedF32Bf16Fp8I64) {
  Checkpoint ck = Checkpoint::open(golden_io("sharded"));
  auto expected = SafetensorsFile::open(golden_io("sharded_expected.safetensors"));
  std::vector<std::string> want;
  for (const auto& t : expected->tensors()) want.push_back(t.name);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ck.names(), want);   // includes the ..._scale_inv sibling
  EXPECT_EQ(ck.get("model.embed_tokens.weight").dtype, DType::BF16);
  EXPECT_EQ(ck.get("model.layers.0.mlp.gate_proj.weight").dtype, DType::F8_E4M3);
  for (const auto& t : expected->tensors()) {
    if (t.dtype == DType::I64) {
      EXPECT_EQ(ck.read_i64(t.name), view_as<int64_t>(t)) << t.name;
      continue;
    }
    std::vector<float> got(size_t(t.numel()));
    ck.read_f32(t.name, t.shape, got.data());   // FP8 weight: scale comes from the other shard
    auto ref = view_as<float>(t);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(bits(got[i]), bits(ref[i])) << t.name << " [" << i << "]";
  }
  EXPECT_EQ(ck.read_i64("positions")[2], int64_t(1) << 40);
  EXPECT_EQ(Checkpoint::open(golden_io("sharded/model.safetensors.index.json")).names(), want);
}

TEST(CheckpointFp8, DequantMatchesTorch_300x200_Scale3x2) {
  Checkpoint ck = Checkpoint::open(golden_io("fp8_block.safetensors"));
  const int64_t shape[] = {300, 200};
  std::vector<float> got(300 * 200);
  ck.read_f32("layer.weight", shape, got.data());
  auto ref = ck.read_f32("dequant");
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(bits(got[i]), bits(ref[i])) << "element " << i;
}

TEST(CheckpointFp8, QuantizeMatchesTorchBitExact_300x200) {
  Checkpoint ck = Checkpoint::open(golden_io("fp8_block.safetensors"));
  auto w = ck.read_f32("w");
  std::vector<uint8_t> q(300 * 200);
  std::vector<float> s(6);
  quantize_fp8_blocks(w.data(), 300, 200, q.data(), s.data());
  auto ref_s = ck.read_f32("layer.weight_scale_inv");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits(s[i]), bits(ref_s[i])) << "scale " << i << ": " << s[i];
  EXPECT_EQ(s[5], 1e-4f / 448.0f);   // the all-zero edge block hits the amax clamp
  auto ref_q = view_as<uint8_t>(ck.get("layer.weight"));
  int bad = 0;
  for (size_t i = 0; i < q.size(); ++i) bad += q[i] != ref_q[i];
  EXPECT_EQ(bad, 0);
}

TEST(CheckpointFp8, QuantizeDequantRelativeErrorBound_257x384) {
  // e4m3 keeps 3 mantissa bits: relative error of a normal value is at most 2^-4.
  const int64_t R = 257, C = 384;
  std::vector<float> w(R * C);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i) * 0.37f) * (1 + float(i % 7));
  std::vector<uint8_t> q(w.size());
  std::vector<float> s(3 * 3), back(w.size());
  quantize_fp8_blocks(w.data(), R, C, q.data(), s.data());
  dequantize_fp8_blocks(q.data(), s.data(), R, C, back.data());
  for (size_t i = 0; i < w.size(); ++i) {
    int64_t r = int64_t(i) / C, c = int64_t(i) % C;
    float tol = std::fabs(w[i]) / 16 + s[(r / 128) * 3 + c / 128] * 0.001953125f;   // + half a subnormal step
    ASSERT_LE(std::fabs(back[i] - w[i]), tol) << i;
  }
}

std::vector<TensorWrite> sample_tensors(std::vector<float>& a, std::vector<uint16_t>& b, std::vector<int32_t>& c) {
  a.resize(1000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.25f;
  b.assign(300, f32_to_bf16(-1.5f));
  c = {1, -2, 3};
  return {{"a", DType::F32, {10, 100}, a.data()}, {"b", DType::BF16, {300}, b.data()},
          {"c", DType::I32, {3}, c.data()}, {"d", DType::F32, {2, 500}, a.data()}};
}

TEST(CheckpointWrite, SingleFileRoundTrip) {
  TempDir dir;
  std::vector<float> a;
  std::vector<uint16_t> b;
  std::vector<int32_t> c;
  auto ts = sample_tensors(a, b, c);
  write_checkpoint(dir.path, ts);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"model.safetensors"});
  Checkpoint ck = Checkpoint::open(dir.path);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(ck.read_f32("a"), a);
  EXPECT_EQ(ck.read_f32("b"), std::vector<float>(300, -1.5f));
  EXPECT_EQ(ck.read_i64("c"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(Checkpoint::open(dir / "model.safetensors").names().size(), 4u);   // the file path works too
}

TEST(CheckpointWrite, ShardedRoundTrip_3ShardsIndexLast) {
  TempDir dir;
  std::vector<float> a;
  std::vector<uint16_t> b;
  std::vector<int32_t> c;
  auto ts = sample_tensors(a, b, c);   // 4000 + 600 + 12 + 4000 bytes
  write_checkpoint(dir.path, ts, 4100);
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"model-00001-of-00003.safetensors",
                                                  "model-00002-of-00003.safetensors",
                                                  "model-00003-of-00003.safetensors",
                                                  "model.safetensors.index.json"}));
  auto index = nlohmann::json::parse(read_file(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 8612);
  EXPECT_EQ(index["weight_map"]["a"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["b"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["c"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["d"], "model-00003-of-00003.safetensors");
  Checkpoint ck = Checkpoint::open(dir.path);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(ck.read_f32("d"), a);
  EXPECT_EQ(ck.read_i64("c"), (std::vector<int64_t>{1, -2, 3}));
  // Rewriting as a single file removes the index, so open() sees the new layout.
  write_checkpoint(dir.path, std::span(ts).first(1));
  EXPECT_FALSE(file_exists(dir / "model.safetensors.index.json"));
  EXPECT_EQ(Checkpoint::open(dir.path).names(), std::vector<std::string>{"a"});
}

TEST(CheckpointWrite, Fp8WeightWithScaleRoundTripsThroughReadF32_130x300) {
  TempDir dir;
  const int64_t R = 130, C = 300;
  std::vector<float> w(R * C);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(float(i)) * 0.02f;
  std::vector<uint8_t> q(w.size());
  std::vector<float> s(2 * 3), want(w.size());
  quantize_fp8_blocks(w.data(), R, C, q.data(), s.data());
  dequantize_fp8_blocks(q.data(), s.data(), R, C, want.data());
  std::vector<TensorWrite> ts{{"x.weight", DType::F8_E4M3, {R, C}, q.data()},
                              {"x.weight_scale_inv", DType::F32, {2, 3}, s.data()}};
  write_checkpoint(dir.path, ts);
  EXPECT_EQ(Checkpoint::open(dir.path).read_f32("x.weight"), want);
}

// ---- errors --------------------------------------------------------------------------------------------

TEST(CheckpointErrors, NotFoundAndShapeMismatchNameTensorAndShapes) {
  Checkpoint ck = Checkpoint::open(golden_io("sharded"));
  EXPECT_FALSE(ck.has("nope"));
  expect_error([&] { ck.get("nope"); }, {"tensor 'nope' not found in", "sharded"});
  std::vector<float> out(16 * 8);
  const int64_t wrong[] = {8, 16};
  expect_error([&] { ck.read_f32("model.embed_tokens.weight", wrong, out.data()); },
               {"'model.embed_tokens.weight'", "shape [16, 8]", "expected [8, 16]"});
  expect_error([&] { ck.read_i64("model.norm.weight"); }, {"'model.norm.weight'", "F32", "integer"});
}

void write_one(const std::string& path, const std::string& name, DType dt, std::vector<int64_t> shape) {
  std::vector<uint8_t> zeros(1 << 16);
  TensorWrite t{name, dt, std::move(shape), zeros.data()};
  write_safetensors(path, {&t, 1});
}

// An integer tensor where weights are expected used to be converted value by value (logits of +-3e10): an Error
// naming the tensor, its dtype and the file, for every integer dtype.
TEST(CheckpointErrors, ReadF32OfIntegerTensorIsAnErrorNamingTensorDtypeFile) {
  TempDir dir;
  for (DType dt : {DType::I64, DType::I32, DType::I16, DType::I8, DType::U8, DType::BOOL}) {
    const std::string path = dir / "ints.safetensors";
    write_one(path, "model.norm.weight", dt, {4});
    Checkpoint ck = Checkpoint::open(path);
    std::vector<float> out(4);
    const int64_t shape[] = {4};
    expect_error([&] { ck.read_f32("model.norm.weight", shape, out.data()); },
                 {path, "'model.norm.weight'", std::string(dtype_name(dt)), "float dtype"});
    expect_error([&] { ck.read_f32("model.norm.weight"); }, {"'model.norm.weight'", std::string(dtype_name(dt))});
  }
}

TEST(CheckpointErrors, Fp8ScaleMissingWrongShapeWrongDtype) {
  TempDir dir;
  std::vector<uint8_t> q(200 * 10);
  std::vector<float> s(16);
  std::vector<float> out(2000);
  const int64_t shape[] = {200, 10};
  auto ck_with = [&](std::vector<TensorWrite> ts) {
    write_safetensors(dir / "m.safetensors", ts);
    return Checkpoint::open(dir / "m.safetensors");
  };
  Checkpoint a = ck_with({{"l.weight", DType::F8_E4M3, {200, 10}, q.data()}});
  expect_error([&] { a.read_f32("l.weight", shape, out.data()); },
               {"'l.weight'", "no scale tensor 'l.weight_scale_inv'"});
  Checkpoint b = ck_with({{"l.weight", DType::F8_E4M3, {200, 10}, q.data()},
                          {"l.weight_scale_inv", DType::F32, {1, 1}, s.data()}});
  expect_error([&] { b.read_f32("l.weight", shape, out.data()); },
               {"'l.weight_scale_inv'", "must be F32 [2, 1]", "got F32 [1, 1]"});
  Checkpoint c = ck_with({{"l.weight", DType::F8_E4M3, {200, 10}, q.data()},
                          {"l.weight_scale_inv", DType::BF16, {2, 1}, s.data()}});
  expect_error([&] { c.read_f32("l.weight", shape, out.data()); }, {"must be F32 [2, 1]", "got BF16"});
  Checkpoint d = ck_with({{"l.weight", DType::F8_E4M3, {2000}, q.data()},
                          {"l.weight_scale_inv", DType::F32, {16}, s.data()}});
  expect_error([&] { d.read_f32("l.weight"); }, {"'l.weight'", "must be 2-D"});
  // An FP8 tensor that is not a "*.weight" is plainly decoded.
  Checkpoint e = ck_with({{"act", DType::F8_E4M3, {200, 10}, q.data()}});
  EXPECT_EQ(e.read_f32("act"), std::vector<float>(2000, 0.0f));
}

TEST(CheckpointErrors, DirectoryWithoutCheckpointOrMissingPath) {
  TempDir dir;
  expect_error([&] { Checkpoint::open(dir.path); }, {dir.path, "neither model.safetensors nor"});
  expect_error([&] { Checkpoint::open(dir / "nothing"); }, {"nothing", "no such file or directory"});
}

TEST(CheckpointErrors, IndexMalformed) {
  TempDir dir;
  write_file_atomic(dir / "model.safetensors.index.json", "{\"weight_map\": ");
  expect_error([&] { Checkpoint::open(dir.path); }, {"model.safetensors.index.json", "line 1 col 16"});
  write_file_atomic(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"model.safetensors.index.json", "'weight_map'"});
  write_file_atomic(dir / "model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"weight_map['a']", "string", "number"});
  write_file_atomic(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"'../x.safetensors'", "not a plain file name"});
  write_file_atomic(dir / "model.safetensors.index.json", R"({"weight_map": {}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"weight_map is empty"});
}

TEST(CheckpointErrors, ShardMissing) {
  TempDir dir;
  write_one(dir / "s1.safetensors", "a", DType::F32, {2});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"index.json", "shard 's2.safetensors'", "'b'", "not found"});
}

TEST(CheckpointErrors, WeightMapPointsToShardWithoutTheTensor) {
  TempDir dir;
  write_one(dir / "s1.safetensors", "a", DType::F32, {2});
  write_one(dir / "s2.safetensors", "b", DType::F32, {2});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  expect_error([&] { Checkpoint::open(dir.path); },
               {"index.json", "tensor 'b' in s1.safetensors", "does not contain it"});
}

TEST(CheckpointErrors, SameTensorInTwoShards) {
  TempDir dir;
  write_one(dir / "s1.safetensors", "a", DType::F32, {2});
  write_one(dir / "s2.safetensors", "a", DType::F32, {2});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  // s2 lacks 'b' too, so give it one and keep the duplicate 'a'.
  std::vector<float> z(2);
  std::vector<TensorWrite> ts{{"a", DType::F32, {2}, z.data()}, {"b", DType::F32, {2}, z.data()}};
  write_safetensors(dir / "s2.safetensors", ts);
  expect_error([&] { Checkpoint::open(dir.path); },
               {"tensor 'a' appears in two shards", "s1.safetensors", "s2.safetensors"});
}

TEST(CheckpointErrors, ShardErrorsNameTheShardFile) {
  TempDir dir;
  write_file_atomic(dir / "s1.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
  write_file_atomic(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors"}})");
  expect_error([&] { Checkpoint::open(dir.path); }, {"s1.safetensors", "runs past the end"});
}

}  // namespace
}  // namespace nanoseek
