// nanoseek::Error — the one exception type. Every message names what is wrong and where (file, field, line),
// so a user can fix their input without reading our code. Thrown for bad input; internal invariants use assert.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace nanoseek {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// fail("config.json: field '{}' must be > 0, got {}", name, v)
template <typename... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// check(cond, "...") — like fail, only when cond is false.
template <typename... Args>
inline void check(bool cond, fmt::format_string<Args...> f, Args&&... args) {
  if (!cond) throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace nanoseek
