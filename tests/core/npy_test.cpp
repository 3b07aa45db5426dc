// .npy: files written by numpy.save (tests/golden/io/npy, formulas from make_io_goldens.py), our writer's
// round trip and layout, and malformed headers.
#include "core/npy.h"

#include <gtest/gtest.h>

#include <random>

#include "core/fs.h"
#include "io_test_util.h"

namespace nanoseek {
namespace {

using testing::expect_error;
using testing::golden_io;
using testing::TempDir;

TEST(NpyNumpyFiles, F4_2x3) {
  NpyArray a = read_npy(golden_io("npy/f4_2x3.npy"));
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.f32, (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  EXPECT_TRUE(a.i64.empty());
}

TEST(NpyNumpyFiles, F8_4RoundedToFloat) {
  NpyArray a = read_npy(golden_io("npy/f8_4.npy"));
  EXPECT_EQ(a.dtype, "<f8");
  EXPECT_EQ(a.shape, std::vector<int64_t>{4});
  EXPECT_EQ(a.f32, (std::vector<float>{1.0f, -2.5f, float(1e-3), 3.0e38f}));
}

TEST(NpyNumpyFiles, I4_3x1x2AndI8Scalar) {
  NpyArray a = read_npy(golden_io("npy/i4_3x1x2.npy"));
  EXPECT_EQ(a.dtype, "<i4");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(a.i64, (std::vector<int64_t>{-3, -2, -1, 0, 1, 2}));
  NpyArray s = read_npy(golden_io("npy/i8_scalar.npy"));
  EXPECT_EQ(s.dtype, "<i8");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.i64, std::vector<int64_t>{-(int64_t(1) << 40)});
}

TEST(NpyNumpyFiles, F4_0x3Empty) {
  NpyArray a = read_npy(golden_io("npy/f4_0x3.npy"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(a.f32.empty());
}

TEST(NpyNumpyFiles, UnsupportedDtypeAndFortranOrderAreErrors) {
  expect_error([] { read_npy(golden_io("npy/u1_3.npy")); }, {"u1_3.npy", "unsupported npy dtype '|u1'"});
  expect_error([] { read_npy(golden_io("npy/f4_fortran_2x2.npy")); }, {"f4_fortran_2x2.npy", "fortran_order"});
}

TEST(NpyRoundTrip, F32_2x3_I32_4_ScalarAndEmpty) {
  TempDir dir;
  std::vector<float> a{-1, -0.5f, 0, 0.5f, 1, 1.5f};
  const int64_t s23[] = {2, 3};
  write_npy(dir / "a.npy", a.data(), s23);
  NpyArray ra = read_npy(dir / "a.npy");
  EXPECT_EQ(ra.dtype, "<f4");
  EXPECT_EQ(ra.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ra.f32, a);
  // Byte-identical to what numpy.save writes for the same array.
  EXPECT_EQ(read_file(dir / "a.npy"), read_file(golden_io("npy/f4_2x3.npy")));

  std::vector<int32_t> b{-2, 0, 7, 2147483647};
  const int64_t s4[] = {4};
  write_npy_i32(dir / "b.npy", b.data(), s4);
  EXPECT_EQ(read_npy(dir / "b.npy").i64, (std::vector<int64_t>{-2, 0, 7, 2147483647}));

  float v = 3.25f;
  write_npy(dir / "s.npy", &v, {});
  NpyArray rs = read_npy(dir / "s.npy");
  EXPECT_TRUE(rs.shape.empty());
  EXPECT_EQ(rs.f32, std::vector<float>{3.25f});

  const int64_t s03[] = {0, 3};
  write_npy(dir / "e.npy", nullptr, s03);
  EXPECT_EQ(read_file(dir / "e.npy"), read_file(golden_io("npy/f4_0x3.npy")));
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"a.npy", "b.npy", "e.npy", "s.npy"}));   // no temp files
}

TEST(NpyRoundTrip, HeaderPaddedTo64Bytes_5dShape) {
  TempDir dir;
  std::vector<float> x(2 * 3 * 1 * 4 * 5, 1.0f);
  const int64_t shape[] = {2, 3, 1, 4, 5};
  write_npy(dir / "x.npy", x.data(), shape);
  std::string bytes = read_file(dir / "x.npy");
  EXPECT_EQ((bytes.size() - x.size() * 4) % 64, 0u);
  EXPECT_EQ(read_npy(dir / "x.npy").shape, (std::vector<int64_t>{2, 3, 1, 4, 5}));
}

std::string npy_bytes(const std::string& dict, const std::string& data, int version = 1) {
  std::string out("\x93NUMPY", 6);
  out += char(version);
  out += char(0);
  size_t n = dict.size();
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i) out += char(n >> (8 * i) & 0xff);
  return out + dict + data;
}

TEST(NpyErrors, MalformedHeadersNameFileAndProblem) {
  auto p = [](const std::string& b) { return parse_npy(b, "x.npy"); };
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  EXPECT_EQ(p(npy_bytes(ok, std::string(8, '\0'))).f32.size(), 2u);
  EXPECT_EQ(p(npy_bytes(ok, std::string(8, '\0'), 2)).f32.size(), 2u);   // v2.0: u32 header length
  expect_error([&] { p("NUMPY"); }, {"x.npy", "bad magic"});
  expect_error([&] { p(npy_bytes(ok, std::string(8, '\0'), 9)); }, {"x.npy", "version 9"});
  expect_error([&] { p(npy_bytes(ok, std::string(7, '\0'))); }, {"x.npy", "7 bytes of data", "needs 8"});
  expect_error([&] { p(npy_bytes(ok, "").substr(0, 30)); }, {"x.npy", "runs past the end"});
  expect_error([&] { p(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", std::string(8, 0))); },
               {"unsupported npy dtype '>f4'"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4', 'shape': (2,), }", std::string(8, 0))); },
               {"lacks one of descr/fortran_order/shape"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "")); },
               {"x.npy", "npy header byte", "non-negative integer"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "")); },
               {"True or False"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "")); },
               {"unknown key"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", "")); },
               {"expected ',' or ')'"});
  expect_error([&] { p(npy_bytes("{'descr': '<f4", "")); }, {"unterminated string"});
  expect_error(
      [&] { p(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "")); },
      {"too large"});
  expect_error([&] {
    p(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", ""));
  }, {"overflows"});
}

TEST(NpyErrors, Seeded5000MutantsParseOrThrowError) {
  const std::string base = npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }   \n",
                                     std::string(24, '\x01'));
  std::mt19937_64 rng(77);
  int errors = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string f = base;
    for (int r = 0; r < 1 + int(rng() % 3); ++r) {
      switch (rng() % 3) {
        case 0: f[rng() % f.size()] = char(rng()); break;
        case 1: f.resize(rng() % (f.size() + 1)); break;
        case 2: f.insert(rng() % (f.size() + 1), 1, "(),:' 0123456789TF{}"[rng() % 20]); break;
      }
      if (f.empty()) f = "x";
    }
    try {
      NpyArray a = parse_npy(f, "m.npy");
      size_t n = 1;
      for (int64_t d : a.shape) n *= size_t(d);
      ASSERT_EQ(a.f32.size() + a.i64.size(), n) << "case " << i;
    } catch (const Error& e) {
      ++errors;
      ASSERT_EQ(std::string(e.what()).rfind("m.npy: ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(errors, 2500);
}

}  // namespace
}  // namespace nanoseek
