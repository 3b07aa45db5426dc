// dtype codecs vs torch (goldens from tools/reference/make_io_goldens.py) and exhaustive round trips.
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "io_test_util.h"

namespace nanoseek {
namespace {

using testing::bits;
using testing::golden_io;
using testing::view_as;

TEST(DtypeNames, RoundTripAll11AndSizes) {
  const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::F64, DType::I64,
                       DType::I32, DType::I16, DType::I8,   DType::U8,      DType::BOOL};
  const size_t sizes[] = {4, 2, 2, 1, 8, 8, 4, 2, 1, 1, 1};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(dtype_from_name(dtype_name(all[i])), all[i]) << dtype_name(all[i]);
    EXPECT_EQ(dtype_size(all[i]), sizes[i]) << dtype_name(all[i]);
  }
  EXPECT_EQ(dtype_name(DType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_FALSE(dtype_from_name("bf16").has_value());   // case matters, as in safetensors
  EXPECT_FALSE(dtype_from_name("F8_E5M2").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
  EXPECT_TRUE(dtype_is_float(DType::F8_E4M3));
  EXPECT_TRUE(dtype_is_int(DType::BOOL));
  EXPECT_FALSE(dtype_is_int(DType::F64));
}

TEST(DtypeFp8, DecodeAll256CodesMatchTorch) {
  auto f = SafetensorsFile::open(golden_io("fp8_e4m3.safetensors"));
  auto ref = view_as<float>(*f->find("decode_f32"));
  ASSERT_EQ(ref.size(), 256u);
  int nans = 0;
  for (int c = 0; c < 256; ++c) {
    float v = fp8_e4m3_to_f32(uint8_t(c));
    if (std::isnan(ref[c])) {
      EXPECT_TRUE(std::isnan(v)) << "code " << c;
      ++nans;
    } else {
      EXPECT_EQ(bits(v), bits(ref[c])) << "code " << c << ": " << v << " vs torch " << ref[c];
    }
  }
  EXPECT_EQ(nans, 2);   // 0x7f and 0xff only
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), 0.001953125f);   // smallest subnormal 2^-9
}

TEST(DtypeFp8, EncodeMatchesTorchOnTiesSubnormalsSaturationRandom) {
  auto f = SafetensorsFile::open(golden_io("fp8_e4m3.safetensors"));
  auto in = view_as<float>(*f->find("encode_in"));
  auto out = view_as<uint8_t>(*f->find("encode_out"));
  ASSERT_EQ(in.size(), out.size());
  ASSERT_GT(in.size(), 4000u);
  int mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    uint8_t got = f32_to_fp8_e4m3(in[i]);
    // torch writes its one NaN code 0x7f whatever the input's sign; ours keeps the sign (0xff is NaN too).
    bool ok = std::isnan(in[i]) ? (got & 0x7f) == 0x7f : got == out[i];
    if (!ok && ++mismatches <= 10)
      ADD_FAILURE() << "x=" << in[i] << " (bits 0x" << std::hex << bits(in[i]) << "): got 0x" << int(got)
                    << ", torch 0x" << int(out[i]);
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(DtypeFp8, SaturatesAndRoundTripsEveryCode) {
  EXPECT_EQ(f32_to_fp8_e4m3(1e9f), 0x7e);
  EXPECT_EQ(f32_to_fp8_e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(f32_to_fp8_e4m3(470.0f), 0x7e);   // torch's plain cast would give NaN here
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(uint8_t(c))), c) << "code " << c;
  }
}

TEST(DtypeBf16, EncodeMatchesTorchOnTiesAndSpecials) {
  auto f = SafetensorsFile::open(golden_io("bf16_f16.safetensors"));
  auto in = view_as<float>(*f->find("bf16_in"));
  auto out = view_as<uint16_t>(*f->find("bf16_out"));
  ASSERT_EQ(in.size(), out.size());
  int mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    uint16_t got = f32_to_bf16(in[i]);
    bool ok = std::isnan(in[i]) ? std::isnan(bf16_to_f32(got)) : got == out[i];
    if (!ok && ++mismatches <= 10)
      ADD_FAILURE() << std::hex << "bits 0x" << bits(in[i]) << ": got 0x" << got << ", torch 0x" << out[i];
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(DtypeBf16, RoundTripsAll65536Codes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float v = bf16_to_f32(uint16_t(h));
    if (std::isnan(v)) EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(v))));
    else EXPECT_EQ(f32_to_bf16(v), h);
  }
}

