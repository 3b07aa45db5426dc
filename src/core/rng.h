// Deterministic random numbers: splitmix64 for seeding, xoshiro256** as the generator. Same seed, same stream,
// on every platform and thread count (each consumer derives its own stream with derive()).
#pragma once
#include <cmath>
#include <cstdint>

namespace nanoseek {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed) {
    uint64_t s = seed;
    for (auto& x : s_) x = splitmix64(s);
  }
  // An independent stream for sub-task `id` (a tensor, a prompt, a sample).
  static Rng derive(uint64_t seed, uint64_t id) {
    uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (id + 1));
    return Rng(splitmix64(s));
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }                // [0, 1)
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }                     // [0, n) (bias < 2^-40 for small n)
  int64_t range(int64_t lo, int64_t hi) { return lo + int64_t(below(uint64_t(hi - lo + 1))); }  // [lo, hi]
  double normal() {                                                              // Box–Muller
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace nanoseek
