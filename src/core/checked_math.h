// 64-bit arithmetic that cannot silently wrap: for sizes computed from untrusted files (config.json parameter counts,
// byte sizes). An overflow is an Error "LABEL: <what> overflows 64-bit arithmetic", where `what` names the fields.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace nanoseek {

inline int64_t checked_mul(int64_t a, int64_t b, const std::string& label, std::string_view what) {
  int64_t r;
  check(!__builtin_mul_overflow(a, b, &r), "{}: {} overflows 64-bit arithmetic ({} x {}); the sizes are not realistic",
        label, what, a, b);
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const std::string& label, std::string_view what) {
  int64_t r;
  check(!__builtin_add_overflow(a, b, &r), "{}: {} overflows 64-bit arithmetic ({} + {}); the sizes are not realistic",
        label, what, a, b);
  return r;
}

}  // namespace nanoseek
