// NumPy .npy files (format v1.0 / v2.0, little-endian, C order) for goldens and tensor dumps.
//   "\x93NUMPY" major minor  u16 (v1) | u32 (v2) header length  "{'descr': '<f4', 'fortran_order': False,
//   'shape': (2, 3), }" padded with spaces + '\n' so the data starts on a 64-byte boundary, then raw data.
// Reading is hardened like the safetensors parser: files are untrusted, every problem is an Error naming
// the file and the field.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nanoseek {

void write_npy(const std::string& path, const float* data, std::span<const int64_t> shape);   // '<f4', atomic
void write_npy_i32(const std::string& path, const int32_t* data, std::span<const int64_t> shape);  // '<i4'

struct NpyArray {
  std::string dtype;            // as in the file: "<f4", "<f8", "<i4", "<i8"
  std::vector<int64_t> shape;   // () for a 0-d array
  std::vector<float> f32;       // filled for float dtypes (f8 rounded to float)
  std::vector<int64_t> i64;     // filled for integer dtypes
};
NpyArray read_npy(const std::string& path);   // f4/f8/i4/i8 supported; anything else -> Error
NpyArray parse_npy(std::string_view bytes, const std::string& label);   // same, from memory

}  // namespace nanoseek
