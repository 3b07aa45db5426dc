// safetensors checkpoints: read (memory-mapped, zero-copy views), write (atomic, optionally sharded HF-style).
//
// File layout:  [u64 little-endian N] [N bytes of JSON header] [data region]
//   header = {"<name>": {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"key": "value", ...}}      offsets are relative to the data region.
// Files are UNTRUSTED input: every malformed header, offset or size is an Error naming the file and the tensor,
// never a crash or an out-of-bounds read (tests/core/safetensors_mutation_test.cpp, fuzz/fuzz_safetensors.cpp).
//
// A checkpoint is one .safetensors file, a directory holding model.safetensors, or a directory holding
// model.safetensors.index.json ({"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}) + its shards.
// DeepSeek-V3 FP8 weights (spec §4.3) are dequantized by Checkpoint::read_f32 using their `_scale_inv` sibling.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace nanoseek {

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;   // into the mapped file; NOT necessarily aligned to the element size
  size_t nbytes;         // == numel() * dtype_size(dtype)
  int64_t numel() const;
};

std::string shape_str(std::span<const int64_t> shape);   // "[300, 200]"

class SafetensorsFile {   // one file, memory-mapped (mmap, read-only)
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  static std::unique_ptr<SafetensorsFile> from_bytes(std::string bytes, std::string label);  // owns a copy
  const std::vector<TensorView>& tensors() const { return tensors_; }   // in data-offset order
  const TensorView* find(std::string_view name) const;                  // nullptr if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }   // "__metadata__"
  const std::string& label() const { return label_; }                   // path (or from_bytes label)
  std::span<const uint8_t> bytes() const { return {base_, size_}; }     // the whole file
  ~SafetensorsFile();

 private:
  SafetensorsFile() = default;
  void parse();   // fills tensors_/index_/metadata_ from base_/size_

  std::string label_;
  std::string owned_;              // from_bytes storage
  void* map_ = nullptr;            // mmap storage (open)
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;   // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

class Checkpoint {
 public:
  static Checkpoint open(const std::string& path_or_dir);   // also accepts a path to the *.index.json
  bool has(std::string_view name) const;
  const TensorView& get(std::string_view name) const;   // Error "tensor 'x' not found in <dir>"
  std::vector<std::string> names() const;               // sorted; includes the ...weight_scale_inv siblings
  const std::string& label() const { return label_; }

  // Reads as float32 into out (numel floats). Error naming the tensor and both shapes if shape != expected.
  // F8_E4M3 tensors named "<X>.weight" are dequantized with sibling "<X>.weight_scale_inv" (F32, shape
  // [ceil(rows/128), ceil(cols/128)], W[r,c] = fp8(Wq[r,c]) * S[r/128][c/128]); missing/wrong-shaped scale =
  // Error. Other F8_E4M3 tensors are decoded without a scale. Parallel (OpenMP), one pass from the mapping.
  void read_f32(std::string_view name, std::span<const int64_t> expected_shape, float* out) const;
  std::vector<float> read_f32(std::string_view name) const;       // any shape
  std::vector<int64_t> read_i64(std::string_view name) const;     // I64/I32/I16/I8/U8/BOOL -> int64

 private:
  std::string label_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
};

struct TensorWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;   // numel * dtype_size bytes
};

// Tensors are stored in the given order; the header is padded with spaces to a multiple of 8 bytes (as the
// python library does) so data offsets keep 8-byte alignment. Atomic (temp + rename).
void write_safetensors(const std::string& path, std::span<const TensorWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

// One model.safetensors if total bytes <= max_shard_bytes, else model-0000i-of-0000N.safetensors +
// model.safetensors.index.json {"metadata":{"total_size":N},"weight_map":{...}} (HF layout); index written last.
// Shards are filled greedily in the given order (a tensor larger than the limit gets a shard of its own).
// Creates `dir` if needed and removes the other layout's entry file (index or model.safetensors) if present,
// so Checkpoint::open always sees what was written last.
void write_checkpoint(const std::string& dir, std::span<const TensorWrite> tensors,
                      size_t max_shard_bytes = size_t(5) << 30);

// DeepSeek-V3 weight quantization (spec §4.3), per 128x128 block (edge blocks partial):
//   amax = max(max|w|, 1e-4); q = e4m3(w * (448 / amax)); scale_inv = amax / 448.
// w: [rows, cols]; q: [rows, cols] fp8 e4m3fn codes; scale_inv: [ceil(rows/128), ceil(cols/128)].
// Bit-identical to the torch reference (tests/golden/io/fp8_block.safetensors).
void quantize_fp8_blocks(const float* w, int64_t rows, int64_t cols, uint8_t* q, float* scale_inv);

// W[r, c] = fp8(q[r, c]) * scale_inv[r/128][c/128] — what read_f32 does for FP8 weights.
void dequantize_fp8_blocks(const uint8_t* q, const float* scale_inv, int64_t rows, int64_t cols, float* w);

}  // namespace nanoseek
