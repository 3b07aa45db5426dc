// SafetensorsFile: write->read round trip, files written by the python library, atomic writes, and one small
// case per malformed-input error (each message must name the file and the tensor).
#include "core/safetensors.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include "core/fs.h"
#include "io_test_util.h"

namespace nanoseek {
namespace {

using testing::expect_error;
using testing::golden_io;
using testing::st_bytes;
using testing::TempDir;
using testing::view_as;

std::unique_ptr<SafetensorsFile> parse(const std::string& header, const std::string& data = "") {
  return SafetensorsFile::from_bytes(st_bytes(header, data), "bad.safetensors");
}

// A header with one tensor "w" and the given entry (the JSON object after "w":).
void expect_bad_entry(const std::string& entry, size_t data_bytes, std::initializer_list<std::string> parts) {
  std::string header = R"({"w":)" + entry + "}";
  expect_error([&] { parse(header, std::string(data_bytes, '\0')); }, parts);
}

TEST(SafetensorsRoundTrip, FiveTensorsMixedDtypesScalarAndEmpty) {
  TempDir dir;
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b{f32_to_bf16(1.5f), f32_to_bf16(-2.0f), f32_to_bf16(3.25f), 0};
  std::vector<int64_t> c{-7, int64_t(1) << 50};
  float scalar = 42.0f;
  std::vector<TensorWrite> ts{{"a", DType::F32, {2, 3}, a.data()},
                              {"b.bf16", DType::BF16, {4}, b.data()},
                              {"c", DType::I64, {2}, c.data()},
                              {"empty", DType::U8, {0, 5}, nullptr},
                              {"scalar", DType::F32, {}, &scalar}};
  write_safetensors(dir / "x.safetensors", ts, {{"format", "pt"}, {"step", "12"}});
  auto f = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(f->metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "12"}}));
  ASSERT_EQ(f->tensors().size(), 5u);
  // Data-offset order = write order here; the zero-byte tensor sits at its offset like any other.
  std::vector<std::string> order;
  for (const auto& t : f->tensors()) order.push_back(t.name);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b.bf16", "c", "empty", "scalar"}));
  EXPECT_EQ(view_as<float>(*f->find("a")), a);
  EXPECT_EQ(f->find("a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(view_as<uint16_t>(*f->find("b.bf16")), b);
  EXPECT_EQ(view_as<int64_t>(*f->find("c")), c);
  EXPECT_EQ(f->find("empty")->nbytes, 0u);
  EXPECT_EQ(f->find("empty")->numel(), 0);
  EXPECT_EQ(f->find("scalar")->numel(), 1);
  EXPECT_EQ(view_as<float>(*f->find("scalar")), std::vector<float>{42.0f});
  EXPECT_EQ(f->find("nope"), nullptr);
  // Header padded to 8 so data stays aligned, as the python writer does.
  uint64_t hlen;
  std::memcpy(&hlen, f->bytes().data(), 8);
  EXPECT_EQ(hlen % 8, 0u);
  EXPECT_EQ(f->bytes().size(), 8 + hlen + 24 + 8 + 16 + 0 + 4);
  // from_bytes sees the same thing.
  auto g = SafetensorsFile::from_bytes(read_file(dir / "x.safetensors"), "copy");
  EXPECT_EQ(view_as<float>(*g->find("a")), a);
}

TEST(SafetensorsRoundTrip, ReadsFileWrittenByPythonLibrary_300x200) {
  auto f = SafetensorsFile::open(golden_io("fp8_block.safetensors"));
  const TensorView* q = f->find("layer.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, DType::F8_E4M3);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{300, 200}));
  EXPECT_EQ(q->nbytes, 60000u);
  EXPECT_EQ(f->find("w")->dtype, DType::BF16);
  EXPECT_EQ(f->find("layer.weight_scale_inv")->shape, (std::vector<int64_t>{3, 2}));
  for (size_t i = 1; i < f->tensors().size(); ++i) EXPECT_LT(f->tensors()[i - 1].data, f->tensors()[i].data);
}

TEST(SafetensorsAtomic, NoTempFileLeftAndRewriteReplaces) {
  TempDir dir;
  float v = 1.0f;
  TensorWrite t{"v", DType::F32, {1}, &v};
  write_safetensors(dir / "m.safetensors", {&t, 1});
  v = 2.0f;
  write_safetensors(dir / "m.safetensors", {&t, 1});
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});
  EXPECT_EQ(view_as<float>(*SafetensorsFile::open(dir / "m.safetensors")->find("v")), std::vector<float>{2.0f});
}

