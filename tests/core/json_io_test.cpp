// core/json_io: the bounded JSON reader every file goes through. Depth and size caps, positions in messages,
// number overflow, duplicate keys, and the typed field helpers.
#include "core/json_io.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "io_test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;
using testing::expect_error;
using testing::TempDir;

std::string nested(size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

TEST(JsonIo, ParsesOrdinaryValuesLikeNlohmann) {
  const std::string text = R"({"a": [1, -2, 3.5, "x\u00e9", true, null, {"b": {}}], "c": 18446744073709551615})";
  EXPECT_EQ(parse_json(text, "t"), json::parse(text));
  EXPECT_EQ(parse_json("  7 ", "t"), json(7));
  EXPECT_EQ(parse_json("\"s\"", "t"), json("s"));
}

// 200,000 levels used to be accepted and then crash (recursive copies of `extra`); the cap applies to objects and
// arrays alike, at exactly kJsonMaxDepth levels it still parses.
TEST(JsonIo, NestingBeyondTheCapIsAnErrorWithItsPosition) {
  EXPECT_EQ(parse_json(nested(kJsonMaxDepth), "t").dump(), nested(kJsonMaxDepth));
  expect_error([] { parse_json(nested(kJsonMaxDepth + 1), "deep.json"); },
               {"deep.json: line 1 col 65:", "nested deeper than 64"});
  expect_error([] { parse_json(nested(200000), "deep.json"); }, {"deep.json", "nested deeper than 64"});
  std::string objs;
  for (int i = 0; i < 100; ++i) objs += "{\"k\":";
  objs += "1" + std::string(100, '}');
  expect_error([&] { parse_json("\n\n  " + objs, "o.json"); }, {"o.json: line 3 col 323:", "deeper than 64"});
  // brackets inside strings do not count
  EXPECT_NO_THROW(parse_json("{\"s\": \"" + std::string(1000, '[') + "\"}", "t"));
  JsonLimits shallow;
  shallow.max_depth = 2;
  expect_error([&] { parse_json("[[[1]]]", "t", shallow); }, {"deeper than 2"});
}

TEST(JsonIo, SyntaxErrorsNameFileLineAndColumn) {
  expect_error([] { parse_json("{\n  \"a\": x\n}", "cfg.json"); }, {"cfg.json: line 2 col 8:", "invalid literal"});
  expect_error([] { parse_json("", "empty.json"); }, {"empty.json: line 1 col 1:"});
  expect_error([] { parse_json("{} {}", "two.json"); }, {"two.json: line 1 col 4:", "end of input"});
  expect_error([] { parse_json("{\"a\": 1,}", "t.json"); }, {"t.json: line 1 col 9:"});
}

// `1e400` is an nlohmann out_of_range (not a parse_error) that escaped every reader catching parse_error only.
TEST(JsonIo, NumberOverflowIsAnErrorNotAnOutOfRangeException) {
  expect_error([] { parse_json("{\"rope_theta\": 1e400}", "c.json"); }, {"c.json: line 1 col", "1e400"});
  expect_error([] { parse_json("[-1e999]", "c.json"); }, {"c.json", "overflow"});
}

TEST(JsonIo, DuplicateKeysAreAnError) {
  expect_error([] { parse_json(R"({"vocab_size": 10, "vocab_size": 20})", "c.json"); },
               {"c.json", "duplicate key 'vocab_size'"});
  expect_error([] { parse_json(R"({"a": {"": 1, "": 2}})", "c.json"); }, {"duplicate key ''"});
  EXPECT_NO_THROW(parse_json(R"([{"a": 1}, {"a": 2}])", "c.json"));   // same key in two objects is fine
}

TEST(JsonIo, SizeCapIsCheckedBeforeParsingAndBeforeReading) {
  JsonLimits small;
  small.max_bytes = 10;
  expect_error([&] { parse_json("[1, 2, 3, 4, 5]", "big.json", small); }, {"big.json", "15 bytes", "limit of 10"});
  TempDir dir;
  write_file_atomic(dir / "x.json", "[1, 2, 3, 4, 5]");
  expect_error([&] { read_json_file(dir / "x.json", small); }, {dir / "x.json", "limit of 10"});
  EXPECT_EQ(read_json_file(dir / "x.json"), json::parse("[1, 2, 3, 4, 5]"));
  write_file_atomic(dir / "bad.json", "{\"a\":\n\n  }");
  expect_error([&] { read_json_file(dir / "bad.json"); }, {dir / "bad.json", "line 3 col 3"});
  expect_error([&] { read_json_file(dir / "missing.json"); }, {dir / "missing.json"});
}

TEST(JsonIo, TypedFieldsNameFileAndField) {
  const json j = json::parse(R"({"step": "x", "n": 18446744073709551615, "f": 1.5, "b": 1, "s": 2, "ok": 3})");
  expect_error([&] { json_int(j, "step", "st.json"); }, {"st.json: field 'step' must be an integer, got \"x\""});
  expect_error([&] { json_int(j, "n", "st.json"); }, {"st.json: field 'n'", "out of range"});
  expect_error([&] { json_int(j, "f", "st.json"); }, {"field 'f' must be an integer, got 1.5"});
  expect_error([&] { json_bool(j, "b", "st.json"); }, {"field 'b' must be true or false, got 1"});
  expect_error([&] { json_string(j, "s", "st.json"); }, {"field 's' must be a string, got 2"});
  expect_error([&] { json_number(j, "step", "st.json"); }, {"field 'step' must be a number"});
  expect_error([&] { json_int(j, "absent", "st.json"); }, {"st.json: required field 'absent' is missing"});
  expect_error([&] { json_int(json::array(), "a", "st.json"); }, {"st.json: expected a JSON object"});
  EXPECT_EQ(json_int(j, "ok", "st.json"), 3);
  EXPECT_EQ(json_number(j, "f", "st.json"), 1.5);
  EXPECT_EQ(json_brief(json(std::string(200, 'a'))).size(), 80u);
}

}  // namespace
}  // namespace nanoseek
