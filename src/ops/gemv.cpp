#include "ops/gemv.h"

// GCC 12 warns that _mm512_reduce_add_ps's internal _mm512_undefined_ps() may be used uninitialized (a false
// positive inside its own header, gcc bug 105593); nothing of ours is concerned.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "core/parallel.h"

namespace nanoseek {
namespace {

constexpr int64_t kRowBlock = 4;   // output rows per inner step: each x load feeds 4 weight rows

inline float bf16_to_f32(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// ---------------------------------------------------------------- scalar (any x86-64, and the reference)

template <typename WT>
inline float wval(const WT* w, int64_t k) {
  if constexpr (sizeof(WT) == 2) return bf16_to_f32(w[k]);
  else return w[k];
}

inline void put(float* y, float s, bool acc) { *y = acc ? *y + s : s; }

template <typename WT>
void rows_scalar(float* y, int64_t ldy, const float* x, int64_t ldx, const WT* W, int64_t ldw, int64_t n, int64_t I,
                 int64_t o0, int64_t o1, bool acc) {
  for (int64_t o = o0; o < o1; ++o) {
    const WT* w = W + o * ldw;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      float s = 0.f;
      for (int64_t k = 0; k < I; ++k) s += wval(w, k) * xi[k];
      put(y + i * ldy + o, s, acc);
    }
  }
}

float dot_scalar(const float* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

template <typename WT>
void axpy_scalar(float* y, float a, const WT* x, int64_t n) {
  for (int64_t k = 0; k < n; ++k) y[k] += a * wval(x, k);
}

// ---------------------------------------------------------------- AVX2 + FMA (8 lanes, scalar tails)

#define NANOSEEK_AVX2 __attribute__((target("avx2,fma")))

NANOSEEK_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
NANOSEEK_AVX2 inline __m256 load8(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
NANOSEEK_AVX2 inline float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

template <typename WT>
NANOSEEK_AVX2 void rows_avx2(float* y, int64_t ldy, const float* x, int64_t ldx, const WT* W, int64_t ldw, int64_t n,
                             int64_t I, int64_t o0, int64_t o1, bool acc) {
  const int64_t I8 = I / 8 * 8;
  int64_t o = o0;
  for (; o + kRowBlock <= o1; o += kRowBlock) {
    const WT* w0 = W + o * ldw;
    const WT *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t k = 0; k < I8; k += 8) {
        const __m256 xv = _mm256_loadu_ps(xi + k);
        a0 = _mm256_fmadd_ps(load8(w0 + k), xv, a0);
        a1 = _mm256_fmadd_ps(load8(w1 + k), xv, a1);
        a2 = _mm256_fmadd_ps(load8(w2 + k), xv, a2);
        a3 = _mm256_fmadd_ps(load8(w3 + k), xv, a3);
      }
      float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
      for (int64_t k = I8; k < I; ++k) {
        s0 += wval(w0, k) * xi[k], s1 += wval(w1, k) * xi[k];
        s2 += wval(w2, k) * xi[k], s3 += wval(w3, k) * xi[k];
      }
      float* yi = y + i * ldy + o;
      put(yi, s0, acc), put(yi + 1, s1, acc), put(yi + 2, s2, acc), put(yi + 3, s3, acc);
    }
  }
  for (; o < o1; ++o) {
    const WT* w = W + o * ldw;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      __m256 a = _mm256_setzero_ps();
      for (int64_t k = 0; k < I8; k += 8) a = _mm256_fmadd_ps(load8(w + k), _mm256_loadu_ps(xi + k), a);
      float s = hsum8(a);
      for (int64_t k = I8; k < I; ++k) s += wval(w, k) * xi[k];
      put(y + i * ldy + o, s, acc);
    }
  }
}

NANOSEEK_AVX2 float dot_avx2(const float* a, const float* b, int64_t n) {
  const int64_t n8 = n / 8 * 8;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t k = 0;
  for (; k + 16 <= n8; k += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), s1);
  }
  for (; k < n8; k += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
  float s = hsum8(_mm256_add_ps(s0, s1));
  for (; k < n; ++k) s += a[k] * b[k];
  return s;
}

