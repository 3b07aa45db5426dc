// Helpers shared by the tests/core I/O tests: a self-deleting temp dir, golden paths, raw file builders.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"

namespace nanoseek::testing {

inline std::string golden_io(const std::string& rel) {
  return std::string(NANOSEEK_SOURCE_DIR) + "/tests/golden/io/" + rel;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nanoseek-io-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::vector<std::string> list() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

// [u64 LE header length][header][data] — for hand-made (often broken) safetensors files.
inline std::string st_bytes(const std::string& header, const std::string& data = "", int64_t len_override = -1) {
  uint64_t n = len_override >= 0 ? uint64_t(len_override) : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char(n >> (8 * i) & 0xff);
  return out + header + data;
}

template <typename T>
std::vector<T> view_as(const TensorView& t) {
  std::vector<T> v(t.nbytes / sizeof(T));
  if (t.nbytes) std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

// Runs f, expects a nanoseek::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected nanoseek::Error containing '" << *parts.begin() << "'";
  } catch (const nanoseek::Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

inline uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

}  // namespace nanoseek::testing
