// Shared test helpers: seeded random tensors, finite-difference directional derivatives, normalized error.
#pragma once
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"

namespace nanoseek::test {

inline std::string source_dir() { return NANOSEEK_SOURCE_DIR; }

// A fresh directory of this test's own (mkdtemp under ::testing::TempDir(), the build dir's test-tmp/), removed with
// everything in it on destruction: two test processes (ctest -j) or two checkouts never share a path.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& prefix = "nanoseek-test") {
    std::filesystem::create_directories(::testing::TempDir());
    std::string tmpl = ::testing::TempDir() + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Runs a shell command; returns its exit code (−1 if it did not exit normally) and stdout+stderr.
inline std::pair<int, std::string> run_cmd(const std::string& cmd) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return {-1, ""};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  const int status = pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The message of the nanoseek::Error f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline std::vector<float> randn(size_t n, uint64_t seed, float std = 1.f) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(r.normal()) * std;
  return v;
}

inline double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// max |a-b| / max(max|b|, floor): the "normalized error" of llama.cpp's test-backend-ops.
inline double norm_err(const float* a, const float* b, size_t n, double floor = 1e-6) {
  double md = 0, mb = floor;
  for (size_t i = 0; i < n; ++i) {
    md = std::max(md, std::fabs(double(a[i]) - b[i]));
    mb = std::max(mb, std::fabs(double(b[i])));
  }
  return md / mb;
}

// Checks the analytic gradient `grad` of scalar f at x (x is perturbed in place and restored) along `ndirs` random
// unit directions: |g·v − (f(x+hv) − f(x−hv))/2h| <= tol · max(|g·v|, |FD|, abs_floor).
// Float32 central differences have error ~ eps_f32·|f|/h + h²·|f'''|; h = 1e-2·(scale) keeps both near 1e-4
// relative for the O(1) smooth functions tested here, hence tol 1e-2 by default.
inline void check_directional(const std::string& what, std::vector<float>& x, const std::vector<float>& grad,
                              const std::function<double()>& f, int ndirs = 4, double h = 1e-2, double tol = 1e-2,
                              double abs_floor = 1e-4, uint64_t seed = 99) {
  ASSERT_EQ(x.size(), grad.size()) << what;
  for (int k = 0; k < ndirs; ++k) {
    std::vector<float> v = randn(x.size(), seed + k);
    double nv = std::sqrt(dot(v, v));
    for (auto& e : v) e = float(e / nv);
    std::vector<float> x0 = x;
    for (size_t i = 0; i < x.size(); ++i) x[i] = x0[i] + float(h) * v[i];
    double fp = f();
    for (size_t i = 0; i < x.size(); ++i) x[i] = x0[i] - float(h) * v[i];
    double fm = f();
    x = x0;
    double fd = (fp - fm) / (2 * h), an = dot(grad, v);
    double scale = std::max({std::fabs(fd), std::fabs(an), abs_floor});
    EXPECT_LE(std::fabs(fd - an), tol * scale) << what << " direction " << k << ": analytic " << an << " vs FD " << fd;
  }
}

}  // namespace nanoseek::test