TEST(SafetensorsAtomic, FailedWriteMidFileKeepsPreviousFileIntact) {
  TempDir dir;
  std::vector<float> small(4, 1.0f), big(1 << 16, 3.0f);
  TensorWrite ts{"v", DType::F32, {4}, small.data()};
  write_safetensors(dir / "m.safetensors", {&ts, 1});
  const std::string before = read_file(dir / "m.safetensors");
  // Make the kernel refuse writes past 64 KB (EFBIG instead of SIGXFSZ), so the 256 KB write fails half-way.
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 1 << 16;
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0) GTEST_SKIP() << "cannot lower RLIMIT_FSIZE";
  TensorWrite tb{"v", DType::F32, {1 << 16}, big.data()};
  expect_error([&] { write_safetensors(dir / "m.safetensors", {&tb, 1}); }, {"m.safetensors", "write failed"});
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(read_file(dir / "m.safetensors"), before);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});   // temp file removed
}

TEST(SafetensorsWrite, RejectsDuplicateReservedAndNegative) {
  TempDir dir;
  float v = 0;
  std::vector<TensorWrite> dup{{"a", DType::F32, {1}, &v}, {"a", DType::F32, {1}, &v}};
  expect_error([&] { write_safetensors(dir / "d.safetensors", dup); }, {"d.safetensors", "'a' given twice"});
  std::vector<TensorWrite> res{{"__metadata__", DType::F32, {1}, &v}};
  expect_error([&] { write_safetensors(dir / "d.safetensors", res); }, {"reserved"});
  std::vector<TensorWrite> neg{{"n", DType::F32, {-1}, &v}};
  expect_error([&] { write_safetensors(dir / "d.safetensors", neg); }, {"'n'", "negative"});
  EXPECT_TRUE(dir.list().empty());
}

// ---- malformed input, one case per check -----------------------------------------------------------------

TEST(SafetensorsErrors, FileShorterThan8Bytes) {
  expect_error([] { SafetensorsFile::from_bytes("\x01\x02\x03", "tiny.st"); }, {"tiny.st", "3 bytes", "too short"});
  TempDir dir;
  write_file_atomic(dir / "empty.safetensors", "");
  expect_error([&] { SafetensorsFile::open(dir / "empty.safetensors"); }, {"empty.safetensors", "0 bytes"});
}

TEST(SafetensorsErrors, MissingFileNamesPath) {
  expect_error([] { SafetensorsFile::open("/nonexistent/x.safetensors"); },
               {"/nonexistent/x.safetensors", "cannot open"});
}

TEST(SafetensorsErrors, HeaderLengthPastEndOfFile) {
  expect_error([] { SafetensorsFile::from_bytes(st_bytes("{}", "", 1000), "f.st"); },
               {"f.st", "header length 1000", "past the end"});
}

TEST(SafetensorsErrors, HeaderLengthOver100MB) {
  expect_error([] { SafetensorsFile::from_bytes(st_bytes("{}", "", int64_t(1) << 40), "f.st"); },
               {"f.st", "exceeds"});
}

TEST(SafetensorsErrors, HeaderNotJsonOrNotObject) {
  expect_error([] { parse(R"({"w": {"dtype": )"); }, {"bad.safetensors: header: line 1 col"});
  expect_error([] { parse("[1, 2]"); }, {"bad.safetensors", "must be a JSON object", "array"});
  expect_error([] { parse("{} trailing"); }, {"bad.safetensors: header: line 1 col"});
  expect_error([] { parse("{\"\xff\": 1}"); }, {"bad.safetensors: header", "UTF-8"});   // invalid UTF-8
}

// Regression (issue #11): the header went to nlohmann's parser unbounded; a value nested 10^6 deep in a tensor's
// dtype reached the recursive dump of the error message.
TEST(SafetensorsErrors, DeeplyNestedHeaderIsRefused) {
  const std::string deep = R"({"w":{"dtype":)" + std::string(1000000, '[') + std::string(1000000, ']') +
                           R"(,"shape":[1],"data_offsets":[0,4]}})";
  expect_error([&] { parse(deep, std::string(4, '\0')); },
               {"bad.safetensors: header: line 1 col 29", "nested deeper than 16 levels"});
}

