#include "core/dtype.h"

#include <array>
#include <bit>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace nanoseek {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kInfo[] = {
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2}, {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F64, "F64", 8}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},   {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},   {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType d) {
  size_t i = size_t(d);
  if (i >= std::size(kInfo)) fail("invalid DType value {}", i);
  return kInfo[i];
}

// Rounds the magnitude of a finite f32 (bits without sign) to a smaller binary float with M mantissa bits and
// exponent bias B, round-to-nearest-even, and returns its code (exponent << M | mantissa) without the sign.
// Overflow is the caller's job: the result may exceed the largest finite code of the target.
// Works because codes of one sign are ordered like the values they encode: a mantissa that rounds up to
// 2^M carries into the exponent field, which is exactly the next binade (and subnormal -> min normal).
template <int M, int B>
uint32_t round_magnitude(uint32_t abs_bits) {
  int exp = int(abs_bits >> 23);                 // biased f32 exponent, 0 for f32 subnormals
  uint32_t sig = abs_bits & 0x7fffff;            // value = sig * 2^(exp-150) (with the implicit 1 added)
  if (exp == 0) exp = 1; else sig |= 0x800000;
  // Target unit (weight of the mantissa LSB) is 2^(e_t - B - M) for normals, 2^(1 - B - M) for subnormals.
  int e_t = exp - 127 + B;                       // target biased exponent if normal
  int unit_exp = (e_t >= 1 ? e_t : 1) - B - M;   // log2 of the target LSB
  int shift = unit_exp - (exp - 150);            // drop this many low bits of sig (>= 23 - M > 0)
  if (shift > 25) return 0;                      // below half the smallest subnormal: rounds to 0
  uint32_t q = sig >> shift;
  uint32_t rem = sig & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  // q counts target units. For normals q in [2^M, 2^(M+1)]; the code is then (e_t << M) + (q - 2^M).
  return e_t >= 1 ? (uint32_t(e_t) << M) + (q - (1u << M)) : q;
}

constexpr std::array<float, 256> make_fp8_table() {
  std::array<float, 256> t{};
  for (int code = 0; code < 256; ++code) {
    int e = (code >> 3) & 15, m = code & 7;
    float v;
    if (e == 15 && m == 7) v = std::bit_cast<float>(0x7fc00000u);   // the only NaN pattern (per sign)
    else if (e == 0) v = float(m) * 0.001953125f;                      // subnormal: m/8 * 2^-6 = m * 2^-9
    else v = std::bit_cast<float>(uint32_t(e - 7 + 127) << 23 | uint32_t(m) << 20);
    t[code] = code & 0x80 ? -v : v;
  }
  return t;
}

template <typename T>
inline T load(const uint8_t* p, size_t i) {   // unaligned-safe element load
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

constexpr std::array<float, 256> kFp8E4M3Table = make_fp8_table();   // declared extern in dtype.h

std::string_view dtype_name(DType d) { return info(d).name; }
size_t dtype_size(DType d) { return info(d).size; }

std::optional<DType> dtype_from_name(std::string_view s) {
  for (const auto& i : kInfo)
    if (i.name == s) return i.dtype;
  return std::nullopt;
}

bool dtype_is_float(DType d) {
  return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F8_E4M3 || d == DType::F64;
}
bool dtype_is_int(DType d) { return !dtype_is_float(d) && size_t(d) < std::size(kInfo); }

void f32_to_bf16_n(uint16_t* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (worth_parallel(int64_t(n)))
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, e = (h >> 10) & 31, m = h & 0x3ff;
  if (e == 31) return f32_from_bits(sign | 0x7f800000 | m << 13);       // inf / NaN (payload kept)
  if (e == 0) {                                                         // zero / subnormal: m * 2^-24
    float v = float(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return f32_from_bits(sign | (e - 15 + 127) << 23 | m << 13);
}

uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffff;
  if (a > 0x7f800000) return uint16_t(sign | 0x7e00 | (a >> 13 & 0x1ff));   // quiet NaN
  if (a >= 0x477ff000) return uint16_t(sign | 0x7c00);   // >= 65520 (halfway past 65504): inf by RNE
  return uint16_t(sign | round_magnitude<10, 15>(a));
}

float fp8_e4m3_to_f32(uint8_t c) { return kFp8E4M3Table[c]; }

uint8_t f32_to_fp8_e4m3(float f) {
  uint32_t u = f32_bits(f), sign = (u >> 24) & 0x80, a = u & 0x7fffffff;
  if (a > 0x7f800000) return uint8_t(sign | 0x7f);
  if (a > 0x43e00000) return uint8_t(sign | 0x7e);       // |f| > 448 (incl. inf): saturate
  return uint8_t(sign | round_magnitude<3, 7>(a));       // <= 448 never rounds past 0x7e
}

void convert_to_f32(DType src, const void* in_v, float* out, size_t n) {
  const auto* in = static_cast<const uint8_t*>(in_v);
  const bool par = n >= (size_t(1) << 16);
  const int64_t N = int64_t(n);
  // One loop per dtype so each inner body is a tight, vectorizable conversion.
#define NANOSEEK_CONVERT(EXPR)                                  \
  _Pragma("omp parallel for schedule(static) if (par)")         \
  for (int64_t i = 0; i < N; ++i) out[i] = (EXPR);
  switch (src) {
    case DType::F32: NANOSEEK_CONVERT(load<float>(in, i)); break;
    case DType::F16: NANOSEEK_CONVERT(f16_to_f32(load<uint16_t>(in, i))); break;
    case DType::BF16: NANOSEEK_CONVERT(bf16_to_f32(load<uint16_t>(in, i))); break;
    case DType::F8_E4M3: NANOSEEK_CONVERT(kFp8E4M3Table[in[i]]); break;
    case DType::F64: NANOSEEK_CONVERT(float(load<double>(in, i))); break;
    case DType::I64: NANOSEEK_CONVERT(float(load<int64_t>(in, i))); break;
    case DType::I32: NANOSEEK_CONVERT(float(load<int32_t>(in, i))); break;
    case DType::I16: NANOSEEK_CONVERT(float(load<int16_t>(in, i))); break;
    case DType::I8: NANOSEEK_CONVERT(float(int8_t(in[i]))); break;
    case DType::U8: NANOSEEK_CONVERT(float(in[i])); break;
    case DType::BOOL: NANOSEEK_CONVERT(in[i] ? 1.0f : 0.0f); break;
    default: fail("convert_to_f32: invalid DType value {}", int(src));
  }
#undef NANOSEEK_CONVERT
}

}  // namespace nanoseek
