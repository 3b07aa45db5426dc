// Checkpoint (one file / model.safetensors / HF sharded index), the safetensors writers, FP8 block codecs.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/safetensors.h"

namespace nanoseek {

using json = nlohmann::json;

namespace {

constexpr int64_t kFp8Block = 128;   // DeepSeek-V3 weight_block_size [128, 128]
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string join(const std::string& dir, const std::string& file) {
  return !dir.empty() && dir.back() == '/' ? dir + file : dir + "/" + file;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void remove_if_present(const std::string& path) {
  if (file_exists(path) && std::remove(path.c_str()) != 0) fail("{}: cannot remove stale file", path);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Checkpoint

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint c;
  c.label_ = path;
  auto add = [&](std::unique_ptr<SafetensorsFile> f) {
    for (const TensorView& t : f->tensors()) {
      auto [it, fresh] = c.by_name_.emplace(t.name, &t);
      if (!fresh) {
        const std::string* other = nullptr;
        for (const auto& g : c.files_)
          if (g->find(t.name) == it->second) other = &g->label();
        fail("{}: tensor '{}' appears in two shards: {} and {}", path, t.name, other ? *other : "?", f->label());
      }
    }
    c.files_.push_back(std::move(f));
  };
  std::string dir = path, index_path;
  if (file_exists(path) && ends_with(path, ".index.json")) {   // the index itself: shards are its siblings
    index_path = path;
    auto slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  } else if (file_exists(path)) {
    add(SafetensorsFile::open(path));
    return c;
  } else {
    check(dir_exists(path), "{}: no such file or directory", path);
    index_path = join(path, kIndexName);
    if (!file_exists(index_path)) {
      check(file_exists(join(path, kSingleName)), "{}: directory has neither {} nor {}", path, kSingleName,
            kIndexName);
      add(SafetensorsFile::open(join(path, kSingleName)));
      return c;
    }
  }

  const json index = read_json_file(index_path);
  check(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
        "{}: expected an object with an object field 'weight_map'", index_path);
  const json& wm = index["weight_map"];
  std::map<std::string, std::vector<std::string>> by_shard;   // shard file -> tensors it should hold
  for (const auto& [name, shard] : wm.items()) {
    check(shard.is_string(), "{}: weight_map['{}'] must be a shard file name (string), got {}", index_path,
          name, shard.type_name());
    const auto& s = shard.get_ref<const std::string&>();
    // Shards live beside the index; a path in the (untrusted) index must not reach elsewhere.
    check(!s.empty() && s.find('/') == std::string::npos && s != "." && s != "..",
          "{}: weight_map['{}'] = '{}' is not a plain file name", index_path, name, s);
    by_shard[s].push_back(name);
  }
  check(!by_shard.empty(), "{}: weight_map is empty", index_path);
  for (const auto& [shard, names] : by_shard) {
    const std::string shard_path = join(dir, shard);
    check(file_exists(shard_path), "{}: shard '{}' (holding e.g. '{}') not found: {}", index_path, shard,
          names.front(), shard_path);
    auto f = SafetensorsFile::open(shard_path);
    for (const auto& name : names)
      check(f->find(name) != nullptr, "{}: weight_map puts tensor '{}' in {}, but that shard does not contain it",
            index_path, name, shard);
    add(std::move(f));
  }
  return c;
}

bool Checkpoint::has(std::string_view name) const { return by_name_.find(name) != by_name_.end(); }

const TensorView& Checkpoint::get(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) fail("tensor '{}' not found in {}", name, label_);
  return *it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, _] : by_name_) out.push_back(name);
  return out;   // std::map order = sorted
}

void Checkpoint::read_f32(std::string_view name, std::span<const int64_t> expected_shape, float* out) const {
  const TensorView& t = get(name);
  if (!std::equal(t.shape.begin(), t.shape.end(), expected_shape.begin(), expected_shape.end()))
    fail("{}: tensor '{}' has shape {}, expected {}", label_, name, shape_str(t.shape), shape_str(expected_shape));
  // An integer tensor here is a wrong file, not weights: converting its values (or its bits) would load garbage.
  check(dtype_is_float(t.dtype), "{}: tensor '{}' has dtype {}, expected a float dtype (F32, BF16, F16, F8_E4M3, F64)",
        label_, name, dtype_name(t.dtype));
  if (t.dtype == DType::F8_E4M3 && ends_with(name, ".weight")) {
    const std::string scale_name = std::string(name) + "_scale_inv";
    check(has(scale_name), "{}: FP8 tensor '{}' has no scale tensor '{}'", label_, name, scale_name);
    const TensorView& s = get(scale_name);
    if (t.shape.size() != 2)
      fail("{}: FP8 tensor '{}' must be 2-D for block dequantization, has shape {}", label_, name,
           shape_str(t.shape));
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const std::vector<int64_t> want{(rows + kFp8Block - 1) / kFp8Block, (cols + kFp8Block - 1) / kFp8Block};
    if (s.dtype != DType::F32 || s.shape != want)
      fail("{}: scale '{}' of FP8 tensor {} {} must be F32 {}, got {} {}", label_, scale_name, name,
           shape_str(t.shape), shape_str(want), dtype_name(s.dtype), shape_str(s.shape));
    std::vector<float> scale(size_t(s.numel()));   // small; copied because the mapping may be unaligned
    std::memcpy(scale.data(), s.data, s.nbytes);
    dequantize_fp8_blocks(t.data, scale.data(), rows, cols, out);
    return;
  }
  convert_to_f32(t.dtype, t.data, out, size_t(t.numel()));
}