template <typename WT>
NANOSEEK_AVX2 void axpy_avx2(float* y, float a, const WT* x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, load8(x + k), _mm256_loadu_ps(y + k)));
  for (; k < n; ++k) y[k] += a * wval(x, k);
}

// ---------------------------------------------------------------- AVX-512F/BW/VL (16 lanes, masked tails)

#define NANOSEEK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

NANOSEEK_AVX512 inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
NANOSEEK_AVX512 inline __m512 load16(const uint16_t* p, __mmask16 m) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
inline __mmask16 tail_mask(int64_t r) { return __mmask16((1u << r) - 1); }   // r in [0, 16)

template <typename WT>
NANOSEEK_AVX512 void rows_avx512(float* y, int64_t ldy, const float* x, int64_t ldx, const WT* W, int64_t ldw,
                                 int64_t n, int64_t I, int64_t o0, int64_t o1, bool acc) {
  const int64_t I16 = I / 16 * 16;
  const __mmask16 all = 0xFFFF, tail = tail_mask(I - I16);
  int64_t o = o0;
  for (; o + kRowBlock <= o1; o += kRowBlock) {
    const WT* w0 = W + o * ldw;
    const WT *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t k = 0; k < I16; k += 16) {
        const __m512 xv = _mm512_loadu_ps(xi + k);
        a0 = _mm512_fmadd_ps(load16(w0 + k, all), xv, a0);
        a1 = _mm512_fmadd_ps(load16(w1 + k, all), xv, a1);
        a2 = _mm512_fmadd_ps(load16(w2 + k, all), xv, a2);
        a3 = _mm512_fmadd_ps(load16(w3 + k, all), xv, a3);
      }
      if (tail) {
        const __m512 xv = _mm512_maskz_loadu_ps(tail, xi + I16);
        a0 = _mm512_fmadd_ps(load16(w0 + I16, tail), xv, a0);
        a1 = _mm512_fmadd_ps(load16(w1 + I16, tail), xv, a1);
        a2 = _mm512_fmadd_ps(load16(w2 + I16, tail), xv, a2);
        a3 = _mm512_fmadd_ps(load16(w3 + I16, tail), xv, a3);
      }
      float* yi = y + i * ldy + o;
      put(yi, _mm512_reduce_add_ps(a0), acc), put(yi + 1, _mm512_reduce_add_ps(a1), acc);
      put(yi + 2, _mm512_reduce_add_ps(a2), acc), put(yi + 3, _mm512_reduce_add_ps(a3), acc);
    }
  }
  for (; o < o1; ++o) {
    const WT* w = W + o * ldw;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      __m512 a = _mm512_setzero_ps();
      for (int64_t k = 0; k < I16; k += 16) a = _mm512_fmadd_ps(load16(w + k, all), _mm512_loadu_ps(xi + k), a);
      if (tail) a = _mm512_fmadd_ps(load16(w + I16, tail), _mm512_maskz_loadu_ps(tail, xi + I16), a);
      put(y + i * ldy + o, _mm512_reduce_add_ps(a), acc);
    }
  }
}

NANOSEEK_AVX512 float dot_avx512(const float* a, const float* b, int64_t n) {
  const int64_t n16 = n / 16 * 16;
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t k = 0;
  for (; k + 32 <= n16; k += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16), s1);
  }
  for (; k < n16; k += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
  if (const __mmask16 t = tail_mask(n - n16))
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, a + n16), _mm512_maskz_loadu_ps(t, b + n16), s1);
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

template <typename WT>
NANOSEEK_AVX512 void axpy_avx512(float* y, float a, const WT* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  const int64_t n16 = n / 16 * 16;
  for (int64_t k = 0; k < n16; k += 16)
    _mm512_storeu_ps(y + k, _mm512_fmadd_ps(av, load16(x + k, 0xFFFF), _mm512_loadu_ps(y + k)));
  if (const __mmask16 t = tail_mask(n - n16))
    _mm512_mask_storeu_ps(y + n16, t, _mm512_fmadd_ps(av, load16(x + n16, t), _mm512_maskz_loadu_ps(t, y + n16)));
}

// ---------------------------------------------------------------- drivers

