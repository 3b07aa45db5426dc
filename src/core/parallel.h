// When to fork. An OpenMP region costs a fork/join (microseconds on an idle machine, milliseconds when the other
// core is busy and the partner thread is descheduled), so every parallel loop in nanoseek states the work it
// covers and only forks above kParallelWork scalar operations. Below that one thread is faster.
#pragma once
#include <cstdint>

namespace nanoseek {

constexpr int64_t kParallelWork = 1 << 16;  // ~65k multiply-adds ≈ 20 µs of one core

inline bool worth_parallel(int64_t work) { return work >= kParallelWork; }

}  // namespace nanoseek
