// Helpers for the threshold-crossing op sweeps (tests/ops/ops_sweep_*_test.cpp): guarded buffers with sentinel
// pads, an RAII OpenMP thread count, and normalized-error checks against a double-precision reference.
#pragma once
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"

namespace nanoseek::sweep {

// Sentinels, always compared bit for bit.
//  kOutNaN  pads of OVERWRITE outputs, and their whole payload before the call (a value the op forgets to write
//           stays NaN and fails the reference comparison, which treats any non-finite value as an error).
//  kInNaN   pads and stride gaps of inputs: a stray read poisons the result with NaN. It differs from kOutNaN
//           because x86 arithmetic propagates a NaN operand's payload: a value computed from a stray input read
//           and written into an output pad carries kInNaN's bits, which the pad check then sees.
//  kAccPad  pads and gaps of ACCUMULATE and in-place buffers. Finite (≈ 1.5069) on purpose: NaN + x keeps the
//           NaN's bits, so a NaN pad would hide a stray `+=`; 1.5069 changes under any += above 1.2e-7.
constexpr uint32_t kOutNaN = 0x7fc0dead;
constexpr uint32_t kInNaN = 0x7fc0beef;
constexpr uint32_t kAccPad = 0x3fc0dead;

// A T whose bytes repeat the 32-bit word w (int64: w in both halves).
template <class T>
T pattern(uint32_t w) {
  static_assert(sizeof(T) % 4 == 0);
  uint32_t words[sizeof(T) / 4];
  std::fill(std::begin(words), std::end(words), w);
  T t;
  std::memcpy(&t, words, sizeof(T));
  return t;
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

inline float bits_to_float(uint32_t w) { return pattern<float>(w); }

// n elements with kPad sentinel elements before and after. kPad is odd so the payload is not 16/32/64-byte aligned
// (vector kernels must handle a misaligned start).
template <class T>
class Guarded {
 public:
  static constexpr size_t kPad = 19;
  // Payload and pads all set to the sentinel (an OVERWRITE output).
  Guarded(size_t n, uint32_t pad_bits) : n_(n), pad_(pattern<T>(pad_bits)), buf_(n + 2 * kPad, pad_) {}
  // Payload = v, pads = sentinel (an input, or an ACCUMULATE output with its starting values).
  Guarded(const std::vector<T>& v, uint32_t pad_bits) : Guarded(v.size(), pad_bits) {
    std::copy(v.begin(), v.end(), buf_.begin() + kPad);
  }
  T* data() { return buf_.data() + kPad; }
  const T* data() const { return buf_.data() + kPad; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return buf_[kPad + i]; }
  std::vector<T> payload() const { return {buf_.begin() + kPad, buf_.begin() + kPad + n_}; }
  // First pad element whose bits changed, or -1.
  long long first_bad_pad() const {
    for (size_t i = 0; i < kPad; ++i) {
      if (!same_bits(buf_[i], pad_)) return (long long)i;
      if (!same_bits(buf_[kPad + n_ + i], pad_)) return (long long)(kPad + n_ + i);
    }
    return -1;
  }

 private:
  size_t n_;
  T pad_;
  std::vector<T> buf_;
};

template <class T>
void expect_pads(const std::string& what, const Guarded<T>& g) {
  const long long bad = g.first_bad_pad();
  EXPECT_EQ(bad, -1) << what << ": the op wrote outside its buffer (pad element " << bad << " of "
                     << 2 * Guarded<T>::kPad << ", payload " << g.size() << ")";
}

// Sets the OpenMP thread count for a scope and restores it. OpenBLAS's OpenMP build follows omp_set_num_threads too
// (it reads omp_get_max_threads per call; checked with 0.3.21), so linear/gemm change partition with it.
class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// The thread counts every case runs with: 1 (the parallel branch on a team of one) and 2 (a real split).
constexpr int kThreadCounts[2] = {1, 2};

// Normalized error max_i |got_i − ref_i| / max(max_i |ref_i|, floor), the measure of llama.cpp's
// test-backend-ops; +inf if any got_i is not finite (std::max would silently skip a NaN), so a NaN sentinel the op
// failed to overwrite always fails. `worst` gets the index of the largest difference.
inline double norm_err(const float* got, const double* ref, size_t n, size_t* worst = nullptr, double floor = 1e-6) {
  double md = 0, mr = floor;
  size_t wi = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(got[i])) {
      if (worst) *worst = i;
      return INFINITY;
    }
    const double d = std::fabs(double(got[i]) - ref[i]);
    if (d > md) md = d, wi = i;
    mr = std::max(mr, std::fabs(ref[i]));
  }
  if (worst) *worst = wi;
  return md / mr;
}

inline void expect_close(const std::string& what, const float* got, const std::vector<double>& ref, double tol) {
  size_t wi = 0;
  const double e = norm_err(got, ref.data(), ref.size(), &wi);
  EXPECT_LE(e, tol) << what << ": normalized error " << e << " > " << tol << " (worst element " << wi << ": got "
                    << (ref.empty() ? 0.f : got[wi]) << ", reference " << (ref.empty() ? 0.0 : ref[wi]) << ")";
}
inline void expect_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                         double tol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  expect_close(what, got.data(), ref, tol);
}

// 1-thread vs 2-thread agreement. No header in src/ops promises results independent of the thread count (grep
// "thread" in src/ops/*.h), and some ops do change summation order with the partition (rmsnorm's per-thread dg
// partials, cross-entropy's loss reduction, OpenBLAS's own split), so the two runs are held to the op's reference
// tolerance, not to bit equality. Results are compared to each other as well as to the reference because they
// share the rounding the double reference does not.
inline void expect_threads_agree(const std::string& what, const std::vector<float>& t1, const std::vector<float>& t2,
                                 double tol) {
  ASSERT_EQ(t1.size(), t2.size()) << what;
  std::vector<double> r(t1.begin(), t1.end());
  size_t wi = 0;
  const double e = norm_err(t2.data(), r.data(), r.size(), &wi);
  EXPECT_LE(e, tol) << what << ": 2 threads differ from 1 thread by " << e << " > " << tol << " (element " << wi
                    << ")";
}

inline std::vector<float> randn(size_t n, uint64_t seed, double stddev = 1.0) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(r.normal() * stddev);
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace nanoseek::sweep