// Splits the output rows into blocks of kRowBlock across threads (each y element is computed by one thread, in one
// order: the result does not depend on the thread count).
template <typename WT>
void gemv(float* y, int64_t ldy, const float* x, int64_t ldx, const WT* W, int64_t ldw, int64_t n, int64_t I,
          int64_t O, bool acc, Isa isa) {
  assert(isa <= best_isa());
  if (n <= 0 || O <= 0) return;
  const int64_t blocks = (O + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (worth_parallel(n * I * O) && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t o0 = b * kRowBlock, o1 = std::min(O, o0 + kRowBlock);
    switch (isa) {
      case Isa::Avx512: rows_avx512(y, ldy, x, ldx, W, ldw, n, I, o0, o1, acc); break;
      case Isa::Avx2: rows_avx2(y, ldy, x, ldx, W, ldw, n, I, o0, o1, acc); break;
      case Isa::Scalar: rows_scalar(y, ldy, x, ldx, W, ldw, n, I, o0, o1, acc); break;
    }
  }
}

template <typename WT>
using AxpyFn = void (*)(float*, float, const WT*, int64_t);
template <typename WT>
AxpyFn<WT> axpy_for(Isa isa) {
  assert(isa <= best_isa());
  return isa == Isa::Avx512 ? axpy_avx512<WT> : isa == Isa::Avx2 ? axpy_avx2<WT> : axpy_scalar<WT>;
}

// Column blocks of 64 across threads; within one, y_i += x[i,k]·W[k, block] for k in order (one order whatever the
// thread count).
template <typename WT>
void gemv_t(float* y, int64_t ldy, const float* x, int64_t ldx, const WT* W, int64_t ldw, int64_t n, int64_t K,
            int64_t N, bool acc, Isa isa) {
  if (n <= 0 || N <= 0) return;
  const AxpyFn<WT> axpy = axpy_for<WT>(isa);
  constexpr int64_t kCols = 64;
  const int64_t blocks = (N + kCols - 1) / kCols;
#pragma omp parallel for collapse(2) schedule(static) if (worth_parallel(n * K * N) && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t c0 = b * kCols, w = std::min(N, c0 + kCols) - c0;
      float* yi = y + i * ldy + c0;
      if (!acc) std::fill(yi, yi + w, 0.f);
      for (int64_t k = 0; k < K; ++k) axpy(yi, x[i * ldx + k], W + k * ldw + c0, w);
    }
}

Isa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Scalar;
}

}  // namespace

Isa best_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512f";
    case Isa::Avx2: return "avx2+fma";
    case Isa::Scalar: return "scalar";
  }
  return "?";
}

void gemv_f32(float* y, int64_t ldy, const float* x, int64_t ldx, const float* W, int64_t ldw, int64_t n, int64_t I,
              int64_t O, bool acc, Isa isa) {
  gemv(y, ldy, x, ldx, W, ldw, n, I, O, acc, isa);
}

void gemv_bf16(float* y, int64_t ldy, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw, int64_t n,
               int64_t I, int64_t O, bool acc, Isa isa) {
  gemv(y, ldy, x, ldx, W, ldw, n, I, O, acc, isa);
}

void gemv_t_f32(float* y, int64_t ldy, const float* x, int64_t ldx, const float* W, int64_t ldw, int64_t n,
                int64_t K, int64_t N, bool acc, Isa isa) {
  gemv_t(y, ldy, x, ldx, W, ldw, n, K, N, acc, isa);
}

void gemv_t_bf16(float* y, int64_t ldy, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw, int64_t n,
                 int64_t K, int64_t N, bool acc, Isa isa) {
  gemv_t(y, ldy, x, ldx, W, ldw, n, K, N, acc, isa);
}

float dot_f32(const float* a, const float* b, int64_t n, Isa isa) {
  assert(isa <= best_isa());
  return isa == Isa::Avx512 ? dot_avx512(a, b, n) : isa == Isa::Avx2 ? dot_avx2(a, b, n) : dot_scalar(a, b, n);
}

void axpy_f32(float* y, float a, const float* x, int64_t n, Isa isa) { axpy_for<float>(isa)(y, a, x, n); }

}  // namespace nanoseek
