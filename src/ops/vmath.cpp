#include "ops/vmath.h"

// GCC 12's false positive inside its own AVX-512 headers (_mm512_undefined_* "may be used uninitialized", gcc bug
// 105593), as in gemv.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

namespace nanoseek {
namespace {

// exp(x) = 2^k · exp(r), k = round(x·log2 e), r = x − k·ln2 (ln2 split in two so k·ln2_hi is exact).
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kLo = -87.3365447f;   // below: exp underflows float's normal range; returned as 0
constexpr float kHi = 88.3762626f;    // above: 2^k would overflow; returned as +inf
// 1/j! for j = 7 .. 0 (Horner from the highest degree)
constexpr float kC[8] = {1.f / 5040, 1.f / 720, 1.f / 120, 1.f / 24, 1.f / 6, 0.5f, 1.f, 1.f};

float exp_scalar(float x) {
  if (std::isnan(x)) return x;
  if (x < kLo) return 0.f;
  if (x > kHi) return std::numeric_limits<float>::infinity();
  const float k = std::nearbyint(x * kLog2e);
  float r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  float p = kC[0];
  for (int j = 1; j < 8; ++j) p = std::fma(p, r, kC[j]);
  return std::ldexp(p, int(k));
}

double exp_sum_scalar(float* y, const float* x, int64_t n, float shift, float scale) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = exp_scalar(x[i] - shift);
    s += e;
    if (y) y[i] = scale * e;
  }
  return s;
}

#define NANOSEEK_AVX2 __attribute__((target("avx2,fma")))
#define NANOSEEK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

NANOSEEK_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kLo)), _mm256_set1_ps(kHi));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC[0]);
  for (int j = 1; j < 8; ++j) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[j]));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));   // k in [−126, 127]: 2^k is a normal float
  y = _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kLo), _CMP_LT_OQ), y);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                       _mm256_cmp_ps(x, _mm256_set1_ps(kHi), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

NANOSEEK_AVX2 double exp_sum_avx2(float* y, const float* x, int64_t n, float shift, float scale) {
  const __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    if (y) _mm256_storeu_ps(y + i, _mm256_mul_ps(sc, e));
  }
  alignas(32) double part[4];
  _mm256_store_pd(part, _mm256_add_pd(s0, s1));
  return part[0] + part[1] + part[2] + part[3] + exp_sum_scalar(y ? y + i : nullptr, x + i, n - i, shift, scale);
}

NANOSEEK_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kLo)), _mm512_set1_ps(kHi));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Hi), xc);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kC[0]);
  for (int j = 1; j < 8; ++j) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[j]));
  __m512 y = _mm512_scalef_ps(p, k);
  y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(kLo), _CMP_GE_OQ) |
                              _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q),
                          y);
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(kHi), _CMP_GT_OQ),
                         _mm512_set1_ps(std::numeric_limits<float>::infinity()));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

NANOSEEK_AVX512 double exp_sum_avx512(float* y, const float* x, int64_t n, float shift, float scale) {
  const __m512 sh = _mm512_set1_ps(shift), sc = _mm512_set1_ps(scale);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh)));
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    if (y) _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(sc, e));
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

}  // namespace

double exp_sum_f32(float* y, const float* x, int64_t n, float shift, float scale, Isa isa) {
  assert(isa <= best_isa());
  if (n <= 0) return 0;
  switch (isa) {
    case Isa::Avx512: return exp_sum_avx512(y, x, n, shift, scale);
    case Isa::Avx2: return exp_sum_avx2(y, x, n, shift, scale);
    case Isa::Scalar: break;
  }
  return exp_sum_scalar(y, x, n, shift, scale);
}

}  // namespace nanoseek