std::vector<float> Checkpoint::read_f32(std::string_view name) const {
  const TensorView& t = get(name);
  std::vector<float> out(size_t(t.numel()));
  read_f32(name, t.shape, out.data());
  return out;
}

std::vector<int64_t> Checkpoint::read_i64(std::string_view name) const {
  const TensorView& t = get(name);
  check(dtype_is_int(t.dtype), "{}: tensor '{}' has dtype {}, expected an integer dtype", label_, name,
        dtype_name(t.dtype));
  std::vector<int64_t> out(size_t(t.numel()));
  const uint8_t* p = t.data;
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::I64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = v; break; }
      case DType::I32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::I16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = v; break; }
      case DType::I8: out[i] = int8_t(p[i]); break;
      default: out[i] = p[i]; break;   // U8, BOOL
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Writers

namespace {

size_t tensor_bytes(const TensorWrite& t) {
  size_t n = dtype_size(t.dtype);
  for (int64_t d : t.shape) {
    check(d >= 0, "tensor '{}': negative dimension in shape {}", t.name, shape_str(t.shape));
    check(!__builtin_mul_overflow(n, size_t(d), &n), "tensor '{}': shape {} overflows", t.name,
          shape_str(t.shape));
  }
  return n;
}

}  // namespace

void write_safetensors(const std::string& path, std::span<const TensorWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::vector<size_t> sizes;
  uint64_t offset = 0;
  for (const TensorWrite& t : tensors) {
    check(t.name != "__metadata__", "{}: '__metadata__' is reserved and cannot name a tensor", path);
    check(!header.contains(t.name), "{}: tensor '{}' given twice", path, t.name);
    size_t n = tensor_bytes(t);
    check(n == 0 || t.data != nullptr, "{}: tensor '{}' has no data", path, t.name);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    sizes.push_back(n);
    offset += n;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail("{}: cannot encode header (tensor names and metadata must be UTF-8): {}", path, e.what());
  }
  text.resize((text.size() + 7) / 8 * 8, ' ');   // keep the data region 8-byte aligned, as the python writer
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = char(uint64_t(text.size()) >> (8 * i) & 0xff);
  AtomicFile f(path);
  f.write({len, 8});
  f.write(text);
  for (size_t i = 0; i < tensors.size(); ++i)
    f.write({static_cast<const char*>(tensors[i].data), sizes[i]});
  f.commit();
}

void write_checkpoint(const std::string& dir, std::span<const TensorWrite> tensors, size_t max_shard_bytes) {
  make_dirs(dir);
  std::vector<std::pair<size_t, size_t>> shards;   // [first, last) tensor ranges
  size_t total = 0, cur = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    size_t n = tensor_bytes(tensors[i]);
    if (shards.empty() || (cur > 0 && cur + n > max_shard_bytes)) {
      shards.push_back({i, i});
      cur = 0;
    }
    shards.back().second = i + 1;
    cur += n;
    total += n;
  }
  if (total <= max_shard_bytes) {
    write_safetensors(join(dir, kSingleName), tensors, {{"format", "pt"}});
    remove_if_present(join(dir, kIndexName));
    return;
  }
  json weight_map = json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
    auto part = tensors.subspan(shards[s].first, shards[s].second - shards[s].first);
    write_safetensors(join(dir, file), part, {{"format", "pt"}});
    for (const TensorWrite& t : part) weight_map[t.name] = file;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomic(join(dir, kIndexName), index.dump(2) + "\n");
  remove_if_present(join(dir, kSingleName));
}

// ---------------------------------------------------------------------------------------------------------
// FP8 128x128 blocks (spec §4.3)

void quantize_fp8_blocks(const float* w, int64_t rows, int64_t cols, uint8_t* q, float* scale_inv) {
  const int64_t nbr = (rows + kFp8Block - 1) / kFp8Block, nbc = (cols + kFp8Block - 1) / kFp8Block;
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16))
  for (int64_t b = 0; b < nbr * nbc; ++b) {
    const int64_t r0 = b / nbc * kFp8Block, r1 = std::min(rows, r0 + kFp8Block);
    const int64_t c0 = b % nbc * kFp8Block, c1 = std::min(cols, c0 + kFp8Block);
    float amax = 0.0f;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    amax = std::max(amax, 1e-4f);
    // torch evaluates `448.0 / amax` as reciprocal(amax) * 448 (Tensor.__rtruediv__); doing the same keeps
    // the codes bit-identical to the reference (tests/golden/io/fp8_block.safetensors).
    const float mul = (1.0f / amax) * 448.0f;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) q[r * cols + c] = f32_to_fp8_e4m3(w[r * cols + c] * mul);
    scale_inv[b] = amax / 448.0f;
  }
}

void dequantize_fp8_blocks(const uint8_t* q, const float* scale_inv, int64_t rows, int64_t cols, float* w) {
  const int64_t nbc = (cols + kFp8Block - 1) / kFp8Block;
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const float* srow = scale_inv + (r / kFp8Block) * nbc;
    const uint8_t* qr = q + r * cols;
    float* wr = w + r * cols;
    for (int64_t cb = 0; cb < nbc; ++cb) {
      const float s = srow[cb];
      const int64_t c1 = std::min(cols, (cb + 1) * kFp8Block);
      for (int64_t c = cb * kFp8Block; c < c1; ++c) wr[c] = kFp8E4M3Table[qr[c]] * s;
    }
  }
}

}  // namespace nanoseek