TEST(DtypeF16, EncodeMatchesTorchAcrossRangeSubnormalsOverflow) {
  auto f = SafetensorsFile::open(golden_io("bf16_f16.safetensors"));
  auto in = view_as<float>(*f->find("f16_in"));
  auto out = view_as<uint16_t>(*f->find("f16_out"));
  ASSERT_EQ(in.size(), out.size());
  int mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    uint16_t got = f32_to_f16(in[i]);
    bool ok = std::isnan(in[i]) ? std::isnan(f16_to_f32(got)) : got == out[i];
    if (!ok && ++mismatches <= 10)
      ADD_FAILURE() << "x=" << in[i] << std::hex << ": got 0x" << got << ", torch 0x" << out[i];
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(DtypeF16, RoundTripsAll65536Codes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float v = f16_to_f32(uint16_t(h));
    if (std::isnan(v)) EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(v))));
    else EXPECT_EQ(f32_to_f16(v), h) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

// Every dtype through convert_to_f32, from a deliberately misaligned buffer, small (serial) and 200k (parallel).
class DtypeConvert : public ::testing::TestWithParam<size_t> {};

TEST_P(DtypeConvert, AllDtypesUnalignedMatchScalarDecode) {
  const size_t n = GetParam();
  std::vector<float> src(n);
  for (size_t i = 0; i < n; ++i) src[i] = float(int64_t(i % 251) - 125) * 0.5f;   // exact in every float dtype
  auto run = [&](DType d, auto encode) {
    std::vector<uint8_t> buf(n * dtype_size(d) + 1);
    for (size_t i = 0; i < n; ++i) {
      auto e = encode(src[i]);
      std::memcpy(buf.data() + 1 + i * sizeof(e), &e, sizeof(e));
    }
    std::vector<float> out(n, -1.0f);
    convert_to_f32(d, buf.data() + 1, out.data(), n);
    for (size_t i = 0; i < n; ++i) {
      float want = d == DType::U8 ? float(uint8_t(int8_t(src[i]))) : d == DType::BOOL ? float(src[i] != 0)
                 : dtype_is_int(d) ? std::trunc(src[i]) : src[i];
      if (out[i] != want) {
        ADD_FAILURE() << dtype_name(d) << " [" << i << "]: " << out[i] << " != " << want;
        return;
      }
    }
  };
  run(DType::F32, [](float x) { return x; });
  run(DType::F64, [](float x) { return double(x); });
  run(DType::F16, [](float x) { return f32_to_f16(x); });
  run(DType::BF16, [](float x) { return f32_to_bf16(x); });
  run(DType::I64, [](float x) { return int64_t(x); });
  run(DType::I32, [](float x) { return int32_t(x); });
  run(DType::I16, [](float x) { return int16_t(x); });
  run(DType::I8, [](float x) { return int8_t(x); });
  run(DType::U8, [](float x) { return uint8_t(int8_t(x)); });
  run(DType::BOOL, [](float x) { return uint8_t(x != 0); });
  // fp8 cannot hold 62.5 etc. exactly: compare with the scalar decoder instead.
  std::vector<uint8_t> q(n + 1);
  for (size_t i = 0; i < n; ++i) q[i + 1] = f32_to_fp8_e4m3(src[i]);
  std::vector<float> out(n);
  convert_to_f32(DType::F8_E4M3, q.data() + 1, out.data(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(bits(out[i]), bits(fp8_e4m3_to_f32(q[i + 1]))) << i;
}

INSTANTIATE_TEST_SUITE_P(DtypeSizes, DtypeConvert, ::testing::Values(size_t(0), size_t(1), size_t(77), size_t(200000)),
                         [](const auto& info) { return fmt::format("n{}", info.param); });

}  // namespace
}  // namespace nanoseek
