// SafetensorsFile: parse + validate one file. Checkpoint, writers and FP8 blocks: safetensors_checkpoint.cpp.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_io.h"

namespace nanoseek {

using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;   // the python/Rust library's limit

// A non-negative JSON integer that fits in int64, or nullopt.
std::optional<uint64_t> as_count(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= uint64_t(std::numeric_limits<int64_t>::max())) return u;
  }
  return std::nullopt;
}

const char* json_type(const json& v) { return v.type_name(); }

// A JSON value for an error message, cut short: the header may be 100 MB of attacker-chosen text.
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;   // validated at parse time not to overflow
  return n;
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->label_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  f->size_ = size_t(st.st_size);
  if (f->size_ > 0) {   // mmap of length 0 is an error; parse() reports the short file instead
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("{}: mmap of {} bytes failed: {}", path, f->size_, std::strerror(e));
    }
    f->map_ = p;
    f->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);   // the mapping stays valid
  f->parse();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_bytes(std::string bytes, std::string label) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->label_ = std::move(label);
  f->owned_ = std::move(bytes);
  f->base_ = reinterpret_cast<const uint8_t*>(f->owned_.data());
  f->size_ = f->owned_.size();
  f->parse();
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::parse() {
  const std::string& f = label_;
  if (size_ < 8) fail("{}: file is {} bytes, too short for the 8-byte header length", f, size_);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | base_[i];   // little-endian u64
  if (n > kMaxHeaderBytes) fail("{}: header length {} exceeds the {} byte limit", f, n, kMaxHeaderBytes);
  if (n > size_ - 8) fail("{}: header length {} runs past the end of the file ({} bytes)", f, n, size_);
  const char* text = reinterpret_cast<const char*>(base_ + 8);
  const uint8_t* data = base_ + 8 + n;
  const uint64_t data_size = size_ - 8 - n;

  // The bounded reader (core/json_io.h) refuses duplicate keys at every level (nlohmann alone keeps the last of two
  // tensors with one name) and nesting deeper than a header ever needs (a valid one is 3 levels deep; a deep one
  // would overflow the stack in any recursive walk of it, an error message's dump included).
  const json header = parse_json(std::string_view(text, n), f + ": header", JsonLimits{16, kMaxHeaderBytes});
  if (!header.is_object()) fail("{}: header must be a JSON object, got {}", f, json_type(header));

  struct Span { uint64_t begin, end; size_t idx; };
  std::vector<Span> spans;
  std::vector<TensorView> views;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ must be an object of strings, got {}", f, json_type(v));
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) fail("{}: __metadata__ value for key '{}' must be a string, got {}", f, k, json_type(s));
        metadata_[k] = s.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail("{}: tensor '{}': entry must be an object, got {}", f, name, json_type(v));
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail("{}: tensor '{}': missing field '{}'", f, name, field);
    const json& jd = v["dtype"];
    const json& js = v["shape"];
    const json& jo = v["data_offsets"];
    if (!jd.is_string()) fail("{}: tensor '{}': dtype must be a string, got {}", f, name, json_type(jd));
    auto dtype = dtype_from_name(jd.get_ref<const std::string&>());
    if (!dtype) fail("{}: tensor '{}': unknown dtype '{}'", f, name, jd.get_ref<const std::string&>());
    if (!js.is_array()) fail("{}: tensor '{}': shape must be an array, got {}", f, name, json_type(js));
    TensorView t{name, *dtype, {}, nullptr, 0};
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : js) {
      if (!d.is_number_integer()) fail("{}: tensor '{}': shape entries must be integers, got {}", f, name,
            brief(d));
      auto dim = as_count(d);
      if (!dim) fail("{}: tensor '{}': shape dimension {} is negative or too large", f, name, brief(d));
      t.shape.push_back(int64_t(*dim));
      overflow |= __builtin_mul_overflow(numel, *dim, &numel);
    }
    uint64_t nbytes = 0;
    overflow |= __builtin_mul_overflow(numel, uint64_t(dtype_size(*dtype)), &nbytes);
    overflow |= numel > uint64_t(std::numeric_limits<int64_t>::max());
    if (overflow) fail("{}: tensor '{}': shape {} x {} bytes overflows 64 bits", f, name, shape_str(t.shape),
          dtype_size(*dtype));
    if (!jo.is_array() || jo.size() != 2) fail("{}: tensor '{}': data_offsets must be [begin, end], got {}", f,
          name, brief(jo));
    auto begin = as_count(jo[0]), end = as_count(jo[1]);
    if (!begin || !end) fail("{}: tensor '{}': data_offsets must be non-negative integers, got {}", f, name,
          brief(jo));
    if (*begin > *end) fail("{}: tensor '{}': data_offsets begin {} > end {}", f, name, *begin, *end);
    if (*end > data_size) fail("{}: tensor '{}': data_offsets end {} is beyond the data region ({} bytes)", f,
          name, *end, data_size);
    if (*end - *begin != nbytes) fail("{}: tensor '{}': data_offsets span {} bytes but shape {} of {} needs {}", f,
          name, *end - *begin, shape_str(t.shape), dtype_name(*dtype), nbytes);
    t.data = data + *begin;
    t.nbytes = size_t(nbytes);
    spans.push_back({*begin, *end, views.size()});
    views.push_back(std::move(t));
  }

  // Tensors may not share bytes (empty tensors occupy nothing and may sit anywhere).
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  const Span* prev = nullptr;
  for (const Span& s : spans) {
    if (s.begin == s.end) continue;
    if (prev && prev->end > s.begin) fail("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", f,
          views[prev->idx].name, prev->begin, prev->end, views[s.idx].name, s.begin, s.end);
    prev = &s;
  }
  tensors_.reserve(views.size());
  for (const Span& s : spans) {
    index_.emplace(views[s.idx].name, tensors_.size());
    tensors_.push_back(std::move(views[s.idx]));
  }
}

}  // namespace nanoseek