TEST(SafetensorsErrors, EntryMissingFields) {
  expect_bad_entry(R"({"shape":[1],"data_offsets":[0,4]})", 4, {"bad.safetensors", "'w'", "missing field 'dtype'"});
  expect_bad_entry(R"({"dtype":"F32","data_offsets":[0,4]})", 4, {"'w'", "missing field 'shape'"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1]})", 4, {"'w'", "missing field 'data_offsets'"});
}

TEST(SafetensorsErrors, EntryFieldsOfWrongJsonType) {
  expect_bad_entry("7", 0, {"'w'", "entry must be an object", "number"});
  expect_bad_entry(R"({"dtype":5,"shape":[1],"data_offsets":[0,4]})", 4, {"'w'", "dtype must be a string"});
  expect_bad_entry(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})", 4, {"'w'", "shape must be an array"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})", 4, {"'w'", "must be integers"});
  expect_bad_entry(R"({"dtype":"F32","shape":[[1]],"data_offsets":[0,4]})", 4, {"'w'", "must be integers"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1],"data_offsets":{"a":0}})", 4, {"'w'", "[begin, end]"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 4, {"'w'", "[begin, end]"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1],"data_offsets":["0",4]})", 4, {"'w'", "non-negative integers"});
  expect_bad_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4, {"'w'", "non-negative integers"});
}

TEST(SafetensorsErrors, UnknownDtype) {
  expect_bad_entry(R"({"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]})", 1, {"'w'", "unknown dtype 'Q4_K'"});
}

TEST(SafetensorsErrors, NegativeDimension) {
  expect_bad_entry(R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]})", 0, {"'w'", "-1", "negative"});
}

TEST(SafetensorsErrors, NumelTimesSizeOverflows) {
  // 2^62 * 8 elements overflows the element count; 2^62 F32 elements overflow the byte count.
  expect_bad_entry(R"({"dtype":"U8","shape":[4611686018427387904,8],"data_offsets":[0,0]})", 0,
                   {"'w'", "overflows"});
  expect_bad_entry(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]})", 0,
                   {"'w'", "overflows"});
  expect_bad_entry(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]})", 0,
                   {"'w'", "too large"});
}

TEST(SafetensorsErrors, BeginGreaterThanEnd) {
  expect_bad_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8, {"'w'", "begin 8 > end 4"});
}

TEST(SafetensorsErrors, EndBeyondDataRegion) {
  expect_bad_entry(R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})", 8,
                   {"bad.safetensors", "'w'", "end 12 is beyond the data region (8 bytes)"});
}

TEST(SafetensorsErrors, SizeMismatchWithShape) {
  expect_bad_entry(R"({"dtype":"BF16","shape":[3],"data_offsets":[0,4]})", 8,
                   {"'w'", "span 4 bytes", "[3] of BF16 needs 6"});
}

TEST(SafetensorsErrors, OverlappingTensors) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_error([&] { parse(h, std::string(12, '\0')); }, {"bad.safetensors", "'a' [0, 8)", "'b' [4, 12)", "overlap"});
  // Zero-byte tensors overlap nothing.
  std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
  EXPECT_EQ(parse(ok, std::string(8, '\0'))->tensors().size(), 2u);
}

TEST(SafetensorsErrors, DuplicateTensorNames) {
  std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_error([&] { parse(h, std::string(8, '\0')); }, {"bad.safetensors: header", "duplicate key 'a'"});
}

TEST(SafetensorsErrors, MetadataNotObjectOrValuesNotStrings) {
  expect_error([] { parse(R"({"__metadata__":{"k":1}})"); },
               {"bad.safetensors", "__metadata__ value for key 'k' must be a string", "number"});
  expect_error([] { parse(R"({"__metadata__":{"k":null}})"); }, {"key 'k'", "null"});
  expect_error([] { parse(R"({"__metadata__":["a"]})"); }, {"__metadata__ must be an object"});
  EXPECT_EQ(parse(R"({"__metadata__":{"k":"v"}})")->metadata().at("k"), "v");
}

TEST(SafetensorsErrors, EmptyHeaderObjectIsValid) {
  auto f = parse("{}");
  EXPECT_TRUE(f->tensors().empty());
  auto g = parse("{}      ");   // space padding, as written by the python library
  EXPECT_TRUE(g->tensors().empty());
}

}  // namespace
}  // namespace nanoseek
