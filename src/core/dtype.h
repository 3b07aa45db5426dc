// Element types of checkpoint tensors (safetensors spelling) and the scalar codecs between them and float32.
//
//   bf16      1-8-7   bias 127   f32 with the low 16 bits dropped; encode rounds to nearest even, NaN stays NaN
//   f16       1-5-10  bias 15    IEEE half; encode rounds to nearest even, overflow -> inf
//   f8_e4m3   1-4-3   bias 7     "e4m3fn" (torch.float8_e4m3fn, DeepSeek-V3 weights): no inf, 0x7f/0xff NaN,
//                                max finite 448; encode rounds to nearest even and SATURATES to +-448 (inf too)
//
// The encoders are exact reimplementations of IEEE round-to-nearest-even, checked code by code against torch
// in tests/core/dtype_test.cpp (goldens written by tools/reference/make_io_goldens.py).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace nanoseek {

enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, F64, I64, I32, I16, I8, U8, BOOL };

std::string_view dtype_name(DType);                       // "F32", "BF16", "F8_E4M3", ...
std::optional<DType> dtype_from_name(std::string_view);   // exact safetensors spelling; nullopt if unknown
size_t dtype_size(DType);                                 // bytes per element
bool dtype_is_float(DType);                               // F32, F16, BF16, F8_E4M3, F64
bool dtype_is_int(DType);                                 // I64, I32, I16, I8, U8, BOOL

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }
// Round to nearest even; NaN stays NaN (sign kept, forced quiet). Inline and branch-free so conversion loops
// vectorize. The rounding is round_magnitude<7,127>'s, done on the whole word: a carry out of the mantissa bumps the
// exponent, and the largest finite values round to inf as IEEE says.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t rounded = (u + 0x7fff + ((u >> 16) & 1)) >> 16, quiet_nan = (u >> 16) | 0x40;
  return uint16_t((u & 0x7fffffff) > 0x7f800000 ? quiet_nan : rounded);
}
// dst[i] = f32_to_bf16(src[i]) for i < n, across the OpenMP threads when n is large enough.
void f32_to_bf16_n(uint16_t* dst, const float* src, size_t n);
float f16_to_f32(uint16_t);
uint16_t f32_to_f16(float);
float fp8_e4m3_to_f32(uint8_t);
uint8_t f32_to_fp8_e4m3(float);

// All 256 fp8 e4m3fn codes decoded (index = code); what the dequant loops use.
extern const std::array<float, 256> kFp8E4M3Table;

// out[i] = float(in[i]) for any float or integer dtype (BOOL -> 0/1, F64/I64 rounded to nearest float).
// `in` may be unaligned (it points into mapped files). Parallel (OpenMP) for large n.
void convert_to_f32(DType src, const void* in, float* out, size_t n);

}  // namespace nanoseek
