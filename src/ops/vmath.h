// Vectorised exp for the softmaxes (cross-entropy over the vocabulary, attention rows): one pass that writes
// scale·exp(x − shift) and returns Σ exp(x − shift) summed in double. exp is computed in float by range reduction
// (x = k·ln2 + r, |r| ≤ ln2/2) and a degree-7 Taylor polynomial (truncation 6e-9 relative, below float's 6e-8
// rounding): within 2 ulp of the correctly rounded value over the whole range (tests/ops/vmath_test.cpp); exactly 0
// below −87.3 (where float exp underflows), +inf above 88.7, NaN stays NaN. The instruction set is chosen at run
// time (ops/gemv.h best_isa), every path tested against a double reference.
#pragma once
#include <cstdint>

#include "ops/gemv.h"

namespace nanoseek {

// y[i] = scale·exp(x[i] − shift) when y is not null (y may alias x); returns Σ_i exp(x[i] − shift) in double.
double exp_sum_f32(float* y, const float* x, int64_t n, float shift, float scale = 1.f, Isa isa = best_isa());

}  // namespace nanoseek
